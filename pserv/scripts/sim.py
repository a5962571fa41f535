"""
``python -m pserv.sim``: run one simulated world, or many seeds in turn.

    python -m pserv.sim --seed 7 --steps 300
    python -m pserv.sim --seed 0 --seeds 10000 --faults all
    python -m pserv.sim --seed 7 --faults cluster-crash=0.05,bmc-hang --trace

Exit 0 when every invariant held, 1 when one broke (each failing seed is
printed with the command that replays it), 2 for bad arguments.
"""

from __future__ import annotations

import json
import sys
from typing import Callable, Sequence

from twisted.logger import formatEvent, globalLogBeginner

from pserv.scripts.support import OneLineParser
from pserv.sim.faults import FAULTS, parse_faults
from pserv.sim.world import Result, Shape, World


def parser() -> OneLineParser:
    """The command line."""
    p = OneLineParser(prog="python -m pserv.sim", description="Run pserv in a deterministic simulated world.")
    p.add_argument("--seed", type=int, default=0, help="the world's seed (the first one with --seeds)")
    p.add_argument("--seeds", type=int, default=1, metavar="COUNT", help="run COUNT seeds from --seed on")
    p.add_argument("--steps", type=int, default=Shape.steps, help="seconds of chaos (default %(default)s)")
    p.add_argument("--nodes", type=int, default=Shape.nodes, help="nodes at the start (default %(default)s)")
    p.add_argument("--clusters", type=int, default=Shape.clusters, help="clusters (default %(default)s)")
    p.add_argument("--regions", type=int, default=Shape.regions, help="regions on the one database (default %(default)s)")
    p.add_argument("--grouped", type=int, default=Shape.grouped, metavar="COUNT",
                   help="how many of the clusters are members of the group row-a (default %(default)s; 0 for none)")
    p.add_argument("--faults", default="all", help="all, none, or NAME[=P],... from: " + ", ".join(FAULTS))
    p.add_argument("--skew", type=float, default=Shape.skew, metavar="SECONDS",
                   help="each process's clock is off by up to this, either way (default %(default)s; 0 for none)")
    p.add_argument("--trace", action="store_true", help="print every event of the run")
    return p


def replay_command(seed: int, argv: Sequence[str]) -> str:
    """The command that replays ``seed`` with the other arguments of ``argv``."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--seed", "--seeds"):
            skip = True
        elif not arg.startswith(("--seed=", "--seeds=")) and arg != "--trace":
            kept.append(arg)
    return " ".join(["python -m pserv.sim", "--seed", str(seed), *kept])


def run_seed(seed: int, shape: Shape, faults: dict[str, float], trace: bool = False) -> Result:
    """Run the world of one seed."""
    return World(seed, shape, faults, trace=print if trace else None).run()


def _log_to(write: Callable[[str], object] | None) -> None:
    """
    The daemons' log lines go into the trace, or nowhere: a fault's
    expected complaints (a recovery cut short, say) are not findings.
    """
    def observe(event: dict) -> None:
        if write is not None:
            write(f"{'':12} log: {formatEvent(event)}")

    globalLogBeginner.beginLoggingTo([observe], redirectStandardIO=False)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    try:
        faults = parse_faults(args.faults)
    except ValueError as e:
        parser().error(str(e))
    if args.grouped < 0:
        parser().error("--grouped: must be at least 0")
    for name in ("steps", "nodes", "clusters", "regions", "seeds"):
        if getattr(args, name) < 1:
            parser().error(f"--{name}: must be at least 1")
    if not 0 <= args.skew <= 3600:
        parser().error("--skew: must be from 0 to 3600 seconds")
    shape = Shape(steps=args.steps, nodes=args.nodes, clusters=args.clusters, regions=args.regions,
                  grouped=args.grouped, skew=args.skew)
    _log_to(print if args.trace else None)
    failed = []
    for seed in range(args.seed, args.seed + args.seeds):
        result = run_seed(seed, shape, faults, args.trace)
        if args.seeds == 1:
            print(json.dumps({"seed": seed, **result.summary, "digest": result.digest}, indent=2))
        if not result.ok:
            failed.append(seed)
            print(f"seed {seed} FAILED; replay: {replay_command(seed, argv)}", flush=True)
            for violation in result.violations[:10]:
                print(f"  {violation}")
    if args.seeds > 1:
        print(f"{args.seeds - len(failed)} of {args.seeds} seeds held every invariant")
    return 1 if failed else 0
