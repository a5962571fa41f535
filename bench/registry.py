"""
Push a mix of power requests for 10,000 nodes through the registry with a
zero-latency fake driver on a Clock, and print the throughput and the
memory an idle node costs.

Each round gives every node a burst of eight requests that exercise the
decision table: a power request, a duplicate that coalesces, a query that
rides it, a conflicting request that supersedes it, a duplicate of that
(joins the waiting action), a different one that replaces the waiting
action, a query that rides the waiting one, and a duplicate of the newest.
Then the clock runs until every action is verified and done.  The figure
counts requests, including all the work of the actions they cause, per
second of this process's CPU time (one core, whatever else the machine is
running).

Usage: python bench/registry.py [--nodes N] [--rounds R] [--gc-threshold N]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from pserv.power.registry import PowerActionRegistry
from pserv.power.states import PowerState
from pserv.testing.power import FakeBMC, HeapClock, advance_until_idle

BURSTS = (
    ("on", "on", "query", "off", "off", "cycle", "query", "cycle"),
    ("off", "off", "query", "on", "on", "soft_off", "query", "soft_off"),
)


def run_round(registry, clock, nodes, bmcs, burst):
    requests = 0
    for node, bmc in zip(nodes, bmcs):
        for kind in burst:
            registry.request(node, kind, bmc)
        requests += len(burst)
    advance_until_idle(clock)
    return requests


def measure_throughput(count: int, rounds: int) -> tuple[float, int]:
    clock = HeapClock()
    registry = PowerActionRegistry(clock)
    nodes = [f"node-{n}" for n in range(count)]
    bmcs = [FakeBMC(clock, node, power=PowerState.OFF, shutdown_time=0) for node in nodes]
    gc.collect()
    started = time.process_time()
    requests = 0
    for r in range(rounds):
        requests += run_round(registry, clock, nodes, bmcs, BURSTS[r % 2])
    elapsed = time.process_time() - started
    return requests / elapsed, requests


def measure_idle_bytes(count: int) -> float:
    """Memory the registry holds per node once every node is idle again."""
    clock = HeapClock()
    nodes = [f"node-{n}" for n in range(count)]
    bmcs = [FakeBMC(clock, node, power=PowerState.OFF) for node in nodes]
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    registry = PowerActionRegistry(clock)
    run_round(registry, clock, nodes, bmcs, BURSTS[0])
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    assert not registry.busy_nodes()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return grown / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=None,
        help="set the young generation's collection threshold (Python's default: 700)",
    )
    args = parser.parse_args()
    if args.gc_threshold is not None:
        gc.set_threshold(args.gc_threshold, 50, 100)
    rate, requests = measure_throughput(args.nodes, args.rounds)
    idle = measure_idle_bytes(args.nodes)
    print(f"gc_thresholds: {gc.get_threshold()}")
    print(f"nodes: {args.nodes}")
    print(f"requests: {requests}")
    print(f"requests_per_second: {rate:.0f}")
    print(f"bytes_per_idle_node: {idle:.0f}")


if __name__ == "__main__":
    main()
