"""The pod's push-back rule against an independent oracle.

:func:`sim.runtime.requests.rules.fifo_admit` decides each arrival at once from two heaps
(workers' free times, times requests leave the pod). The oracle below is written the
obvious way instead: a FIFO queue in front of c servers, replayed event by event, where a
waiting request is dropped only when a server frees and finds its client gone. Both must
give every request the same fate and start time (exact float equality), for any limits, ties
and patience; hypothesis draws the cases (derandomized, so CI is reproducible).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator

from examples import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.runtime.requests.rules import ADMITTED, CANCELLED, FULL, OVER_CONNECTIONS, PodLimits, fifo_admit

INF = math.inf


def oracle(
    workers: int, limits: PodLimits, arrivals: list[float], cancel_at: list[float], service: Iterator[float]
) -> tuple[list[int], list[float]]:
    """Fates and start times by replaying the queue: servers free up, the head of the queue
    starts (or, gone, is dropped), arrivals count who is still in the pod."""
    n = len(arrivals)
    fates: list[int] = [-1] * n
    starts = [math.nan] * n
    busy: list[float] = []  # finish times of the requests in service
    waiting: deque[int] = deque()

    def free_servers_until(t: float) -> None:
        """Hand servers that free at or before ``t`` to the head of the queue, in time order."""
        while waiting and len(busy) == workers and min(busy) <= t:
            freed = min(busy)
            busy.remove(freed)
            while waiting and limits.drop and cancel_at[waiting[0]] < freed:
                fates[waiting.popleft()] = CANCELLED  # its client left before a server was free
            if waiting:
                head = waiting.popleft()
                starts[head], fates[head] = freed, ADMITTED
                busy.append(freed + next(service))

    for i, t in enumerate(arrivals):
        free_servers_until(t)
        if not waiting:
            busy[:] = [b for b in busy if b > t]  # idle servers
        in_service = sum(1 for b in busy if b > t)
        queued = sum(1 for w in waiting if not limits.drop or cancel_at[w] > t)
        present = in_service + queued
        if limits.max_connections is not None and present >= limits.max_connections:
            fates[i] = OVER_CONNECTIONS
        elif limits.queue_limit is not None and present - workers >= limits.queue_limit:
            fates[i] = FULL
        elif len(busy) < workers and not waiting:
            starts[i], fates[i] = t, ADMITTED
            busy.append(t + next(service))
        else:
            waiting.append(i)
    free_servers_until(INF)
    return fates, starts


TIMES = st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0])  # ties on purpose


@settings(max_examples=examples(400), deadline=None, derandomize=True, database=None)
@given(
    workers=st.integers(1, 3),
    queue_limit=st.one_of(st.none(), st.integers(0, 3)),
    max_connections=st.one_of(st.none(), st.integers(1, 6)),
    drop=st.booleans(),
    gaps=st.lists(TIMES, min_size=1, max_size=40),
    patience=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.5, INF]), min_size=40, max_size=40),
    services=st.lists(st.sampled_from([0.5, 1.0, 2.0, 3.5]), min_size=40, max_size=40),
)
def test_fifo_admit_matches_a_replayed_queue(workers, queue_limit, max_connections, drop, gaps, patience, services):
    arrivals, t = [], 0.0
    for gap in gaps:
        t += gap
        arrivals.append(t)
    cancel = [a + p for a, p in zip(arrivals, patience, strict=False)]
    limits = PodLimits(queue_limit, max_connections, drop)
    expected_fates, expected_starts = oracle(workers, limits, arrivals, cancel, iter(services))
    draws = iter(services)
    fates, starts, _ = fifo_admit([0.0] * workers, [], limits, arrivals, cancel, lambda: next(draws))
    assert fates == expected_fates
    assert [s for s in starts if not math.isnan(s)] == [s for s in expected_starts if not math.isnan(s)]
    assert all(math.isnan(a) == math.isnan(b) for a, b in zip(starts, expected_starts, strict=True))
