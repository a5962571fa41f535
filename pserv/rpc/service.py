"""
The cluster's connection to the region: TLS to ``HOST:PORT``, the
handshake, reconnection with capped exponential backoff and jitter, and a
heartbeat that drops a connection the region no longer answers on.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from twisted.application.internet import ClientService, backoffPolicy
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from pserv.rpc.cluster import ClusterResponder
from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.failover import FailoverEndpoint
from pserv.rpc.tls import client_options, peer_fingerprint

log = Logger()

OnReady = Callable[[ClusterRPC], Any]


def parse_address(text: str) -> tuple[str, int]:
    """
    ``HOST:PORT`` (``[v6]:PORT`` too) as (host, port).

    :raises ValueError: with a one-line message.
    """
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--region {text}: must be HOST:PORT")
    return host, int(port)


def region_addresses(text: str) -> list[str]:
    """
    ``HOST:PORT[,HOST:PORT...]`` as its addresses, each checked.

    :raises ValueError: with a one-line message naming the bad one.
    """
    addresses = [part.strip() for part in text.split(",")]
    for address in addresses:
        parse_address(address)
    return addresses


def region_endpoint(reactor: Any, address: str, timeout: float = 30.0) -> IStreamClientEndpoint:
    """
    A TLS client endpoint to the region at ``HOST:PORT``; for several,
    comma-separated (regions sharing one database), one that tries each in
    turn (:class:`~pserv.rpc.failover.FailoverEndpoint`).
    """
    addresses = region_addresses(address)
    endpoints = []
    for each in addresses:
        host, port = parse_address(each)
        endpoints.append(wrapClientTLS(client_options(), HostnameEndpoint(reactor, host, port, timeout=timeout)))
    return endpoints[0] if len(endpoints) == 1 else FailoverEndpoint(endpoints, addresses)


class RegionConnection(Service):
    """
    Keeps one authenticated connection to the region.

    After every successful (re)authentication it calls ``on_ready(rpc)``
    (the daemon asks for recovery there); if that fails, or returns a
    Deferred that fails, the connection is dropped and made again.  Every
    ``heartbeat_interval`` seconds it sends ``Heartbeat``, and drops the
    connection when one goes unanswered for ``heartbeat_timeout`` seconds.
    Between attempts it waits ``min(initial_delay * factor**n, max_delay) +
    jitter()`` seconds, ``n`` counting failed attempts in a row (refused
    connections, failed handshakes, failed ``on_ready``).

    Each heartbeat's answer says how long the cluster's lease runs; it is
    passed to ``on_lease(sent_at, seconds)``, and heartbeats go at least
    three times a lease, so that one lost heartbeat never ends it.

    :param endpoint: where the region is (:func:`region_endpoint`).
    :param group: the cluster group this cluster is a member of, if any.
    :param clock: schedules retries and heartbeats.
    :param channel: what the handshake binds to (the region certificate's
        fingerprint by default; tests without TLS pass a constant).
    :ivar rpc: the authenticated connection, or ``None``.
    """

    def __init__(self, endpoint: IStreamClientEndpoint, name: str, secret: bytes,
                 responder: ClusterResponder, on_ready: OnReady, *, clock: IReactorTime,
                 channel: Callable[[Any], bytes] = peer_fingerprint, group: str | None = None,
                 on_lease: Callable[[float, float | None], Any] | None = None,
                 heartbeat_interval: float = 15.0, heartbeat_timeout: float = 15.0,
                 initial_delay: float = 1.0, max_delay: float = 60.0, factor: float = 2.0,
                 jitter: Callable[[], float] = random.random) -> None:
        self.clock = clock
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.rpc: ClusterRPC | None = None
        self._on_ready = on_ready
        self._on_lease = on_lease
        self._failures = 0
        self._waiting: list[Deferred[ClusterRPC]] = []
        self._beat: LoopingCall | None = None
        self._policy = backoffPolicy(initial_delay, max_delay, factor, jitter)
        factory = Factory.forProtocol(lambda: self._build(responder, secret, name, channel, group))
        self._client = ClientService(endpoint, factory, retryPolicy=self._delay, clock=clock)

    @classmethod
    def to_region(cls, reactor: Any, address: str, name: str, secret: bytes, responder: ClusterResponder,
                  on_ready: OnReady, **options: Any) -> RegionConnection:
        """
        A connection over TLS to the region at ``HOST:PORT`` (or the first
        that answers of several, comma-separated), on
        ``reactor`` (also the clock unless ``clock`` is given).

        :param options: any keyword argument of the constructor.
        :raises ValueError: for a bad address.
        """
        options.setdefault("clock", reactor)
        return cls(region_endpoint(reactor, address), name, secret, responder, on_ready, **options)

    def startService(self) -> None:
        super().startService()
        self._client.startService()

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._stop_heartbeat()
        return self._client.stopService()

    def when_ready(self) -> Deferred[ClusterRPC]:
        """The authenticated connection, now or once there is one."""
        if self.rpc is not None:
            return succeed(self.rpc)
        self._waiting.append(Deferred())
        return self._waiting[-1]

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before retrying, ``attempt`` failures in a row."""
        return self._policy(attempt)

    def _delay(self, attempt: int) -> float:
        # ClientService counts only refused connections; add the connections
        # that were made but never became usable.
        return self.retry_delay(attempt + self._failures)

    def _build(self, responder: ClusterResponder, secret: bytes, name: str,
               channel: Callable[[Any], bytes], group: str | None) -> ClusterRPC:
        rpc = ClusterRPC(responder, secret, name, channel, group)
        rpc.lease_answered = lambda seconds: self._pace(seconds, rpc)
        rpc.when_ready().addCallbacks(self._ready, self._not_ready)
        rpc.when_lost().addCallback(lambda _: self._lost(rpc))
        return rpc

    def _ready(self, rpc: ClusterRPC) -> None:
        self.rpc = rpc
        self._start_heartbeat(rpc)
        self._waiting, waiting = [], self._waiting
        for d in waiting:
            d.callback(rpc)
        called = maybeDeferred(self._on_ready, rpc)
        called.addCallbacks(self._prepared, self._unprepared, errbackArgs=(rpc,))

    def _prepared(self, _: Any) -> None:
        self._failures = 0

    def _unprepared(self, failure: Failure, rpc: ClusterRPC) -> None:
        log.failure("cluster {cluster}: on_ready failed; reconnecting", failure, cluster=rpc.name)
        self._failures += 1
        rpc.close()

    def _not_ready(self, failure: Failure) -> None:
        self._failures += 1

    def _lost(self, rpc: ClusterRPC) -> None:
        if self.rpc is rpc:
            self.rpc = None
            self._stop_heartbeat()
            log.info("cluster {cluster}: lost the region; reconnecting", cluster=rpc.name)

    def _start_heartbeat(self, rpc: ClusterRPC) -> None:
        self._stop_heartbeat()
        self._beat = LoopingCall(self._heartbeat, rpc)
        self._beat.clock = self.clock
        self._beat.start(self.heartbeat_interval, now=False)

    def _stop_heartbeat(self) -> None:
        if self._beat is not None and self._beat.running:
            self._beat.stop()
        self._beat = None

    def _heartbeat(self, rpc: ClusterRPC) -> Deferred[None]:
        beat = rpc.heartbeat().addTimeout(self.heartbeat_timeout, self.clock)
        beat.addCallback(self._leased, rpc, self.clock.seconds())
        return beat.addErrback(self._heartbeat_failed, rpc)

    def _leased(self, seconds: float | None, rpc: ClusterRPC, sent_at: float) -> None:
        if self._on_lease is not None:
            self._on_lease(sent_at, seconds)

    def _pace(self, seconds: float | None, rpc: ClusterRPC) -> None:
        """
        Heartbeat at least three times a lease, from any heartbeat's answer:
        also the daemon's own on each connection, which may be the only one
        before a lease shorter than the interval ends.
        """
        if seconds is not None and self.heartbeat_interval > seconds / 3:
            self.heartbeat_interval = seconds / 3
            if self.rpc is rpc:
                self._start_heartbeat(rpc)

    def _heartbeat_failed(self, failure: Failure, rpc: ClusterRPC) -> None:
        if failure.check(defer.TimeoutError):
            log.warn("cluster {cluster}: the region left a heartbeat unanswered for {seconds}s; "
                     "dropping the connection",
                     cluster=rpc.name, seconds=self.heartbeat_timeout)
            rpc.abort()
        else:
            log.warn("cluster {cluster}: heartbeat failed: {why}", cluster=rpc.name, why=failure.getErrorMessage())
