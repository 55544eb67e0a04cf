"""Shared test configuration: the hypothesis profiles (see ``tests/examples.py``).

``svcsim`` is the default profile; ``svcsim-long`` (``SVCSIM_LONG_TESTS=1``, or ``pytest --hypothesis-profile=long``) raises the
default example count by the same factor that :func:`examples.examples` applies to the
tests that set their own count. Neither profile sets a deadline: a run's time depends on
the load drawn, not on the code under test.
"""

from __future__ import annotations

import os

from examples import LONG_FACTOR, long_tests, profile_name
from hypothesis import settings

settings.register_profile("svcsim", deadline=None)
settings.register_profile("svcsim-long", parent=settings.get_profile("svcsim"), max_examples=100 * LONG_FACTOR)
# ``pytest --hypothesis-profile=long`` is the same as SVCSIM_LONG_TESTS=1.
settings.register_profile("long", parent=settings.get_profile("svcsim-long"))
settings.load_profile(profile_name())


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    if config.getoption("hypothesis_profile", None) == "long":
        os.environ["SVCSIM_LONG_TESTS"] = "1"  # read by examples.examples() as test modules load


def pytest_report_header() -> str:
    factor = LONG_FACTOR if long_tests() else 1
    return f"hypothesis profile: {profile_name()} (examples x{factor}; SVCSIM_LONG_TESTS=1 for the long profile)"
