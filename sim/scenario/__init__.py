"""A scenario file becomes a checked, resolved :class:`~sim.scenario.resolved.Scenario`: reading the
YAML, the ``svcsim/v1alpha1 Simulation`` document, defaults, addresses, cross-checks between
documents, and the resolved manifest saved with every run.

May import: :mod:`sim.kube` and the vocabulary. Knows nothing of the run or its results.
"""
