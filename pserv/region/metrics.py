"""
The region's Prometheus metrics, served at ``GET /metrics``.

Each :class:`RegionMetrics` keeps its own ``CollectorRegistry`` (never
``prometheus_client``'s global one), so that tests and the simulation can
run several regions in one process.  Counters and histograms are updated
where the thing happens (an outcome recorded, a request answered, a piece
of database work done); gauges are read at scrape time from what the
region holds in memory, so a scrape never waits for the database.

No label carries a node's name, an address or a secret: labels are drawn
from closed sets (action kinds and statuses, route templates, methods,
status codes, the store's work functions) or from the names of the power
budgets an admin made.  docs/operations.md lists
every metric and the alerts to set on them.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from pserv.power.states import FINAL, ActionKind
from pserv.region.store.ended import Ended

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode("ascii")
"""The content type of the text exposition format."""

ACTION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
"""Seconds from ``202`` to outcome: a query takes well under a second, a cycle a minute or more."""

REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Seconds to answer an API request or to do one piece of database work."""

OTHER_ROUTE = "other"
"""The ``route`` label of a request no route matched (a 404, a 405)."""


class RegionMetrics:
    """
    One region's metrics.

    :param clock: times API requests and database work.
    :param connected: how many clusters are connected to this region now.
    :param database_backlog: how many pieces of database work wait for a
        thread of the pool now.
    """

    def __init__(self, clock: Any, connected: Callable[[], int] = lambda: 0,
                 database_backlog: Callable[[], int] = lambda: 0) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        self.actions = Counter(
            "pserv_actions", "Power actions ended, by kind and final status, as recorded from their outcome",
            ["kind", "status"], registry=self.registry)
        self.action_seconds = Histogram(
            "pserv_action_seconds", "Seconds from a power request's 202 to its action's recorded outcome",
            ["kind"], buckets=ACTION_BUCKETS, registry=self.registry)
        self.timed_out = Counter(
            "pserv_actions_timed_out", "Actions handed to a cluster and not heard of within action_timeout",
            registry=self.registry)
        self.requests = Histogram(
            "pserv_api_request_seconds", "Seconds to answer an HTTP request, by route template, method and status",
            ["route", "method", "status"], buckets=REQUEST_BUCKETS, registry=self.registry)
        self.database = Histogram(
            "pserv_database_seconds", "Seconds one piece of database work (one transaction) took on the pool",
            ["work"], buckets=REQUEST_BUCKETS, registry=self.registry)
        self.reports = Counter(
            "pserv_reports", "Reports received from clusters, by kind (running, progress, outcome, observed)",
            ["kind"], registry=self.registry)
        self.budget_starts = Counter(
            "pserv_budget_starts", "Power-on starts granted under each power budget", ["budget"],
            registry=self.registry)
        self.recording = Gauge(
            "pserv_report_batches_recording", "Batches of clusters' reports received and not yet recorded",
            registry=self.registry)
        Gauge("pserv_clusters_connected", "Clusters connected to this region",
              registry=self.registry).set_function(connected)
        Gauge("pserv_database_backlog", "Pieces of database work waiting for a thread of the pool",
              registry=self.registry).set_function(database_backlog)
        for kind in ActionKind:  # every series from the start, so that rate() sees the first outcome
            self.action_seconds.labels(kind.value)
            for status in sorted(FINAL):
                self.actions.labels(kind.value, status.value)

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)

    def seconds(self) -> float:
        """The clock's time, to time something with."""
        return float(self.clock.seconds())

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """An HTTP request was answered."""
        self.requests.labels(route, method, str(status)).observe(seconds)

    def database_work(self, work: str, seconds: float) -> None:
        """A piece of database work ran (called on the pool's thread; prometheus_client locks)."""
        self.database.labels(work).observe(seconds)

    def reports_received(self, running: int, progress: int, outcomes: int) -> None:
        """A batch of reports arrived from a cluster."""
        for kind, count in (("running", running), ("progress", progress), ("outcome", outcomes)):
            if count:
                self.reports.labels(kind).inc(count)

    def states_received(self, count: int) -> None:
        """Observed power states arrived from a cluster's sweep."""
        self.reports.labels("observed").inc(count)

    def actions_ended(self, ended: Iterable[Ended]) -> None:
        """Actions reached a final status, recorded."""
        for action in ended:
            self.actions.labels(action.kind, action.status).inc()
            if action.seconds is not None:
                self.action_seconds.labels(action.kind).observe(max(action.seconds, 0.0))

    def starts_granted(self, started: dict[str, int]) -> None:
        """Power-ons were granted their starts, so many under each budget."""
        for budget, count in started.items():
            self.budget_starts.labels(budget).inc(count)

    def actions_timed_out(self, count: int) -> None:
        """The sweep timed out ``count`` actions handed to clusters (they stay open for their outcome)."""
        if count:
            self.timed_out.inc(count)
