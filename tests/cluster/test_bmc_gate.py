"""
Tests for pserv.cluster.bmc_gate, on a Clock.
"""

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock

from pserv.cluster.bmc_gate import BmcGate, BmcGates, BmcLimits, bmc_of
from pserv.cluster.driver_set import DriverSet
from pserv.cluster.lease import Lease, LeasedControl
from pserv.power.actions import OnAction, QueryAction
from pserv.power.errors import PowerAuthError
from pserv.power.policy import VerifyPolicy
from pserv.power.states import PowerState
from pserv.testing.fake_driver import FakeDriver
from pserv.testing.power import FakeFleet, advance_until_idle

QUICK = VerifyPolicy(query_deadline=1.0, read_timeout=1.0)


@pytest.fixture
def clock():
    return Clock()


def limited(clock, interval=0.0, concurrent=None):
    gate = BmcGate(clock)
    gate.name(1, BmcLimits(interval, concurrent))
    return gate


def started(gate, count):
    """Ask ``count`` turns; the list of turns given so far (it fills as they are given)."""
    given = []
    for _ in range(count):
        gate.turn().addCallback(given.append)
    return given


def test_no_limits_means_no_turn(clock):
    """A BMC none of whose nodes names a limit offers no turn: nothing waits."""
    gate = BmcGate(clock)
    gate.name(1, BmcLimits())
    assert gate.turn() is None


def test_interval_between_starts(clock):
    """Turns start min_command_interval apart, the first at once."""
    gate = limited(clock, interval=2.0)
    times = []
    for _ in range(3):
        gate.turn().addCallback(lambda turn: (times.append(clock.seconds()), turn.over()))
    advance_until_idle(clock)
    assert times == [0, 2.0, 4.0]


def test_interval_counts_from_the_last_start_not_its_end(clock):
    """A call that ran longer than the interval has used it up: the next starts as the first ends."""
    gate = limited(clock, interval=2.0, concurrent=1)
    given = started(gate, 2)
    clock.advance(3.0)
    given[0].over()
    assert (len(given), gate.in_flight) == (2, 1)


def test_concurrency_cap(clock):
    """At most max_concurrent turns are out at once; ending one gives the next."""
    gate = limited(clock, concurrent=2)
    given = started(gate, 3)
    assert (len(given), gate.in_flight, gate.waiting) == (2, 2, 1)
    given[0].over()
    assert (len(given), gate.in_flight, gate.waiting) == (3, 2, 0)


def test_turn_ended_twice_counts_once(clock):
    """Ending a turn twice frees one slot, not two."""
    gate = limited(clock, concurrent=1)
    given = started(gate, 3)
    given[0].over()
    given[0].over()
    assert (len(given), gate.in_flight) == (2, 1)


def test_strictest_of_several_nodes_wins(clock):
    """The largest interval and the smallest concurrency any node names are in force; a node leaving relaxes them."""
    gate = BmcGate(clock)
    gate.name(1, BmcLimits(1.0, 4))
    gate.name(2, BmcLimits(3.0, None))
    gate.name(3, BmcLimits(0.0, 2))
    assert gate.limits == BmcLimits(3.0, 2)
    gate.forget(2)
    assert gate.limits == BmcLimits(1.0, 2)
    gate.name(3, BmcLimits())
    assert gate.limits == BmcLimits(1.0, 4)


def test_a_node_names_its_new_settings(clock):
    """A node's limits replace what it named before, through the cluster's gates."""
    gates = BmcGates(clock)
    gates.gate("fake", {"address": "chassis", "min_command_interval": 5.0}, node=1)
    gate = gates.gate("fake", {"address": "chassis", "min_command_interval": 1.0}, node=1)
    assert gate.limits == BmcLimits(1.0, None)


def test_nodes_naming_one_bmc_share_its_gate(clock):
    """Nodes of one power type and address share a gate; another address, port or type has its own; wol has none."""
    gates = BmcGates(clock)
    a = gates.gate("ipmi", {"address": "10.0.0.5", "port": 623}, node=1)
    assert gates.gate("ipmi", {"address": "10.0.0.5", "port": 623}, node=2) is a
    assert gates.gate("ipmi", {"address": "10.0.0.5", "port": 624}, node=3) is not a
    assert gates.gate("snmp_pdu", {"address": "10.0.0.5", "port": 623}, node=4) is not a
    assert gates.gate("redfish", {"address": "https://bmc:443"}, node=5) is gates.gate(
        "redfish", {"address": "bmc"}, node=6)
    assert gates.gate("wol", {"mac": "00:11:22:33:44:55"}, node=7) is None
    assert bmc_of("manual", {}) is None


def test_nodes_no_longer_held_are_forgotten(clock):
    """keep() drops the limits of nodes the cluster holds no more."""
    gates = BmcGates(clock)
    gates.gate("fake", {"address": "chassis", "max_concurrent": 1}, node=1)
    gate = gates.gate("fake", {"address": "chassis", "max_concurrent": 3}, node=2)
    gates.keep({2})
    assert gate.limits == BmcLimits(0.0, 3)


