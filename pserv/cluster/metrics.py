"""
The cluster's Prometheus metrics, served by ``pserv-cluster run
--metrics-listen HOST:PORT`` (:mod:`pserv.cluster.metrics_server`).

Each :class:`ClusterMetrics` keeps its own ``CollectorRegistry``.  BMC
calls are timed and their errors counted as they happen, by a wrapper
round every control the cluster's drivers make (:class:`MeteredControl`);
the rest (actions in flight and waiting, reports queued, sessions open,
the sweep's lag) is read from the daemon when Prometheus scrapes, from
memory, so a scrape costs the reactor next to nothing.

No label carries a node, an address or a secret: ``driver`` is a power
type, ``operation`` one of the six a control has, ``kind`` one of
:data:`ERROR_KINDS`.  docs/operations.md lists every metric.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from twisted.internet.defer import CancelledError, Deferred
from twisted.python.failure import Failure

from pserv.power.control import ControlWrapper, PowerControl
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)
from pserv.power.states import ActionKind

if TYPE_CHECKING:
    from pserv.cluster.daemon import ClusterDaemon

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode("ascii")
"""The content type of the text exposition format."""

OPERATIONS = ("power_on", "power_off", "soft_off", "query", "set_boot_device", "get_boot_device")
"""What a control can be asked: the ``operation`` label."""

ERROR_KINDS = ("auth", "timeout", "unsupported", "settings", "protocol", "transient", "fatal", "other")
"""The ``kind`` label of a failed BMC call (:func:`error_kind`)."""

CANCELLED = "cancelled"
"""What :func:`error_kind` says of a call the action stopped waiting for: no error of the BMC's."""

BMC_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds for one BMC call: a LAN exchange is tens of milliseconds, a slow Redfish BMC seconds."""

SWEEP_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
"""Seconds for one power sweep of every node."""


def error_kind(error: BaseException) -> str:
    """
    What kind of failure a BMC call met: ``auth``, ``timeout`` (a transient
    error that says it timed out), ``unsupported``, ``settings``,
    ``protocol``, ``transient``, ``fatal`` or ``other`` (not a power
    error: a bug); or :data:`CANCELLED`, for a call the action stopped
    waiting for (its own timeout, or a cancel at a safe point).
    """
    for kind, classes in (("auth", PowerAuthError), ("unsupported", PowerUnsupportedError),
                          ("settings", PowerSettingsError), ("protocol", PowerProtocolError)):
        if isinstance(error, classes):
            return kind
    if isinstance(error, PowerTransientError):
        return "timeout" if "timed out" in str(error) else "transient"
    if isinstance(error, PowerFatalError):
        return "fatal"
    if isinstance(error, CancelledError):
        return CANCELLED
    return "transient" if isinstance(error, PowerError) else "other"


class ClusterMetrics:
    """
    One cluster's metrics.

    :param clock: times the BMC calls and the sweeps, and gives the
        sweep's lag.
    """

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.registry = CollectorRegistry()
        self.bmc_seconds = Histogram(
            "pserv_cluster_bmc_call_seconds", "Seconds one BMC or PDU call took, by driver and operation",
            ["driver", "operation"], buckets=BMC_BUCKETS, registry=self.registry)
        self.bmc_errors = Counter(
            "pserv_cluster_bmc_errors", "BMC or PDU calls that failed, by driver and kind of failure",
            ["driver", "kind"], registry=self.registry)
        self.bmc_abandoned = Counter(
            "pserv_cluster_bmc_calls_abandoned", "BMC or PDU calls the action stopped waiting for: its own "
            "timeout, or a cancel or supersede at a safe point", ["driver"], registry=self.registry)
        self.sweep_seconds = Histogram(
            "pserv_cluster_sweep_seconds", "Seconds one power sweep took to read every node due",
            buckets=SWEEP_BUCKETS, registry=self.registry)

    def watch(self, daemon: ClusterDaemon) -> ClusterMetrics:
        """Time ``daemon``'s BMC calls and sweeps, and read its state at every scrape; returns itself."""
        daemon.drivers.wrap = self.metered
        daemon.observer.on_swept = self.sweep_seconds.observe
        self.registry.register(DaemonState(daemon, self.clock))
        return self

    def metered(self, driver: str, control: PowerControl) -> PowerControl:
        """``control`` (of power type ``driver``), its calls timed and its errors counted."""
        return MeteredControl(control, driver, self)  # type: ignore[return-value]

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)

    def called(self, driver: str, operation: str, seconds: float, error: BaseException | None) -> None:
        """A BMC call ended, ``error`` if it failed."""
        self.bmc_seconds.labels(driver, operation).observe(seconds)
        kind = None if error is None else error_kind(error)
        if kind == CANCELLED:
            self.bmc_abandoned.labels(driver).inc()
        elif kind is not None:
            self.bmc_errors.labels(driver, kind).inc()


