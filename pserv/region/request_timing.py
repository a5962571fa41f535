"""
Timing every HTTP request the region answers, for its metrics
(``pserv_api_request_seconds``), by route template, never by path.

The route is the template the request was routed to (``/api/v1/nodes/
{node}/power``): the region's endpoints note it as they admit a request
(:data:`~pserv.region.endpoints.ROUTE`); for a route that admits nothing (the login page, static
files, the document) it is found again from Klein's mapper; a request no
route matched is :data:`~pserv.region.metrics.OTHER_ROUTE`.  A method the
region does not serve is ``other`` too, so no label holds what a client
made up.  An event stream is not timed: it lasts as long as its client
listens.  A request whose client went away before the answer is not
timed either.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pserv.region.endpoints import ROUTE
from pserv.region.http import BoundedRequest
from pserv.region.metrics import OTHER_ROUTE, RegionMetrics
from pserv.region.permissions import template

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""The methods named in the ``method`` label; any other is ``other``."""

STREAM = b"text/event-stream"


class TimedRequest(BoundedRequest):
    """
    A :class:`~pserv.region.http.BoundedRequest` that tells its site's
    ``metrics`` (a :class:`~pserv.region.metrics.RegionMetrics`, if the
    site has one) how long it took to answer.
    """

    def process(self) -> None:
        metrics: RegionMetrics | None = getattr(self.channel.site, "metrics", None) if self.channel else None
        if metrics is not None:
            started = metrics.seconds()
            self.notifyFinish().addCallbacks(lambda _: self._answered(metrics, started), lambda _: None)
        super().process()

    def _answered(self, metrics: RegionMetrics, started: float) -> None:
        kind = self.responseHeaders.getRawHeaders(b"content-type", [b""])[0]
        if kind.startswith(STREAM):
            return
        method = self.method.decode("ascii", "replace").upper()
        metrics.request_answered(route_of(self), method if method in METHODS else "other", self.code,
                                 metrics.seconds() - started)


def route_of(request: Any) -> str:
    """The template of the route ``request`` was routed to, or :data:`~pserv.region.metrics.OTHER_ROUTE`."""
    declared = getattr(request, ROUTE, None)
    if declared is None:
        declared = _matched(request)
    return OTHER_ROUTE if declared is None else _template(declared)


@lru_cache(maxsize=256)
def _template(route: str) -> str:
    """:func:`~pserv.region.permissions.template`, once per route (there are some sixty)."""
    return template(route)


def _matched(request: Any) -> str | None:
    """The route Klein's mapper matches for ``request``, if it matched one."""
    from klein.interfaces import IKleinRequest

    try:
        mapper = IKleinRequest(request).mapper
        rule, _ = mapper.match(return_rule=True)
    except Exception:  # noqa: BLE001 - no mapper (not routed), no route (404) or no method (405)
        return None
    return str(rule.rule)