def test_node_moving_to_another_bmc_leaves_the_old_gate(clock):
    """A node that names another BMC now no longer limits its old one."""
    gates = BmcGates(clock)
    old = gates.gate("fake", {"address": "a", "max_concurrent": 1}, node=1)
    gates.gate("fake", {"address": "b", "max_concurrent": 1}, node=1)
    assert old.limits.unlimited


def test_cancelled_waiter_leaves_the_line_and_never_calls(clock):
    """A waiter cancelled before its turn is removed: it gets no turn and holds no slot."""
    gate = limited(clock, concurrent=1)
    first = gate.turn()
    second = gate.turn()
    third = gate.turn()
    second.addErrback(lambda f: f.trap(CancelledError))
    second.cancel()
    assert gate.waiting == 1
    given = []
    third.addCallback(given.append)
    first.result.over()
    assert (len(given), gate.in_flight, gate.waiting) == (1, 1, 0)


def test_cancelled_waiter_during_the_interval(clock):
    """A waiter cancelled while the interval runs is never given a turn, and the next one is, on time."""
    gate = limited(clock, interval=1.0)
    gate.turn().result.over()
    waiting, after = gate.turn(), gate.turn()
    waiting.addErrback(lambda f: f.trap(CancelledError))
    waiting.cancel()
    times = []
    after.addCallback(lambda turn: times.append(clock.seconds()))
    clock.advance(1.0)
    assert times == [1.0]


def gated(clock, interval=0.0, concurrent=None):
    """A fake control of BMC "chassis" through the cluster's DriverSet, under the given limits."""
    fleet = FakeFleet(clock, latency=0.5, policy=QUICK)
    drivers = DriverSet(clock, {"fake": FakeDriver(clock, fleet)})
    params = {"address": "chassis", "min_command_interval": interval or None, "max_concurrent": concurrent}
    return fleet, drivers, lambda node: drivers.control("fake", params, node)


def test_slot_released_when_the_call_succeeds_or_fails(clock):
    """Each call's turn ends with it, success or failure, so the next read goes."""
    fleet, drivers, control = gated(clock, concurrent=1)
    fleet.bmc("chassis").fail_next("query", PowerAuthError("no"))
    failing = QueryAction(control(1), clock)
    failing.start()
    reading = QueryAction(control(2), clock)
    reading.start()
    advance_until_idle(clock)
    assert failing.error is not None and reading.state is PowerState.OFF
    assert drivers.gates.gate("fake", {"address": "chassis"}, None).in_flight == 0


def test_slot_released_when_the_call_times_out(clock):
    """A call that times out ends its turn: the BMC's next call is not held up by it."""
    fleet, drivers, control = gated(clock, concurrent=1)
    bmc = fleet.bmc("chassis")
    bmc.hang("query")
    hung = QueryAction(control(1), clock)
    hung.start()
    clock.advance(QUICK.read_timeout)
    gate = drivers.gates.gate("fake", {"address": "chassis"}, None)
    assert gate.in_flight == 0 or gate.waiting == 0
    bmc.unhang()
    advance_until_idle(clock)
    assert hung.done.called and gate.in_flight == 0


def test_slot_released_when_the_action_is_cancelled_mid_call(clock):
    """A read cancelled at its safe point while in flight ends its turn."""
    fleet, drivers, control = gated(clock, concurrent=1)
    reading = QueryAction(control(1), clock)
    reading.start()
    gate = drivers.gates.gate("fake", {"address": "chassis"}, None)
    assert gate.in_flight == 1
    reading.cancel()
    assert reading.stopped and gate.in_flight == 0


def test_turn_passes_through_other_wrappers(clock):
    """A lease's control over a gated one offers the gate's turn; a refused call ends its turn."""
    fleet, drivers, control = gated(clock, concurrent=1)
    lease = Lease(clock, lambda: None)
    leased = LeasedControl(control(1), lease)
    assert leased.turn is not None
    action = QueryAction(leased, clock)
    action.start()
    advance_until_idle(clock)
    assert action.error is not None and drivers.gates.gate("fake", {"address": "chassis"}, None).in_flight == 0


def calls_to(bmc, clock):
    """When each call to ``bmc`` started, reads included (a list that fills as they do)."""
    times = []
    answer = bmc._call
    bmc._call = lambda operation, reply: (times.append(clock.seconds()), answer(operation, reply))[1]
    return times


def test_chassis_nodes_calls_spaced(clock):
    """Power-ons of four nodes of one chassis BMC with a 2 s interval: every call, reads included, 2 s apart at least."""
    fleet, drivers, control = gated(clock, interval=2.0)
    times = calls_to(fleet.bmc("chassis"), clock)
    for node in range(4):
        OnAction(control(node), clock, policy=VerifyPolicy(deadline=120.0)).start()
    advance_until_idle(clock)
    assert len(fleet.bmc("chassis").commands) == 4  # each read it off, in line, before any was switched on
    assert len(times) > 4 and all(b - a >= 2.0 for a, b in zip(times, times[1:]))
