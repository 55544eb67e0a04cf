"""Shared test configuration: the hypothesis profiles (see ``tests/examples.py``).

``svcsim`` is the default profile; ``svcsim-long`` (``SVCSIM_LONG_TESTS=1``) raises the
default example count by the same factor that :func:`examples.examples` applies to the
tests that set their own count. Neither profile sets a deadline: a run's time depends on
the load drawn, not on the code under test.
"""

from __future__ import annotations

from examples import LONG_FACTOR, long_tests, profile_name
from hypothesis import settings

settings.register_profile("svcsim", deadline=None)
settings.register_profile("svcsim-long", parent=settings.get_profile("svcsim"), max_examples=100 * LONG_FACTOR)
settings.load_profile(profile_name())


def pytest_report_header() -> str:
    factor = LONG_FACTOR if long_tests() else 1
    return f"hypothesis profile: {profile_name()} (examples x{factor}; SVCSIM_LONG_TESTS=1 for the long profile)"
