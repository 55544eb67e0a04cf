"""Kernels compiled with numba, for loops numpy cannot vectorise (sequential recursions,
per-row accumulation without temporaries).

``compiled(function)`` is ``function`` compiled the first time it is asked for: numba
(0.35 s and about 110 MiB of LLVM) is imported then, not with svcsim, so ``svcsim validate``
and runs that never need a kernel do not pay for it. Kernels are cached on disk
(``cache=True``: compiled once per machine) under the user's cache folder, not beside the
modules (:func:`use_svcsim_cache`). A kernel is written as plain Python over
numpy arrays, with the same float operations in the same order as the numpy code or rule it
stands for, so results are equal bit for bit; each has a test against that reference.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["compiled", "use_svcsim_cache"]

F = TypeVar("F", bound=Callable[..., Any])
_kernels: dict[Callable[..., Any], Callable[..., Any]] = {}


def compiled(function: F) -> F:
    """``function`` compiled by numba (nopython, cached), compiled once per process."""
    kernel = _kernels.get(function)
    if kernel is None:
        use_svcsim_cache()
        import numba  # noqa: PLC0415 (imported when first needed: see the module's docstring)

        kernel = _kernels[function] = numba.njit(cache=True, nogil=True)(function)
    return kernel  # type: ignore[return-value]


def use_svcsim_cache() -> None:
    """Point numba's on-disk cache at ``$XDG_CACHE_HOME/svcsim/numba`` (default
    ``~/.cache/svcsim/numba``) unless ``NUMBA_CACHE_DIR`` is set; call before numba is imported.

    By default numba writes its cache into ``__pycache__`` beside the modules, inside
    site-packages for a plain ``pip install``: ``pip install -e`` over it then left a ``sim``
    folder of cache files there that hid the editable package. A folder that cannot be made
    leaves numba's default."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "svcsim" / "numba"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
