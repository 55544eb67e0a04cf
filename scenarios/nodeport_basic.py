"""The guide's NodePort example through the Python API, as a scenario script would use it.

Run: python scenarios/nodeport_basic.py [OUT_DIR]

Loads scenarios/nodeport-basic.yaml, simulates it, prints what the guide promises
(requests to <node IP>:30008 spread randomly over the three pods, on every node) and
saves the tables like `svcsim run` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import sim

HERE = Path(__file__).resolve().parent


def main(out: str = "runs/basic-py") -> None:
    scenario = sim.load_scenario(HERE / "nodeport-basic.yaml")
    svc = scenario.service("myapp-service")
    nodes = scenario.simulation.cluster.nodes
    print(f"Service {svc.name}: {svc.type} {svc.cluster_ip} {','.join(p.kubectl() for p in svc.ports)}")
    print("reachable at " + ", ".join(f"{n.ip}:{svc.ports[0].node_port}" for n in nodes))

    result = sim.simulate(scenario)
    requests = result.requests
    ok = requests[requests["outcome"] == "ok"]
    print(f"\n{len(requests)} requests, {len(ok)} ok, mean latency {ok['latency'].mean() * 1e3:.2f} ms")

    share = ok.groupby("pod", observed=True).size() / len(ok)
    print("\nshare of requests per pod (random balancing: 1/3 each):")
    for pod, value in share.items():
        info = result.summary["pods"][pod]
        print(f"  {pod}  {info['node']}  {info['ip']:<12} {value:.3f}  utilisation {info['utilisation']:.2f}")

    by_entry = ok.groupby("entry_node", observed=True).size() / len(ok)
    print("\nshare of requests per entry node (the laptop picks a node IP at random):")
    print(by_entry.round(3).to_string())
    hops = (ok["pod_node"] != ok["entry_node"]).mean()
    print(f"\nrequests that crossed to another node: {hops:.3f} (theory: 1 - 1/3 = 0.667)")

    path = result.save(out)
    print(f"\nsaved to {path}/")


if __name__ == "__main__":
    main(*sys.argv[1:2])
