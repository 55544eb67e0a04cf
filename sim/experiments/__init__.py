"""Experiments: many runs of a scenario turned into one answer with its uncertainty.

A run here is a scenario and a seed in, a small flat dict of metrics out
(:func:`sim.experiments.metrics.run_one`), so the runs can go to any executor (a serial loop,
or Dask workers: :mod:`~sim.experiments.dask_executor`) and come back in any order.
:mod:`~sim.experiments.seeds` derives each run's seed, :mod:`~sim.experiments.confidence`
aggregates the metrics with Student-t intervals and :mod:`~sim.experiments.replications`
puts them together (``sim.replicate``).

This layer sits above :mod:`sim.results` (a run's summary is computed there) and below the
entry points (``sim.api``, ``sim.cli``): it may import results, runtime, scenario, kube and
the vocabulary, never an entry point.
"""
