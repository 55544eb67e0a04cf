"""The request path's rules, once, for both engines.

Every function takes one request (scalars) or many (numpy arrays) alike, so the batch engine
calls them on a whole batch and the event engine on one request, and the two cannot drift.
The event engine is the reference semantics; the batch engine is its fast path for the
stateless case (see :mod:`sim.runtime.requests.engine_choice`).

The draw contract: which random stream each step consumes, and when. Both engines consume
every stream in the same order, so a scenario both can run gives identical results
(``tests/test_engines_agree.py`` checks it on generated scenarios).

- ``client/<name>/arrivals``: send times, in blocks, in send order (:func:`arrival_stream`
  in :mod:`sim.runtime.requests.clients`): one exponential draw per ``poisson`` send (mapped
  through the rate profile's inverse cumulative intensity unless the rate is constant from
  time 0), none for ``constant`` arrivals; blocks go on being drawn past ``stop``, whose
  sends are ``inf``.
- ``client/<name>/source-ip``, ``/entry``, ``/link-out``, ``/link-back``: one draw each per
  request at send time, in send order, for the requests that use them (a source address only
  when ``ips > 1``; an entry node only ``via: nodePort``; links for the ways that cross them).
- ``node/<name>/kube-proxy``: one uniform draw per new connection that has an endpoint to
  choose from (iptables/nftables, or a balancer's ``random``), in the order connections reach
  the node, (time, request id); none when the rules REJECT or DROP, or conntrack or session
  affinity decides.
- ``node/<name>/hop-out``, ``/hop-back``: one draw each per connection routed at that node,
  in the same order, used only when the pod is on another node (:func:`pod_hop`).
- ``deployment/<name>/service`` (per pod): one service time per request a pod takes, in the
  order the pod's FIFO queue takes them (:func:`fifo_starts`).
- ``lb/<service>/choice``, ``/latency-out``, ``/latency-back``: per connection reaching the
  balancer, in time order (event engine only).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

__all__ = ["fifo_starts", "pod_hop"]


def pod_hop(entry_node: Any, pod_node: Any, hop_out: Any, hop_back: Any) -> tuple[Any, Any]:
    """The extra way out and back when the chosen pod runs on another node than the entry node.

    kube-proxy DNATs to the pod and SNATs to the entry node, so the reply returns through it:
    a cross-node pod costs one node hop each way, a local one nothing
    (docs/semantics.md#kube-proxy-dataplane). Multiplying by the boolean keeps the drawn hop
    bit for bit where it applies and gives exactly 0.0 where it does not.

    >>> pod_hop(0, 1, 0.2, 0.3), pod_hop(1, 1, 0.2, 0.3)
    ((0.2, 0.3), (0.0, 0.0))
    """
    cross = pod_node != entry_node
    return hop_out * cross, hop_back * cross


def fifo_starts(free: list[float], arrivals: Sequence[float], service: Sequence[float]) -> list[float]:
    """Start times of requests taken in FIFO order by workers free at ``free`` (a min-heap,
    updated in place): Lindley's recursion for c workers, start = max(arrival, earliest free).

    One worker is the common case and is kept as a plain float; the rule is the same.

    >>> free = [0.0, 0.0]
    >>> fifo_starts(free, [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]), sorted(free)
    ([0.0, 0.0, 1.0], [2.0, 2.0])
    """
    starts = [0.0] * len(arrivals)
    if len(free) == 1:
        at = free[0]
        for i, arrive in enumerate(arrivals):
            at = arrive if arrive > at else at
            starts[i] = at
            at += service[i]
        free[0] = at
        return starts
    for i, arrive in enumerate(arrivals):
        earliest = free[0]
        begin = arrive if arrive > earliest else earliest
        starts[i] = begin
        heapq.heapreplace(free, begin + service[i])
    return starts
