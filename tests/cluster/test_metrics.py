"""
Tests for pserv.cluster.metrics, on a Clock with the fake driver: BMC
calls timed and their failures counted by kind, and the daemon's state
read at every scrape, parsed with Prometheus' own text parser.
"""

import attrs
import pytest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.cluster.lease import LeaseEnded
from pserv.cluster.metrics import CANCELLED, ClusterMetrics, error_kind
from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)
from pserv.power.states import ActionKind, PowerState
from pserv.rpc.messages import PowerRequest
from pserv.testing.cluster import RecordingLink
from pserv.testing.fake_driver import FakeDriver
from pserv.testing.power import FakeFleet, advance_until_idle


def samples(metrics):
    """name and labels -> value, of every sample ``metrics`` exposes."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.exposition().decode())
            for s in family.samples}


def watched(clock=None):
    clock = clock or Clock()
    fleet = FakeFleet(clock, latency=0.5)
    daemon = ClusterDaemon(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), interval=600)
    return clock, fleet, daemon, ClusterMetrics(clock).watch(daemon)


def request(action, node, kind, address, password="s3cret-pw"):
    return PowerRequest(action=action, node=node, name=f"secret-name-{node}", kind=kind, generation=1,
                        power_type="fake", power_parameters={"address": address, "password": password})


@pytest.mark.parametrize("error, kind", [
    (PowerAuthError("x"), "auth"),
    (PowerUnsupportedError("x"), "unsupported"),
    (PowerSettingsError("x"), "settings"),
    (PowerProtocolError("x"), "protocol"),
    (PowerTransientError("ipmi 10.0.0.5:623: query timed out after 5s"), "timeout"),
    (PowerTransientError("connection refused"), "transient"),
    (LeaseEnded("x"), "fatal"),
    (PowerError("x"), "transient"),
    (CancelledError(), CANCELLED),
    (ZeroDivisionError(), "other"),
])
def test_each_failure_has_its_kind(error, kind):
    """The error classes map to the kind label: auth, timeout, unsupported... and other for what is no power error."""
    assert error_kind(error) == kind


def test_an_action_s_calls_are_timed_by_driver_and_operation():
    """An on read then sent: a query and a power_on, each timed by the clock, under the driver's name."""
    clock, fleet, daemon, metrics = watched()
    daemon.reports.link_up(RecordingLink())
    daemon.perform_power(request(1, 1, ActionKind.ON, "b1"))
    advance_until_idle(clock)
    found = samples(metrics)
    assert found[("pserv_cluster_bmc_call_seconds_count", (("driver", "fake"), ("operation", "power_on")))] == 1.0
    assert found[("pserv_cluster_bmc_call_seconds_sum", (("driver", "fake"), ("operation", "power_on")))] == 0.5
    assert found[("pserv_cluster_bmc_call_seconds_count", (("driver", "fake"), ("operation", "query")))] >= 1.0
    daemon.stop()


def test_failed_calls_count_by_kind_and_nothing_names_the_node_or_its_password():
    """A refused login counts as auth for the driver; the scrape holds no node name, address or password."""
    clock, fleet, daemon, metrics = watched()
    daemon.reports.link_up(RecordingLink())
    fleet.bmc("b2").fail_next("query", PowerAuthError("fake BMC b2: bad credentials"))
    daemon.perform_power(request(2, 2, ActionKind.ON, "b2"))
    advance_until_idle(clock)
    assert samples(metrics)[("pserv_cluster_bmc_errors_total", (("driver", "fake"), ("kind", "auth")))] == 1.0
    text = metrics.exposition().decode()
    assert "s3cret-pw" not in text and "secret-name" not in text and "b2" not in text
    daemon.stop()


def test_a_call_the_action_stops_waiting_for_is_abandoned_not_an_error():
    """A read superseded while it hangs counts as abandoned, not as an error of the BMC."""
    clock, fleet, daemon, metrics = watched()
    daemon.reports.link_up(RecordingLink())
    fleet.bmc("b3").hang("query")
    daemon.perform_power(request(3, 3, ActionKind.ON, "b3"))
    clock.advance(0.1)
    daemon.perform_power(request(4, 3, ActionKind.OFF, "b3"))
    fleet.bmc("b3").unhang()
    advance_until_idle(clock)
    found = samples(metrics)
    assert found.get(("pserv_cluster_bmc_calls_abandoned_total", (("driver", "fake"),)), 0) >= 1.0
    assert not any(name == "pserv_cluster_bmc_errors_total" for name, _ in found)
    daemon.stop()


