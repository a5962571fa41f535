"""
Tests for pserv.cluster.observer, on a Clock with the fake driver.
"""

import pytest
from twisted.internet.task import Clock

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.nodes import NodeBook
from pserv.cluster.observer import PowerObserver
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import ReportQueue
from pserv.testing.fake_driver import FakeDriver
from pserv.power.errors import PowerTransientError
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind, PowerState
from pserv.rpc import wire
from pserv.rpc.messages import PowerRequest, RecoveryNode
from pserv.testing.power import FakeFleet, advance_until_idle
from pserv.testing.cluster import RecordingLink
from pserv.util.backoff import exponential

QUICK = VerifyPolicy(query_deadline=1.0, read_timeout=1.0, backoff=exponential(0.5, 0.5))


class StatesLink(RecordingLink):
    def __init__(self):
        super().__init__()
        self.states = []

    def report_power_states(self, states):
        self.states.append(wire.unstructure(tuple(states)))
        return super().report_power_states(states)


@pytest.fixture
def world():
    clock = Clock()
    fleet = FakeFleet(clock, latency=0.1, policy=QUICK)
    link = StatesLink()
    reports = ReportQueue(clock)
    reports.link_up(link)
    power = ClusterPower(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), reports)
    book = NodeBook()
    book.replace([RecoveryNode(node=n, name=f"n{n}", power_type="fake", power_parameters={"address": f"b{n}"},
                               desired_power_state=PowerState.UNKNOWN, generation=1, actions=())
                  for n in (1, 2, 3)])
    observer = PowerObserver(clock, book, power, reports, interval=60, failures_before_error=2, batch=2)
    return clock, fleet, link, power, observer


def sweep(clock, observer):
    done = []
    observer.sweep().addCallback(done.append)
    advance_until_idle(clock, 30)
    assert done


def flat(link):
    return sorted((s["node"], s["power_state"]) for batch in link.states for s in batch)


def test_sweep_reports_every_node_in_batches(world):
    """A sweep reads every node and reports what it saw, in batches."""
    clock, fleet, link, power, observer = world
    fleet.bmc("b2").power = PowerState.ON
    sweep(clock, observer)
    assert flat(link) == [(1, "off"), (2, "on"), (3, "off")]
    assert [len(b) for b in link.states] == [2, 1]
    assert all(s["observed_at"].endswith("Z") for b in link.states for s in b)


def test_nodes_with_an_action_in_play_are_skipped(world):
    """A node with an action in play is not read by the sweep."""
    clock, fleet, link, power, observer = world
    power.perform(PowerRequest(action=5, node=1, name="n1", kind=ActionKind.ON, generation=1,
                               power_type="fake", power_parameters={"address": "b1"}))
    sweep(clock, observer)
    assert 1 not in [s["node"] for b in link.states for s in b]


def test_repeated_failures_become_power_error_with_backoff(world):
    """A node failing N reads in a row is reported as power error, then read less often; no power change."""
    clock, fleet, link, power, observer = world
    bmc = fleet.bmc("b3")
    bmc.fail_next("query", PowerTransientError("fake BMC b3: busy"), times=1000)
    for _ in range(2):
        sweep(clock, observer)
    errors = [s for b in link.states for s in b if s["node"] == 3]
    assert [(s["power_state"], s["error"]) for s in errors][-1][0] == "error"
    assert "busy" in errors[-1]["error"]
    reads_before = len(bmc._failures["query"])
    sweep(clock, observer)
    assert len(bmc._failures["query"]) == reads_before
    assert bmc.commands == []


def test_one_dead_bmc_does_not_hold_the_sweep(world):
    """A BMC that never answers takes one slot; the other nodes are reported all the same."""
    clock, fleet, link, power, observer = world
    fleet.bmc("b1").hang()
    sweep(clock, observer)
    assert (2, "off") in flat(link) and (3, "off") in flat(link)


def test_each_sweep_is_told_how_long_it_took_and_the_lag_follows_the_last_complete_one(world):
    """on_swept hears each sweep's seconds; lag is 0 before any sweep and until interval has passed since its start."""
    clock, fleet, link, power, observer = world
    told = []
    observer.on_swept = told.append
    assert observer.lag(clock.seconds()) == 0.0
    start = clock.seconds()
    observer.sweep()
    advance_until_idle(clock)
    assert told == [pytest.approx(0.1)]
    assert observer.lag(start + 60) == 0.0 and observer.lag(start + 75) == pytest.approx(15)
    second = clock.seconds()
    fleet.bmc("b1").hang("query")
    observer.sweep()  # its read of b1 times out after the query deadline, and then it ends
    clock.advance(0.5)
    assert observer.lag(second + 70) == pytest.approx(second + 10)  # the first's: the second has not ended
    advance_until_idle(clock)
    assert len(told) == 2 and observer.lag(second + 70) == pytest.approx(10)
    assert observer.lag(second + 61) == pytest.approx(1)
