"""
Tests for pserv.sim.invariants: each check fires on the fault it is for.
"""

from datetime import datetime, timezone

import pytest

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.registry import ActionEvent
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeFleet, HeapClock
from pserv.region import schema
from pserv.sim.database import fresh_engine
from pserv.sim.invariants import Checker
from pserv.sim.process import Process
from pserv.sim.truth import BMCTruth


class Action:
    def __init__(self, id, kind, boot=None):
        self.id, self.kind, self.boot = id, kind, boot


@pytest.fixture
def world():
    clock = HeapClock()
    clock.advance(1000)
    truth = BMCTruth(FakeFleet(clock))
    truth.add("bmc-1", PowerState.OFF)
    checker = Checker(clock, fresh_engine(), truth, {"bmc-1": 1})
    return clock, checker, Process("rack-1#1", "10.0.1.1", clock)


def start(checker, process, id, kind, boot=None):
    checker.registry_event(process, ActionEvent("started", "1", Action(id, ActionKind(kind), boot)))


def test_two_calls_in_flight_break_invariant_1(world):
    """A second call to a BMC while a live process's call is in flight is a violation."""
    clock, checker, process = world
    start(checker, process, -1, "query")
    checker.call_started(process, "bmc-1", "query")
    checker.call_started(Process("rack-1#2", "10.0.1.1", clock), "bmc-1", "query")
    assert [v.invariant for v in checker.violations] == [1, 4]


def test_a_dead_process_call_does_not_count(world):
    """A call left in flight by a process that died holds nothing."""
    clock, checker, process = world
    start(checker, process, -1, "query")
    checker.call_started(process, "bmc-1", "query")
    process.kill()
    later = Process("rack-1#2", "10.0.1.1", clock)
    start(checker, later, -2, "query")
    checker.call_started(later, "bmc-1", "query")
    assert checker.violations == []


def test_a_command_with_no_action_or_of_the_wrong_kind_breaks_invariant_4(world):
    """A command without a running action, or one its kind never sends, is a violation."""
    clock, checker, process = world
    checker.call_ended(checker.call_started(process, "bmc-1", "power_on"))
    start(checker, process, -1, "query")
    checker.call_ended(checker.call_started(process, "bmc-1", "power_on"))
    assert {v.invariant for v in checker.violations} == {4}
    assert "no action running" in checker.violations[0].message
    assert "not a command of that kind" in checker.violations[1].message


def test_switching_a_node_already_there_breaks_invariant_4(world):
    """An off sent to a node that has been off since before its action started is a violation."""
    clock, checker, process = world
    clock.advance(5)
    start(checker, process, -1, "off")
    checker.call_started(process, "bmc-1", "power_off")
    assert "since before the action started" in checker.violations[-1].message


def test_a_power_on_without_its_boot_device_set_first_breaks_invariant_8(world):
    """An on asked to boot from PXE that sends power_on before setting PXE is a violation; setting it first is not."""
    clock, checker, process = world
    pxe = BootSetting(BootDevice.PXE)

    def call(operation):
        checker.call_ended(checker.call_started(process, "bmc-1", operation))

    start(checker, process, -1, "on", pxe)
    call("power_on")
    assert [v.invariant for v in checker.violations] == [8]
    checker.violations.clear()
    start(checker, process, -2, "on", pxe)
    call(f"set_boot_device {pxe}")
    call("get_boot_device")
    call("power_on")
    assert checker.violations == []


def test_setting_another_boot_device_than_asked_breaks_invariant_4(world):
    """An action that sets a boot device it was not asked for (or any, asked none) is a violation."""
    clock, checker, process = world
    start(checker, process, -1, "off")
    checker.call_ended(checker.call_started(process, "bmc-1", f"set_boot_device {BootSetting(BootDevice.DISK)}"))
    assert [v.invariant for v in checker.violations] == [4]


def test_a_second_terminal_event_breaks_invariant_2(world):
    """Two terminal events for one action are a violation; an unended acknowledged action is listed."""
    clock, checker, process = world
    now = datetime(2027, 1, 1)
    with checker.engine.begin() as connection:
        for kind in ("action_done", "action_failed"):
            connection.execute(schema.events.insert().values(at=now, kind=kind, message="m", action_id=7))
    checker.acknowledged.update({7, 8})
    checker.after_step()
    assert [v.invariant for v in checker.violations] == [2]
    assert checker.unended() == [8]