def test_actions_in_flight_and_waiting_and_reports_queued_are_read_at_scrape_time():
    """While an on's command hangs and an off waits behind it, the gauges say so by kind; held reports are queued."""
    clock, fleet, daemon, metrics = watched()
    fleet.bmc("b5").hang("power_on")
    daemon.perform_power(request(5, 5, ActionKind.ON, "b5"))
    clock.advance(1)
    daemon.perform_power(request(6, 5, ActionKind.OFF, "b5"))
    found = samples(metrics)
    assert {labels[0][1] for (name, labels), v in found.items() if name.endswith("in_flight") and v} == {"on"}
    assert {labels[0][1] for (name, labels), v in found.items() if name.endswith("waiting") and v} == {"off"}
    assert found[("pserv_cluster_reports_queued", ())] == daemon.reports.pending >= 1
    assert (found[("pserv_cluster_region_connected", ())], found[("pserv_cluster_nodes", ())]) == (0.0, 1.0)
    daemon.stop()


def test_power_ons_waiting_for_budget_are_counted_at_scrape_time():
    """An on under a budget whose start the region has not granted shows in the waiting-for-budget gauge."""
    clock, fleet, daemon, metrics = watched()
    daemon.perform_power(attrs.evolve(request(8, 8, ActionKind.ON, "b8"), budget="pdu-1"))
    advance_until_idle(clock)
    assert samples(metrics)[("pserv_cluster_actions_waiting_for_budget", ())] == 1.0
    daemon.stop()


def test_a_sweep_is_timed_and_its_lag_grows_only_once_overdue():
    """The sweep's seconds are observed when it ends; the lag is 0 until interval has passed since it started."""
    clock, fleet, daemon, metrics = watched()
    daemon.book.remember(request(7, 7, ActionKind.QUERY, "b7"))
    daemon.observer.sweep()
    advance_until_idle(clock)
    found = samples(metrics)
    assert found[("pserv_cluster_sweep_seconds_count", ())] == 1.0
    assert found[("pserv_cluster_sweep_seconds_sum", ())] == 0.5
    assert found[("pserv_cluster_sweep_lag_seconds", ())] == 0.0
    clock.advance(600 + 30)
    assert samples(metrics)[("pserv_cluster_sweep_lag_seconds", ())] == pytest.approx(30.5)
    daemon.stop()


def test_sessions_open_are_those_of_the_drivers_that_keep_sessions():
    """A driver with open_sessions() is listed by its power type; the fake driver, which keeps none, is not."""

    class Sessions(FakeDriver):
        def open_sessions(self):
            return 3

    clock = Clock()
    fleet = FakeFleet(clock)
    drivers = DriverSet(clock, {"fake": FakeDriver(clock, fleet), "ipmi": Sessions(clock, fleet)})
    metrics = ClusterMetrics(clock).watch(ClusterDaemon(clock, drivers))
    assert samples(metrics)[("pserv_cluster_sessions_open", (("driver", "ipmi"),))] == 3.0
    assert ("pserv_cluster_sessions_open", (("driver", "fake"),)) not in samples(metrics)


def test_two_clusters_in_one_process_keep_their_own_metrics():
    """Each ClusterMetrics has its own registry."""
    _, _, one, first = watched()
    _, _, other, second = watched()
    first.called("fake", "query", 1.0, PowerAuthError("x"))
    assert ("pserv_cluster_bmc_errors_total", (("driver", "fake"), ("kind", "auth"))) not in samples(second)


def test_a_metered_control_keeps_the_control_s_description_policy_and_result():
    """The wrapper is transparent: the bound control's description, policy and can_query, and the call's result."""
    clock, fleet, daemon, metrics = watched()
    bound = daemon.drivers.driver("fake").bind({"address": "b8"})
    control = daemon.drivers.control("fake", {"address": "b8"})
    assert control is not bound and (control.description, control.verify_policy, control.can_query) == (
        bound.description, bound.verify_policy, bound.can_query)
    result = []
    control.query().addCallback(result.append)
    clock.advance(0.5)
    assert result == [PowerState.OFF]
