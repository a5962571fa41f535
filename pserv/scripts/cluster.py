"""
``pserv-cluster``: the cluster daemon's command.  It runs on Twisted's
asyncio reactor (pysnmp's API is asyncio's) and drives the production
power types only; a test that wants the ``fake`` driver in a real cluster
command calls :func:`main` with ``extra_drivers`` itself (no option,
setting or file can add it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pserv.scripts.support import OneLineParser, log_reactor, run_on_reactor, tune_gc, when_running
from pserv.power.drivers import driver_names
from pserv.power.states import ActionKind

if TYPE_CHECKING:
    from pserv.cluster.driver_set import DriverSet
    from pserv.power.drivers.base import PowerDriver

DriverFactory = Callable[[Any], "PowerDriver"]
"""Makes a driver on the reactor it is given: a driver class will do."""


def build_parser(extra_types: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """
    The ``pserv-cluster`` argument parser.

    :param extra_types: power types beyond the production ones, for the help.
    """
    parser = OneLineParser(
        prog="pserv-cluster",
        description="The pserv cluster daemon, which drives BMCs and PDUs near the hardware.",
    )
    parser.add_argument("--config", type=Path, help="config file (default /etc/pserv/cluster.yaml, if present)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the cluster daemon")
    run.add_argument("--region", help="HOST:PORT of the region's RPC port (5250), or several, comma-separated: regions sharing one database, the first that answers used")
    run.add_argument("--name", help="this cluster's name, as nodes name it")
    run.add_argument("--group", help="the cluster group it serves with others, as nodes name it (default: none)")
    run.add_argument("--secret-file", dest="secret_file", help="a copy of the region's DATA_DIR/secret")
    run.add_argument("--concurrency", type=int, help="power reads in flight at once during a sweep (32)")
    run.add_argument("--sync-interval", dest="sync_interval", type=float, help="seconds between power sweeps (300)")
    run.add_argument("--metrics-listen", dest="metrics_listen", metavar="HOST:PORT",
                     help="serve Prometheus metrics at http://HOST:PORT/metrics (plain HTTP; default: none)")
    test = commands.add_parser(
        "power-test",
        help="run one power action through a driver and print the verified state",
        description="Run one power action through a driver from this host. "
        "Exit 0 on success, 1 when the action failed, 2 for bad settings.",
    )
    known = sorted([*driver_names(), *extra_types])
    test.add_argument("power_type", metavar="TYPE", help="one of: " + ", ".join(known))
    test.add_argument("action", metavar="ACTION", choices=[k.value for k in ActionKind],
                      help="one of: " + ", ".join(k.value for k in ActionKind))
    test.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                      help="a driver setting; repeat for each")
    test.add_argument("--escalate-after", type=float, metavar="SECONDS",
                      help="for soft_off: send a hard off after this long")
    return parser


def main(argv: list[str] | None = None, extra_drivers: Mapping[str, DriverFactory] | None = None) -> int:
    """
    Run ``pserv-cluster``; returns the exit status.

    :param extra_drivers: drivers beyond the production ones, by power type
        (tests give the ``fake`` driver); none if not given.
    """
    extra = dict(extra_drivers or {})
    parser = build_parser(tuple(extra))
    args = parser.parse_args(argv)
    if args.command == "power-test":
        return _power_test(parser, args, extra)
    if args.command == "run":
        return _run(parser, args, extra)
    parser.print_help()
    return 0


def drivers_on(reactor: Any, extra_drivers: Mapping[str, DriverFactory]) -> DriverSet:
    """
    The cluster's drivers on ``reactor``: the production ones, and
    ``extra_drivers`` made on it.
    """
    from pserv.cluster.driver_set import DriverSet

    return DriverSet(reactor, {name: make(reactor) for name, make in extra_drivers.items()})


def _power_test(parser: argparse.ArgumentParser, args: Any, extra: Mapping[str, DriverFactory]) -> int:
    from pserv.scripts.support import UsageError, parse_settings
    from pserv.scripts.power_test import PowerCheck

    reactor = install_reactor()
    try:
        check = PowerCheck.prepare(
            reactor, args.power_type, args.action, parse_settings(args.settings), args.escalate_after,
            drivers_on(reactor, extra),
        )
    except UsageError as e:
        parser.error(str(e))

    async def run(reactor: Any) -> int:
        status, line = await check.run(reactor)
        print(line)
        return status

    return run_on_reactor(run)


def _run(parser: argparse.ArgumentParser, args: Any, extra: Mapping[str, DriverFactory]) -> int:
    from pserv.cluster.config import load
    from pserv.util.config import ConfigError
    from pserv.rpc.auth import SecretError, load_secret

    overrides = {
        k: getattr(args, k)
        for k in ("region", "name", "group", "secret_file", "concurrency", "sync_interval", "metrics_listen")
    }
    try:
        config = load(args.config, overrides).check()
        secret = load_secret(config.secret_file)
    except (ConfigError, SecretError) as e:
        parser.error(str(e))
    install_reactor()
    tune_gc()
    from twisted.logger import globalLogBeginner, textFileLogObserver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)
    return run_on_reactor(lambda reactor: _serve(reactor, config, secret, drivers_on(reactor, extra)))


async def _serve(reactor: Any, config: Any, secret: bytes, drivers: DriverSet) -> int:
    from twisted.internet.defer import Deferred

    from pserv.cluster.daemon import ClusterDaemon
    from pserv.rpc.service import RegionConnection
    from pserv.util.notify import READY, STOPPING, notify

    log_reactor(reactor)
    group = config.group or None
    daemon = ClusterDaemon(
        reactor, drivers, group=group, interval=config.sync_interval,
        concurrency=config.concurrency, failures_before_error=config.failures_before_error,
    )
    metrics_port = _serve_metrics(reactor, config.metrics_listen, daemon)
    if metrics_port is False:
        return 1
    connection = RegionConnection.to_region(
        reactor, config.region, config.name, secret, daemon, daemon.region_ready, group=group,
        on_lease=daemon.lease_renewed,
    )
    connection.startService()
    stopped: Deferred[None] = Deferred()

    async def stop() -> None:
        notify(STOPPING)
        if metrics_port is not None:
            await metrics_port.stopListening()
        await connection.stopService()
        await daemon.stop()
        stopped.callback(None)

    reactor.addSystemEventTrigger("before", "shutdown", lambda: Deferred.fromCoroutine(stop()))
    await when_running(reactor)
    # Ready once started, not once connected: a region that is down must
    # not make systemd give up on the cluster, which keeps trying.
    notify(READY)
    member = f" (group {group})" if group else ""
    print(f"pserv-cluster {config.name}{member} connecting to {config.region}", flush=True)
    await stopped
    return 0


def _serve_metrics(reactor: Any, address: str, daemon: Any) -> Any:
    """
    Serve ``daemon``'s metrics on ``address``: the listening port, ``None``
    if ``address`` is empty, ``False`` (said in one line) if it cannot listen.
    """
    if not address:
        return None
    from twisted.internet.error import CannotListenError

    from pserv.cluster.metrics import ClusterMetrics
    from pserv.cluster.metrics_server import listen_metrics

    try:
        port = listen_metrics(reactor, address, ClusterMetrics(reactor).watch(daemon))
    except CannotListenError as e:
        print(f"pserv-cluster: metrics_listen: cannot listen on {address}: {e.socketError}", file=sys.stderr)
        return False
    host = port.getHost()
    print(f"pserv-cluster metrics on http://{host.host}:{host.port}/metrics", flush=True)
    return port


def install_reactor() -> Any:
    """
    The asyncio reactor, installed unless a reactor already is: the
    cluster's, for pysnmp's asyncio API (the SNMP PDU driver), and the
    demo's, which runs a cluster.  The region and the ``pserv`` client run
    on Twisted's default reactor instead.
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
