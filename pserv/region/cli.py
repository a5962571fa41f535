"""
``pserv-region``: the region controller's command.
"""

from __future__ import annotations

import argparse
import sys

from pserv.cli_support import OneLineParser


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv-region`` argument parser.
    """
    parser = OneLineParser(
        prog="pserv-region",
        description="The pserv region controller: the store of intent and the REST API.",
    )
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv-region``; returns the exit status.
    """
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
