"""How many examples hypothesis tests generate: one place to change it.

The default profile keeps the suite fast enough for every push; ``SVCSIM_LONG_TESTS=1``
selects the long profile, five times as many examples per test, for a nightly or
pre-release run::

    SVCSIM_LONG_TESTS=1 python -m pytest -q tests/test_engines_agree.py

``tests/conftest.py`` registers both profiles with hypothesis and loads the one chosen.
"""

from __future__ import annotations

import os

__all__ = ["LONG_FACTOR", "examples", "long_tests", "profile_name"]

#: How many times more examples the long profile runs.
LONG_FACTOR = 5


def long_tests() -> bool:
    """Whether the long profile was asked for (``SVCSIM_LONG_TESTS=1``)."""
    return os.environ.get("SVCSIM_LONG_TESTS", "") == "1"


def profile_name() -> str:
    """The hypothesis profile in force: ``"svcsim-long"`` or ``"svcsim"``."""
    return "svcsim-long" if long_tests() else "svcsim"


def examples(n: int) -> int:
    """``n`` examples in the default profile, ``LONG_FACTOR * n`` in the long one."""
    return n * LONG_FACTOR if long_tests() else n
