"""
``pserv``: the operator's command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pserv import __version__
from pserv.cli_support import OneLineParser
from pserv.client.parser import add_client_commands, is_client_command


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv`` argument parser.
    """
    parser = OneLineParser(
        prog="pserv",
        description="Bare-metal power control that does not lose an operator's intent.",
    )
    parser.add_argument("--version", action="version", version=f"pserv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run a whole pserv on this machine: region, cluster, emulated BMCs and PDU")
    demo.add_argument("--nodes", type=int, default=4, help="how many emulated IPMI BMCs (4)")
    demo.add_argument("--listen", default="127.0.0.1:5240", help="HOST:PORT for the API (127.0.0.1:5240)")
    demo.add_argument("--rpc-listen", dest="rpc_listen", default="127.0.0.1:5250",
                      help="HOST:PORT for the cluster RPC (127.0.0.1:5250)")
    demo.add_argument("--data-dir", dest="data_dir", type=Path, help="keep the region's data here (a new temporary directory)")
    demo.add_argument("--no-tour", dest="tour", action="store_false", help="skip the tour through the API")
    demo.add_argument("--exit", dest="stay", action="store_false", help="stop after the tour instead of serving")
    demo.add_argument("--registry", action="store_true",
                      help="instead: the power-action registry alone on in-memory BMCs, narrated")
    demo.add_argument("--seed", type=int, default=1, help="with --registry: seed for its choices")
    add_client_commands(parser, commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv``; returns the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(parser, args)
    if is_client_command(args):
        from pserv.client.runner import run_client

        return run_client(args)
    parser.print_help()
    return 0


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    if args.registry:
        from pserv.registry_demo import run_demo as run_registry_demo

        return run_registry_demo(nodes=args.nodes, seed=args.seed)
    from pserv.demo import DemoOptions, run_demo

    options = DemoOptions(nodes=args.nodes, listen=args.listen, rpc_listen=args.rpc_listen,
                          data_dir=args.data_dir, tour=args.tour, stay=args.stay)
    return run_demo(options)


if __name__ == "__main__":
    sys.exit(main())
