"""
The cluster's metrics over plain HTTP: ``GET /metrics`` on the address
of ``--metrics-listen`` (``metrics_listen``), nothing else.

It has no authentication and no TLS: what it serves names no node, no
address and no secret (:mod:`pserv.cluster.metrics`), but it should still
listen on loopback or a management network, or be firewalled to the
Prometheus server (docs/operations.md).  The page is made on the reactor
thread from memory (prometheus_client's own Twisted resource would read
the daemon's state from a thread of the reactor's pool).
"""

from __future__ import annotations

from typing import Any

from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from pserv.cluster.metrics import CONTENT_TYPE, ClusterMetrics
from pserv.util.config import parse_listen


class MetricsPage(Resource):
    """``/metrics``: the metrics in Prometheus' text format."""

    isLeaf = True

    def __init__(self, metrics: ClusterMetrics) -> None:
        super().__init__()
        self.metrics = metrics

    def render(self, request: Any) -> bytes:
        if request.method not in (b"GET", b"HEAD"):
            request.setResponseCode(405)
            request.setHeader(b"allow", b"GET, HEAD")
            return b"only GET\n"
        request.setHeader(b"content-type", CONTENT_TYPE)
        request.setHeader(b"cache-control", b"no-store")
        return self.metrics.exposition()


class Root(Resource):
    """``/metrics``, and 404 for any other path."""

    def __init__(self, metrics: ClusterMetrics) -> None:
        super().__init__()
        self.putChild(b"metrics", MetricsPage(metrics))

    def getChild(self, path: bytes, request: Any) -> IResource:
        return notFound()

    def render(self, request: Any) -> bytes:
        request.setResponseCode(404)
        return b"not found; the metrics are at /metrics\n"


def metrics_site(metrics: ClusterMetrics) -> Site:
    """A site serving ``metrics`` at ``/metrics`` (anything else is 404)."""
    return Site(Root(metrics))


def listen_metrics(reactor: Any, address: str, metrics: ClusterMetrics) -> Any:
    """
    Serve ``metrics`` on ``address`` (``HOST:PORT``); returns the listening port.

    :raises ConfigError: for a bad address.
    """
    host, port = parse_listen(address, "metrics_listen")
    return reactor.listenTCP(port, metrics_site(metrics), interface=host)