def shows(checker, state, at, epoch=0, insert=False):
    """The region shows node 1 (on bmc-1) ``state`` as read at ``at`` (seconds) in ``epoch``."""
    seen = datetime.fromtimestamp(at, timezone.utc).replace(tzinfo=None)
    values = dict(power_state=state, power_state_observed_at=seen, epoch=epoch)
    with checker.engine.begin() as connection:
        if insert:
            connection.execute(schema.nodes.insert().values(
                id=1, name="n", cluster="rack-1", power_type="fake", power_parameters={"address": "bmc-1"},
                power_secrets={}, desired_power_state="on", generation=1, lifecycle="ready", created_at=seen,
                updated_at=seen, drift_policy="observe", **values,
            ))
        else:
            connection.execute(schema.nodes.update().values(**values))
    return seen


def test_recording_a_state_the_bmc_did_not_have_breaks_invariant_5(world):
    """The region showing power on as seen when the BMC was off is a violation."""
    clock, checker, process = world
    checker.reported("rack-1", 1, shows(checker, "on", clock.seconds(), insert=True))
    checker.after_step()
    assert [v.invariant for v in checker.violations] == [5]


def test_a_state_no_cluster_reported_breaks_invariant_5(world):
    """An observation the region shows that no cluster reported is a violation."""
    clock, checker, process = world
    shows(checker, "off", clock.seconds(), insert=True)
    checker.after_step()
    assert "which no cluster reported" in checker.violations[0].message


def test_a_skewed_cluster_s_read_is_checked_at_the_true_time(world):
    """A read stamped by a clock 3 s ahead is checked against the BMC 3 s earlier: right, then wrong."""
    clock, checker, process = world
    checker.offsets["rack-1"] = 3.0
    bmc = checker.truth.fleet.bmcs["bmc-1"]
    clock.advance(10)
    bmc.power_on()
    clock.advance(1)
    checker.reported("rack-1", 1, shows(checker, "on", clock.seconds() + 3.0, insert=True))
    checker.after_step()
    assert checker.violations == []
    checker.reported("rack-1", 1, shows(checker, "on", clock.seconds() - 2.0 + 3.0))
    checker.after_step()
    assert "read by rack-1" in checker.violations[-1].message and checker.violations[-1].invariant == 5


def test_an_observation_going_back_breaks_invariant_5_only_within_an_epoch(world):
    """Within an epoch the observation time never decreases; a new epoch (another cluster's clock) starts afresh."""
    clock, checker, process = world
    now = clock.seconds()
    checker.reported("rack-1", 1, shows(checker, "off", now, insert=True))
    checker.after_step()
    checker.reported("rack-1", 1, shows(checker, "off", now - 5, epoch=1))
    checker.after_step()
    assert checker.violations == []
    checker.reported("rack-1", 1, shows(checker, "off", now - 8, epoch=1))
    checker.after_step()
    assert "went back" in checker.violations[-1].message


def test_keeping_an_older_read_over_a_newer_one_of_the_epoch_breaks_invariant_5(world):
    """A read by the node's cluster in its epoch, newer than the one shown, must be shown once handled."""
    from types import SimpleNamespace

    clock, checker, process = world
    checker.reported("rack-1", 1, shows(checker, "off", clock.seconds(), insert=True))
    newer = SimpleNamespace(node=1, epoch=0, observed_at=datetime.fromtimestamp(clock.seconds() + 1, timezone.utc))
    checker.applied_or_older("rack-2", [newer])
    checker.applied_or_older("rack-1", [SimpleNamespace(node=1, epoch=1, observed_at=newer.observed_at)])
    assert checker.violations == []
    checker.applied_or_older("rack-1", [newer])
    assert "kept an older one" in checker.violations[-1].message


