"""svcsim: a discrete-event simulator of Kubernetes Service networking.

The public API for scripts and notebooks::

    import sim
    scenario = sim.load_scenario("scenarios/nodeport-basic.yaml")
    result = sim.simulate(scenario, seed=42)
    result.requests      # one row per request (pandas)
    result.timeline      # one row per change in pods and endpoints
    result.summary       # counts, latency percentiles, throughput, per-pod load
    result.save("runs/basic")
"""

from sim.engine import simulate
from sim.errors import Problem, ScenarioError
from sim.results import Result, load_result
from sim.scenario import Scenario, load_scenario

__all__ = ["Problem", "Result", "Scenario", "ScenarioError", "load_result", "load_scenario", "simulate"]
__version__ = "0.1.0"
