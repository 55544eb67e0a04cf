"""The compiled FIFO kernels give the Python rule's start times and heap, bit for bit."""

from __future__ import annotations

import heapq

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.runtime.requests.fifo_kernels import fifo_starts_array
from sim.runtime.requests.rules import fifo_starts

times = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
durations = st.floats(min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    free=st.lists(times, min_size=1, max_size=9),
    arrivals=st.lists(times, min_size=0, max_size=200),
    data=st.data(),
)
def test_kernel_equals_rule(free: list[float], arrivals: list[float], data: st.DataObject) -> None:
    arrivals = sorted(arrivals)
    service = data.draw(st.lists(durations, min_size=len(arrivals), max_size=len(arrivals)))
    heapq.heapify(free)
    by_rule, by_kernel = list(free), list(free)
    expected = fifo_starts(by_rule, arrivals, service)
    got = fifo_starts_array(by_kernel, np.array(arrivals, dtype=float), np.array(service, dtype=float))
    assert got.tolist() == expected  # equal floats, not close ones
    assert by_kernel == by_rule  # the same heap, element by element


def test_kernel_queues_behind_busy_workers() -> None:
    # Two workers free at 0 and 5; three arrivals at 1: the second waits for the first to leave at 3.
    free = [0.0, 5.0]
    starts = fifo_starts_array(free, np.array([1.0, 1.0, 1.0]), np.array([2.0, 1.0, 1.0]))
    assert starts.tolist() == [1.0, 3.0, 4.0]
    assert sorted(free) == [5.0, 5.0]


def test_numba_caches_under_the_users_cache_folder_not_in_the_package(monkeypatch, tmp_path):
    """A plain `pip install .` left numba's cache files in site-packages/sim/…/__pycache__, and a
    later `pip install -e` kept that folder, which hid the editable package."""
    from sim.compiled import use_svcsim_cache

    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    use_svcsim_cache()
    import os

    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "svcsim" / "numba")
    assert (tmp_path / "svcsim" / "numba").is_dir()
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/elsewhere")
    use_svcsim_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == "/elsewhere"  # the user's own choice stays