class MeteredControl(ControlWrapper):
    """A node's power whose every call is timed and whose failures are counted by kind."""

    def __init__(self, control: PowerControl, driver: str, metrics: ClusterMetrics) -> None:
        super().__init__(control)
        self._driver = driver
        self._metrics = metrics

    def _call(self, operation: str, call: Callable[[], Deferred[Any]]) -> Deferred[Any]:
        started = self._metrics.clock.seconds()
        calling = call()

        def ended(result: Any) -> Any:
            error = result.value if isinstance(result, Failure) else None
            self._metrics.called(self._driver, operation, self._metrics.clock.seconds() - started, error)
            return result

        return calling.addBoth(ended)

    def __repr__(self) -> str:
        return f"<MeteredControl {self.description}>"


class DaemonState(Collector):
    """The daemon's state, read at every scrape: the gauges."""

    def __init__(self, daemon: ClusterDaemon, clock: Any) -> None:
        self.daemon = daemon
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        yield from self._actions()
        yield _gauge("pserv_cluster_reports_queued", "Action reports not yet acknowledged by the region",
                     self.daemon.reports.pending)
        yield _gauge("pserv_cluster_region_connected", "1 while the cluster is connected to a region, else 0",
                     int(self.daemon.connected))
        yield _gauge("pserv_cluster_nodes", "Nodes this cluster holds", len(self.daemon.book))
        yield _gauge("pserv_cluster_actions_waiting_for_budget", "Power actions waiting for the region to grant "
                     "their power-on a start under its power budget", self.daemon.power.permits.waiting)
        yield _gauge("pserv_cluster_sweep_lag_seconds", "Seconds the last complete power sweep is overdue "
                     "(0 while sweeps keep their interval)", self.daemon.observer.lag(self.clock.seconds()))
        sessions = GaugeMetricFamily("pserv_cluster_sessions_open", "BMC sessions open now, by driver",
                                     labels=["driver"])
        for name, count in sorted(self.daemon.drivers.open_sessions().items()):
            sessions.add_metric([name], count)
        yield sessions

    def _actions(self) -> Iterator[Metric]:
        registry = self.daemon.power.registry
        counts = {kind.value: [0, 0] for kind in ActionKind}
        for node in registry.busy_nodes():
            for place, action in enumerate(registry.in_play(node)):
                if action is not None:
                    counts.setdefault(str(getattr(action.kind, "value", action.kind)), [0, 0])[place] += 1
        for place, (name, what) in enumerate((("in_flight", "running"), ("waiting", "waiting for the one in "
                                                                                     "flight on their node"))):
            family = GaugeMetricFamily(f"pserv_cluster_actions_{name}", f"Power actions {what}, by kind "
                                       "(the sweep's reads are queries)", labels=["kind"])
            for kind, both in sorted(counts.items()):
                family.add_metric([kind], both[place])
            yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
