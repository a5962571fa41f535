"""
The running region: the database, the API and its event feed, its link
to the other regions on the database, the sweep that times out actions
stuck past their time, and (while it leads) the care of the cluster groups.

Importing this module loads no driver, no BMC library and no reactor: the
RPC's TLS (pyOpenSSL, ``cryptography``) is imported when the listener
starts (:meth:`Region.start`).
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from twisted.internet.defer import gatherResults, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.web.server import Site

from pserv.region.api import RegionAPI
from pserv.region.clusters import ConnectedClusters
from pserv.region.config import RegionConfig
from pserv.region.db import Database, make_engine
from pserv.region.event_feed import EventFeed
from pserv.region.groups import GroupKeeper
from pserv.region.metrics import RegionMetrics
from pserv.region.request_timing import TimedRequest
from pserv.region.migrate import current_revision, head_revision, upgrade
from pserv.region.peers import Alone, Peers, PostgresPeers
from pserv.region.sqlite_lock import hold_sqlite
from pserv.region.store.ended import expire_stuck_ended
from pserv.region.roles import Role
from pserv.region.store.tokens import create_token, has_tokens
from pserv.region.store.users import create_user
from pserv.power.types import POWER_TYPES, PowerTypes
from pserv.util.notify import READY, STOPPING, notify
from pserv.rpc.auth import load_secret

log = Logger()

SWEEP_SECONDS = 30.0


class NotInitialized(Exception):
    """The database has no schema, or an older one: run ``init``."""


def initialize(config: RegionConfig) -> str | None:
    """
    Create or upgrade everything the region needs: the data directory, the
    schema, the shared secret.  On the first run, make an ``admin`` token
    and return it; afterwards return ``None``.
    """
    config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _write_secret(config.secret_path)
    _private_sqlite_file(config.database_url)
    database = Database(make_engine(config.database_url), reactor=None)
    try:
        upgrade(database.engine)
        if database.run_now(has_tokens):
            return None
        return database.run_now(create_token, "admin", _utcnow())
    finally:
        database.engine.dispose()


def add_user(config: RegionConfig, name: str, password_hash: str, role: Role) -> dict[str, Any]:
    """
    Add a user of the UI, for ``pserv-region create-user``.

    :raises Invalid: for a bad name.
    :raises Conflict: if the name is taken.
    """
    database = Database(make_engine(config.database_url), reactor=None)
    try:
        return database.run_now(create_user, name, password_hash, role, _utcnow())
    finally:
        database.engine.dispose()


def _write_secret(path: Path) -> None:
    if not path.exists():
        write_private(path, secrets.token_hex(32))


def write_private(path: Path, text: str) -> None:
    """
    Write ``text`` and a newline to ``path``, a new file only its owner may
    read (0600).

    :raises FileExistsError: if ``path`` exists.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text + "\n")


