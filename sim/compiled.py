"""Kernels compiled with numba, for loops numpy cannot vectorise (sequential recursions,
per-row accumulation without temporaries).

``compiled(function)`` is ``function`` compiled the first time it is asked for: numba
(0.35 s and about 110 MiB of LLVM) is imported then, not with svcsim, so ``svcsim validate``
and runs that never need a kernel do not pay for it. Kernels are cached on disk
(``cache=True``: compiled once per machine). A kernel is written as plain Python over
numpy arrays, with the same float operations in the same order as the numpy code or rule it
stands for, so results are equal bit for bit; each has a test against that reference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["compiled"]

F = TypeVar("F", bound=Callable[..., Any])
_kernels: dict[Callable[..., Any], Callable[..., Any]] = {}


def compiled(function: F) -> F:
    """``function`` compiled by numba (nopython, cached), compiled once per process."""
    kernel = _kernels.get(function)
    if kernel is None:
        import numba  # noqa: PLC0415 (imported when first needed: see the module's docstring)

        kernel = _kernels[function] = numba.njit(cache=True, nogil=True)(function)
    return kernel  # type: ignore[return-value]
