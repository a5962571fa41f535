"""
``pserv``: the operator's command.
"""

from __future__ import annotations

import argparse
import sys

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
    demo = commands.add_parser("demo", help="run the demonstration on emulated BMCs")
    demo.add_argument("--nodes", type=int, default=4, help="how many emulated nodes")
    demo.add_argument("--seed", type=int, default=1, help="seed for the demo's choices")
    add_client_commands(parser, commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv``; returns the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        if args.nodes < 1:
            parser.error("--nodes must be at least 1")
        from pserv.demo import run_demo

        return run_demo(nodes=args.nodes, seed=args.seed)
    if is_client_command(args):
        from pserv.client.runner import run_client

        return run_client(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