def _private_sqlite_file(url: str) -> None:
    """
    Create an SQLite database file readable by its owner only: it holds BMC
    passwords.  (SQLite gives its WAL files the database file's mode.)
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(parsed.database)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Region:
    """
    One region process's services.

    :param reactor: listens, and receives the database pool's results.
    :param clock: gives the time for requests, events, the sweep and the
        event feed's polls; the reactor unless a test drives a ``Clock``.
    :param database: the database to use instead of ``config.database_url``
        (the simulation's runs on its clock).
    :param power_types: the power types its nodes may have: the production
        ones, unless a test, the simulation or the demo adds ``fake``.
    :param peers: its link to the other regions on the database: by default
        ``LISTEN``/``NOTIFY`` on PostgreSQL, nobody on SQLite.
    """

    def __init__(self, config: RegionConfig, reactor: Any, clock: Any = None,
                 database: Database | None = None, power_types: PowerTypes = POWER_TYPES,
                 peers: Peers | None = None) -> None:
        self.config = config
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.database = database or Database(make_engine(config.database_url), reactor)
        self.peers = peers if peers is not None else self._peers()
        self.metrics = RegionMetrics(self.clock, lambda: len(self.clusters.connections), self.database.backlog)
        self.database.on_work = self.metrics.database_work
        self.clusters = ConnectedClusters(self.database, self.clock, self.peers, config.cluster_lease,
                                          metrics=self.metrics)
        self.groups = GroupKeeper(self.database, self.clusters, self.peers, self.clock, config.cluster_lease)
        self.feed = EventFeed(self.database, self.clock)
        self.api = RegionAPI(self.database, self.clock, self.clusters, power_types, config.session_lifetime,
                             feed=self.feed, metrics=self.metrics)
        self._sweep = LoopingCall(self.sweep)
        self._sweep.clock = self.clock
        self.port: Any = None
        self.rpc_port: Any = None
        self._rpc_factory: Any = None
        self._sqlite_lock: Any = None

    def _peers(self) -> Peers:
        if self.database.engine.dialect.name == "postgresql":
            return PostgresPeers(self.config.database_url, self.reactor, self.database.run)
        return Alone()

    def start(self) -> None:
        """
        Check the schema, then listen and start sweeping.

        :raises NotInitialized: if ``init`` has not been run.
        :raises AnotherRegion: if another region runs on this SQLite database.
        """
        if current_revision(self.database.engine) != head_revision():
            raise NotInitialized("the database schema is missing or old; run pserv-region init")
        self._sqlite_lock = hold_sqlite(self.database.engine.url)
        self.database.start()
        host, port = self.config.listen_address()
        self.port = self.reactor.listenTCP(port, self.site(), interface=host)
        self._listen_rpc()
        address, rpc = self.port.getHost(), self.rpc_port.getHost()
        self.clusters.region = self.config.name or f"{rpc.host}:{rpc.port}"
        self.peers.start(self.clusters.region, self.clusters.hear)
        self.start_sweeping()
        log.info("pserv-region RPC for clusters on {host}:{port} (TLS)", host=rpc.host, port=rpc.port)
        log.info("pserv-region listening on http://{host}:{port}/", host=address.host, port=address.port)
        notify(READY)
        notify(f"STATUS=API on {address.host}:{address.port}, clusters' RPC on {rpc.host}:{rpc.port}")

    def site(self) -> Site:
        """The API's web site, with requests bounded in size and timed for the metrics."""
        site = Site(self.api.resource(), reactor=self.reactor)
        site.requestFactory = TimedRequest
        site.metrics = self.metrics  # type: ignore[attr-defined]
        return site

    def start_sweeping(self) -> None:
        """Sweep now and every ``SWEEP_SECONDS``; spread the groups' nodes while leading."""
        self._sweep.start(SWEEP_SECONDS, now=True)
        self.groups.start()

    def _listen_rpc(self) -> None:
        # TLS, and with it pyOpenSSL, only once the region listens.
        from pserv.rpc.region_protocol import region_rpc_factory

        secret = load_secret(self.config.secret_path)
        self._rpc_factory = region_rpc_factory(self.clusters, secret, self.config.data_dir / "tls", self.clock)
        host, port = self.config.rpc_address()
        self.rpc_port = self.reactor.listenTCP(port, self._rpc_factory, interface=host)

    def stop(self) -> Any:
        """Stop sweeping, end the event streams, stop listening and the database pool."""
        notify(STOPPING)
        if self._sweep.running:
            self._sweep.stop()
        self.groups.stop()
        self.clusters.stop_timers()
        self.peers.stop()
        self.feed.stop()
        stopped = [port.stopListening() for port in (self.port, self.rpc_port) if port is not None]
        if self._rpc_factory is not None:
            stopped.append(self._rpc_factory.wrappedFactory.disconnect_all())
        self.database.stop()
        if self._sqlite_lock is not None:
            self._sqlite_lock.close()
            self._sqlite_lock = None
        return gatherResults(stopped)

    def sweep(self) -> Any:
        """
        Hand over any pending action a connected cluster has not been
        given (a scheduled one once due; a timer for each coming due
        before the next sweep), and ask connected clusters again to give up the nodes moved
        away from them; if this region leads, time out the actions stuck
        past ``action_timeout`` (a pending one fails, a sent one becomes
        ``timed_out``).
        """
        self.clusters.start_delivery()
        self.clusters.arm_coming(SWEEP_SECONDS)
        self.clusters.start_releases()
        if not self.peers.leads():
            return succeed(None)
        swept = self.database.run(expire_stuck_ended, self.api.now(), self.config.action_timeout)
        swept.addCallback(self._swept)
        swept.addErrback(lambda f: log.failure("sweeping stuck actions failed", f))
        return swept

    def _swept(self, expired: tuple[list[int], list[Any]]) -> None:
        ids, ended = expired
        self.metrics.actions_ended(ended)
        self.metrics.actions_timed_out(len(ids) - len(ended))
        if ids:
            log.info("{count} stuck action(s) timed out: {ids}", count=len(ids), ids=ids)
