"""
``python -m pserv.client``: the client's commands on their own, as
``pserv`` runs them once :mod:`pserv.cli` adds them.
"""

from __future__ import annotations

import sys

from pserv.client.parser import build_parser, is_client_command


def main(argv: list[str] | None = None) -> int:
    """
    Parse ``argv`` and run the command; returns the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not is_client_command(args):
        parser.print_help()
        return 0
    from pserv.client.runner import run_client

    return run_client(args)


if __name__ == "__main__":
    sys.exit(main())
