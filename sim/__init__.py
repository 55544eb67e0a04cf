"""svcsim: a discrete-event simulator of Kubernetes Service networking.

The public API for scripts and notebooks::

    import sim
    scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")
    result = sim.simulate(scenario, seed=42)
    result.requests      # one row per request (pandas)
    result.timeline      # one row per change in pods and endpoints
    result.summary       # counts, latency percentiles, throughput, per-pod load
    result.save("runs/basic")

The package is layered; each layer imports only those before it (``tests/test_layers.py``):

- vocabulary: ``units``, ``distributions``, ``randomness``, ``errors``, ``version``,
  ``endpoint_choice`` (kube-proxy's and the balancers' endpoint-choice strategies);
- :mod:`sim.kube`: Kubernetes objects, their defaults and validation;
- :mod:`sim.scenario`: the scenario file read, resolved and checked;
- :mod:`sim.runtime`: the run (control plane, dataplanes, pods, the request path);
- :mod:`sim.results`: tables, summary, kubectl views, report, plots;
- entry points: ``api`` (this module's functions), ``plots``, ``cli``, ``bench``.
"""

from sim.api import load_result, load_scenario, simulate
from sim.errors import Problem, ScenarioError
from sim.results.result import Result
from sim.scenario.resolved import Scenario
from sim.version import VERSION

__all__ = ["Problem", "Result", "Scenario", "ScenarioError", "load_result", "load_scenario", "simulate"]
__version__ = VERSION
