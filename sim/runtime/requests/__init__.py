"""The request path: clients send, kube-proxy (or a load balancer) chooses an endpoint, a pod
serves. The rules live once in :mod:`~sim.runtime.requests.rules` and
:mod:`~sim.runtime.requests.outcomes`; the batch engine (vectorised) and the event engine
(one request at a time, the reference semantics) are two ways of scheduling them.

May import: the rest of :mod:`sim.runtime` and the layers below it.
"""
