"""
``pserv-cluster``: the cluster daemon's command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pserv.scripts.support import OneLineParser, run_on_reactor, tune_gc
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
    parser.add_argument("--config", type=Path, help="config file (default /etc/pserv/cluster.yaml, if present)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the cluster daemon")
    run.add_argument("--region", help="HOST:PORT of the region's RPC port (5250)")
    run.add_argument("--name", help="this cluster's name, as nodes name it")
    run.add_argument("--secret-file", dest="secret_file", help="a copy of the region's DATA_DIR/secret")
    run.add_argument("--concurrency", type=int, help="power reads in flight at once during a sweep (32)")
    run.add_argument("--sync-interval", dest="sync_interval", type=float, help="seconds between power sweeps (300)")
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
    if args.command == "run":
        return _run(parser, args)
    parser.print_help()
    return 0


def _power_test(parser: argparse.ArgumentParser, args: Any) -> int:
    from pserv.scripts.support import UsageError, parse_settings
    from pserv.scripts.power_test import PowerCheck

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


def _run(parser: argparse.ArgumentParser, args: Any) -> int:
    from pserv.cluster.config import load
    from pserv.util.config import ConfigError
    from pserv.rpc.auth import SecretError, load_secret

    overrides = {k: getattr(args, k) for k in ("region", "name", "secret_file", "concurrency", "sync_interval")}
    try:
        config = load(args.config, overrides).check()
        secret = load_secret(config.secret_file)
    except (ConfigError, SecretError) as e:
        parser.error(str(e))
    install_reactor()
    tune_gc()
    from twisted.logger import globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)
    return run_on_reactor(lambda reactor: _serve(reactor, config, secret))


async def _serve(reactor: Any, config: Any, secret: bytes) -> int:
    from twisted.internet.defer import Deferred

    from pserv.cluster.daemon import ClusterDaemon
    from pserv.cluster.driver_set import DriverSet
    from pserv.rpc.service import RegionConnection

    daemon = ClusterDaemon(
        reactor, DriverSet(reactor), interval=config.sync_interval,
        concurrency=config.concurrency, failures_before_error=config.failures_before_error,
    )
    connection = RegionConnection.to_region(
        reactor, config.region, config.name, secret, daemon, daemon.region_ready
    )
    connection.startService()
    stopped: Deferred[None] = Deferred()

    async def stop() -> None:
        await connection.stopService()
        await daemon.stop()
        stopped.callback(None)

    reactor.addSystemEventTrigger("before", "shutdown", lambda: Deferred.fromCoroutine(stop()))
    print(f"pserv-cluster {config.name} connecting to {config.region}", flush=True)
    await stopped
    return 0


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
