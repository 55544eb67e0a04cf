"""The run: a resolved scenario wired into a SimPy environment. The control plane (ReplicaSets,
pod scheduling, EndpointSlices, kube-proxy syncs), the topology graph, each node's dataplane,
load balancers, pods, and :mod:`sim.runtime.requests` (the request path and its engines).

May import: :mod:`sim.scenario`, :mod:`sim.kube` and the vocabulary; never :mod:`sim.results`.
It hands back a :class:`~sim.runtime.run.RunRecord`; tables are the results layer's job.
"""
