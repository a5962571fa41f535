"""
``pserv-cluster``: the cluster daemon's command.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv-cluster`` argument parser.
    """
    parser = argparse.ArgumentParser(
        prog="pserv-cluster",
        description="The pserv cluster daemon, which drives BMCs and PDUs near the hardware.",
    )
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv-cluster``; returns the exit status.
    """
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