def ask(checker, id, kind, not_before=None, events=()):
    """Node 1 (on bmc-1) with action ``id`` of ``kind``, its events ``events`` (kinds, in order) then its request."""
    now = datetime(2027, 1, 1)
    shows(checker, "on", 1000.0, insert=True)
    with checker.engine.begin() as connection:
        for kind_of_event in events:
            connection.execute(schema.events.insert().values(at=now, kind=kind_of_event, message="m", node_id=1))
        connection.execute(schema.power_actions.insert().values(
            id=id, node_id=1, kind=kind, generation=2, status="running", requested_by="a", requested_at=now,
            cancel_requested=False, not_before=not_before))
        connection.execute(schema.events.insert().values(at=now, kind="power_requested", message="m", node_id=1,
                                                         action_id=id))


def test_an_off_for_an_action_asked_while_locked_breaks_invariant_6(world):
    """A power_off sent for an action requested after node_locked (and no unlock since) is a violation."""
    clock, checker, process = world
    ask(checker, 7, "off", events=("node_locked",))
    start(checker, process, 7, "off")
    checker.call_started(process, "bmc-1", "power_off")  # (bmc-1 is off already: invariant 4 too)
    [locked] = [v for v in checker.violations if v.invariant == 6]
    assert "action 7 was requested while the node was locked" in locked.message


def test_an_off_asked_after_an_unlock_keeps_invariant_6(world):
    """An off requested after the node was unlocked breaks nothing."""
    clock, checker, process = world
    ask(checker, 7, "off", events=("node_locked", "node_unlocked"))
    start(checker, process, 7, "off")
    checker.call_started(process, "bmc-1", "power_off")
    assert [v for v in checker.violations if v.invariant == 6] == []


def test_a_query_asked_while_locked_riding_a_later_off_keeps_invariant_6(world):
    """A query may be asked of a locked node: one that rides an off asked after the unlock breaks nothing (soak seed 10055)."""
    clock, checker, process = world
    ask(checker, 5, "query", events=("node_locked",))
    with checker.engine.begin() as connection:
        now = datetime(2027, 1, 1)
        connection.execute(schema.events.insert().values(at=now, kind="node_unlocked", message="m", node_id=1))
        connection.execute(schema.power_actions.insert().values(
            id=7, node_id=1, kind="off", generation=3, status="running", requested_by="a", requested_at=now,
            cancel_requested=False))
        connection.execute(schema.events.insert().values(at=now, kind="power_requested", message="m", node_id=1,
                                                         action_id=7))
    start(checker, process, 7, "off")
    checker.registry_event(process, ActionEvent("joined", "1", Action(7, ActionKind.OFF, None), "5"))
    checker.call_started(process, "bmc-1", "power_off")
    assert [v for v in checker.violations if v.invariant == 6] == []


def test_a_command_before_its_not_before_breaks_invariant_7(world):
    """A command sent before the earliest region clock reached the action's not_before is a violation; after, none."""
    clock, checker, process = world
    checker.region_offsets = [-2.0, 3.0]
    ask(checker, 7, "on", not_before=datetime.fromtimestamp(1010.0, timezone.utc).replace(tzinfo=None))
    clock.advance(6.9)  # t=1006.9: the fastest region's clock reads 1009.9
    start(checker, process, 7, "on")
    checker.call_ended(checker.call_started(process, "bmc-1", "power_on"))
    assert [v.invariant for v in checker.violations] == [7]
    checker.violations.clear()
    clock.advance(0.2)  # t=1007.1: that region's clock has passed 1010
    start(checker, Process("rack-1#2", "10.0.1.1", clock), 7, "on")
    checker.call_started(Process("rack-1#2", "10.0.1.1", clock), "bmc-1", "power_on")
    assert [v.invariant for v in checker.violations if v.invariant == 7] == []


def test_a_second_play_of_one_action_ending_leaves_the_first_running(world):
    """A fenced action run again is a second play of one id: the second ending unstarted leaves the first running (soak seed 10090); the first ending ends it."""
    clock, checker, process = world
    first, second = Action(7, ActionKind.SOFT_OFF), Action(7, ActionKind.SOFT_OFF)
    checker.registry_event(process, ActionEvent("started", "1", first))
    checker.registry_event(process, ActionEvent("ended", "1", second))
    checker.call_ended(checker.call_started(process, "bmc-1", "query"))
    assert checker.violations == []
    checker.registry_event(process, ActionEvent("ended", "1", first))
    checker.call_started(process, "bmc-1", "query")
    assert [v.invariant for v in checker.violations] == [4]
