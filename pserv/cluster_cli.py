"""
``pserv-cluster``: the cluster daemon's command.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pserv.cli_support import OneLineParser, run_on_reactor
from pserv.power.drivers import driver_names
from pserv.power.states import ActionKind


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv-cluster`` argument parser.
    """
    parser = OneLineParser(
        prog="pserv-cluster",
        description="The pserv cluster daemon, which drives BMCs and PDUs near the hardware.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    test = commands.add_parser(
        "power-test",
        help="run one power action through a driver and print the verified state",
        description="Run one power action through a driver from this host. "
        "Exit 0 on success, 1 when the action failed, 2 for bad settings.",
    )
    test.add_argument("power_type", metavar="TYPE", help="one of: " + ", ".join(driver_names()))
    test.add_argument("action", metavar="ACTION", choices=[k.value for k in ActionKind],
                      help="one of: " + ", ".join(k.value for k in ActionKind))
    test.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                      help="a driver setting; repeat for each")
    test.add_argument("--escalate-after", type=float, metavar="SECONDS",
                      help="for soft_off: send a hard off after this long")
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv-cluster``; returns the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "power-test":
        return _power_test(parser, args)
    parser.print_help()
    return 0


def _power_test(parser: argparse.ArgumentParser, args: Any) -> int:
    from pserv.cli_support import UsageError, parse_settings
    from pserv.power_check import PowerCheck

    reactor = install_reactor()
    try:
        check = PowerCheck.prepare(
            reactor, args.power_type, args.action, parse_settings(args.settings), args.escalate_after
        )
    except UsageError as e:
        parser.error(str(e))

    async def run(reactor: Any) -> int:
        status, line = await check.run(reactor)
        print(line)
        return status

    return run_on_reactor(run)


def install_reactor() -> Any:
    """
    The asyncio reactor (pysnmp's asyncio API needs it), installed unless a
    reactor already is.
    """
    from twisted.internet import asyncioreactor, error

    try:
        asyncioreactor.install()
    except error.ReactorAlreadyInstalledError:
        pass
    from twisted.internet import reactor

    return reactor


if __name__ == "__main__":
    sys.exit(main())
