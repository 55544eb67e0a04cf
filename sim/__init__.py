"""svcsim: a discrete-event simulator of Kubernetes Service networking.

The public API for scripts and notebooks::

    import sim
    scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")
    scenario = scenario.with_changes({"deployment/myapp.spec.replicas": 5})  # checked again in full
    result = sim.simulate(scenario, seed=42)
    result.requests      # one row per request (pandas)
    result.timeline      # one row per change in pods and endpoints
    result.summary       # counts, latency percentiles, throughput, per-pod load
    result.save("runs/basic")
    sim.compare([result, other])  # runs side by side, with differences

The package is layered; each layer imports only those before it (``tests/test_layers.py``):

- vocabulary: ``units``, ``distributions``, ``randomness``, ``errors``, ``version``,
  ``endpoint_choice`` (kube-proxy's and the balancers' endpoint-choice strategies);
- :mod:`sim.kube`: Kubernetes objects, their defaults and validation;
- :mod:`sim.scenario`: the scenario file read, resolved and checked;
- :mod:`sim.runtime`: the run (control plane, dataplanes, pods, the request path);
- :mod:`sim.results`: tables, summary, kubectl views, report, plots;
- :mod:`sim.experiments`: many runs of a scenario (replications, the capacity planner) with
  confidence intervals;
- entry points: ``api`` (this module's functions), ``plots``, ``cli`` (with ``interrupts``), ``bench``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

from sim.version import VERSION

if TYPE_CHECKING:
    from sim.api import compare, load_result, load_scenario, simulate
    from sim.errors import Problem, ScenarioError
    from sim.experiments.plan import plan
    from sim.experiments.plan_result import Plan
    from sim.experiments.replications import Replications, load_replications, replicate
    from sim.experiments.sweep import Sweep, load_sweep, sweep
    from sim.results.comparison import Comparison
    from sim.results.result import Result
    from sim.scenario.resolved import Scenario

__all__ = [
    "Comparison",
    "Plan",
    "Problem",
    "Replications",
    "Result",
    "Scenario",
    "ScenarioError",
    "Sweep",
    "compare",
    "load_replications",
    "load_result",
    "load_scenario",
    "load_sweep",
    "plan",
    "replicate",
    "simulate",
    "sweep",
]
__version__ = VERSION

# Loaded on first use, so that ``python -m sim`` and the ``svcsim`` script can trap Ctrl-C
# and SIGTERM before pandas, matplotlib and SimPy load (sim/__main__.py).
_HOMES = {
    "compare": "sim.api",
    "Comparison": "sim.results.comparison",
    "load_result": "sim.api",
    "load_scenario": "sim.api",
    "simulate": "sim.api",
    "Problem": "sim.errors",
    "ScenarioError": "sim.errors",
    "Result": "sim.results.result",
    "Replications": "sim.experiments.replications",
    "replicate": "sim.experiments.replications",
    "load_replications": "sim.experiments.replications",
    "plan": "sim.experiments.plan",
    "Plan": "sim.experiments.plan_result",
    "Sweep": "sim.experiments.sweep",
    "sweep": "sim.experiments.sweep",
    "load_sweep": "sim.experiments.sweep",
    "Scenario": "sim.scenario.resolved",
}


def __getattr__(name: str) -> Any:
    """The public API and the subpackages (``sim.results``, ``sim.plots``...), on first use.

    The first use loads all that ``import sim`` used to load at once (``sim.api`` and what
    it imports), so ``sim.results.result`` and the like are there as before.
    """
    importlib.import_module("sim.api")
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    if name in globals():  # a subpackage sim.api imported
        return globals()[name]
    if not name.startswith("_") and importlib.util.find_spec(f"sim.{name}") is not None:
        return importlib.import_module(f"sim.{name}")
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
