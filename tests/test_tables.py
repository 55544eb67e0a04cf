"""The compiled per-pod kernel of pod_table equals the numpy expressions it replaced, bit for bit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.compiled import compiled
from sim.results.tables import _pod_work


def numpy_pod_work(pod, start, service_s, end_cap, warmup_s, duration_s):
    """The numpy form pod_table used before the kernel (np.bincount over per-row expressions)."""
    n = len(end_cap)
    has_pod = pod >= 0
    count = np.bincount(pod[has_pod], minlength=n)
    served = has_pod & ~np.isnan(start)
    idx = pod[served]
    begin = np.clip(start[served], warmup_s, duration_s)
    finish = np.minimum(start[served] + service_s[served], end_cap[idx])
    each = np.clip(np.minimum(finish, duration_s) - begin, 0.0, None)
    return count, np.bincount(idx, weights=each, minlength=n)


times = st.one_of(st.floats(0, 100, allow_nan=False), st.just(float("nan")))
caps = st.one_of(st.floats(0, 100, allow_nan=False), st.just(float("inf")))


@settings(max_examples=300, deadline=None)
@given(
    pods=st.integers(1, 6),
    rows=st.lists(st.tuples(st.integers(-1, 5), times, st.floats(0, 30, allow_nan=False)), max_size=300),
    caps_=st.lists(caps, min_size=6, max_size=6),
    window=st.tuples(st.floats(0, 50), st.floats(0, 60)),
)
def test_kernel_equals_the_numpy_form(pods, rows, caps_, window):
    pod = np.array([min(r[0], pods - 1) for r in rows], dtype=np.int32)
    start = np.array([r[1] for r in rows], dtype=float)
    service_s = np.array([r[2] for r in rows], dtype=float)
    end_cap = np.array(caps_[:pods], dtype=float)
    warmup_s, duration_s = min(window), max(window)
    count, busy = compiled(_pod_work)(pod, start, service_s, end_cap, warmup_s, duration_s)
    want_count, want_busy = numpy_pod_work(pod, start, service_s, end_cap, warmup_s, duration_s)
    assert count.tolist() == want_count.tolist()
    assert busy.tolist() == want_busy.tolist()  # equal floats, summed in the same order


def test_busy_time_is_cut_to_the_window_and_the_pods_end():
    # Pod 0 serves [1, 3] and [8, 14]; the window is [2, 12]; pod 0 went at 10. Pod 1 never started its one.
    count, busy = compiled(_pod_work)(
        np.array([0, 0, 1], dtype=np.int32),
        np.array([1.0, 8.0, np.nan]),
        np.array([2.0, 6.0, 1.0]),
        np.array([10.0, np.inf]),
        2.0,
        12.0,
    )
    assert count.tolist() == [2, 1] and busy.tolist() == [1.0 + 2.0, 0.0]
