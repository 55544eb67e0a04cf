"""What a run produces: tidy tables and the summary computed from them, saving and loading a
run folder, kubectl's views, the HTML report and :mod:`sim.results.plots`.

May import: every layer below (runtime, scenario, kube, vocabulary); only the entry points
(``sim.api``, ``sim.cli``, ``sim.bench``) import it.
"""
