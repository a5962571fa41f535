"""
Tests for pserv.cluster.power, on a Clock with the fake driver.
"""

import attrs
import pytest
from twisted.internet.task import Clock

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import ReportQueue
from pserv.power.boot import BootDevice, BootSetting
from pserv.testing.fake_driver import FakeDriver
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc.messages import PowerRequest, RecoveryAction, RecoveryNode
from pserv.testing.power import FakeFleet, advance_until_idle
from pserv.testing.cluster import RecordingLink


@pytest.fixture
def world():
    clock = Clock()
    fleet = FakeFleet(clock, latency=0.2)
    link = RecordingLink()
    reports = ReportQueue(clock)
    reports.link_up(link)
    power = ClusterPower(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), reports)
    return clock, fleet, link, power


def request(action, kind, node=1, generation=1, **params):
    return PowerRequest(action=action, node=node, name=f"n{node}", kind=ActionKind(kind), generation=generation,
                        power_type="fake", power_parameters={"address": f"bmc-{node}", **params})


def recovered(action, kind, generation, status="running", progress=None, cancel_requested=False, **boot):
    """Node 1's recovery entry, with one outstanding action."""
    outstanding = RecoveryAction(id=action, kind=ActionKind(kind), generation=generation,
                                 status=ActionStatus(status), progress=progress, cancel_requested=cancel_requested,
                                 **boot)
    return RecoveryNode(node=1, name="n1", power_type="fake", power_parameters={"address": "bmc-1"},
                        desired_power_state=PowerState.ON, generation=generation, actions=(outstanding,))


def test_perform_reports_running_then_outcome(world):
    """A region action runs under its own id and reports running, then its verified outcome."""
    clock, fleet, link, power = world
    power.perform(request(10, "on"))
    advance_until_idle(clock)
    assert link.reports == [("running", 10), ("outcome", 10, "done", "on")]
    assert fleet.bmcs["bmc-1"].power is PowerState.ON and power.outstanding == frozenset()


def test_a_soft_off_escalates_after_the_region_says(world):
    """A region soft_off with escalate_after, on an OS that ignores it, is forced off: soft_off, then power_off."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power, bmc.shutdown_time = PowerState.ON, None
    power.perform(attrs.evolve(request(10, "soft_off"), escalate_after=30.0))
    advance_until_idle(clock)
    assert [c for _, c in bmc.commands] == ["soft_off", "power_off"] and bmc.power is PowerState.OFF
    assert [r for r in link.reports if r[0] == "outcome"] == [("outcome", 10, "done", "off")]


def test_redelivery_changes_nothing(world):
    """An action delivered twice (request and recovery) runs and reports once."""
    clock, fleet, link, power = world
    power.perform(request(10, "on"))
    power.perform(request(10, "on"))
    advance_until_idle(clock)
    assert [r for r in link.reports if r[0] == "outcome"] == [("outcome", 10, "done", "on")]


def test_an_ended_action_delivered_again_is_not_run_again(world):
    """A recovery answer made before the region heard an outcome does not run a finished cycle twice."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    power.perform(request(10, "cycle"))
    advance_until_idle(clock)
    power.converge([recovered(10, "cycle", 1, progress="off_verified")])
    power.perform(request(10, "cycle"))
    advance_until_idle(clock)
    assert [c for _, c in bmc.commands] == ["power_off", "power_on"]
    assert [r for r in link.reports if r[0] == "outcome"] == [("outcome", 10, "done", "on")]


def test_an_action_whose_outcome_was_refused_runs_again_when_recovery_lists_it(world):
    """A cycle ended while its node failed over (outcome refused) is not taken for ended: when the node comes back it finishes as on, sending nothing more."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    link.refuse.add(10)
    power.perform(request(10, "cycle"))
    advance_until_idle(clock)
    power.converge([recovered(10, "cycle", 1, progress="off_verified")])
    advance_until_idle(clock)
    assert [c for _, c in bmc.commands] == ["power_off", "power_on"]
    assert [r for r in link.reports if r[0] == "outcome"] == [("outcome", 10, "done", "on")] * 2


def test_cancel_while_the_milestone_is_written_is_a_cancel(world):
    """A cancel arriving while a cycle waits for the region to record off_verified ends it cancelled, not failed."""
    clock, fleet, link, power = world
    fleet.bmc("bmc-1").power = PowerState.ON
    link.hold()
    power.perform(request(10, "cycle"))
    advance_until_idle(clock)
    assert [c for _, c in fleet.bmcs["bmc-1"].commands] == ["power_off"]
    power.cancel(1, 10)
    link.release()
    advance_until_idle(clock)
    assert link.reports[-1] == ("outcome", 10, "cancelled", "off")


def test_supersede_across_actions(world):
    """on then off in quick succession ends off, the on reported superseded by the off."""
    clock, fleet, link, power = world
    power.perform(request(10, "on", generation=1))
    power.perform(request(11, "off", generation=2))
    advance_until_idle(clock)
    outcomes = [r for r in link.reports if r[0] == "outcome"]
    assert outcomes == [("outcome", 10, "superseded", None), ("outcome", 11, "done", "off")]
    assert fleet.bmcs["bmc-1"].commands == []


def test_a_query_riding_a_cycle_records_no_milestone(world):
    """A region query riding a cycle is answered by it, but off_verified is recorded only for the power requests."""
    clock, fleet, link, power = world
    fleet.bmc("bmc-1").power = PowerState.ON
    power.perform(request(10, "cycle", generation=1))
    power.perform(request(12, "query", generation=1))
    advance_until_idle(clock)
    assert ("progress", 10, "off_verified") in link.reports
    assert not [r for r in link.reports if r[:2] == ("progress", 12)]
    assert ("outcome", 12, "done", "on") in link.reports


def test_riders_get_their_own_reports(world):
    """A region action that joins another's gets running, progress and outcome reports of its own."""
    clock, fleet, link, power = world
    fleet.bmc("bmc-1").power = PowerState.ON
    power.perform(request(10, "cycle", generation=1))
    power.perform(request(11, "on", generation=2))
    advance_until_idle(clock)
    assert ("progress", 10, "off_verified") in link.reports and ("progress", 11, "off_verified") in link.reports
    assert ("outcome", 11, "done", "on") in link.reports and ("running", 11) in link.reports


def test_cycle_waits_for_the_region_to_record_off(world):
    """A cycle sends power_on only after the region acknowledged off_verified."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    power.perform(request(10, "cycle"))
    advance_until_idle(clock)
    link.hold()
    power.perform(request(12, "query", node=2))
    advance_until_idle(clock)
    assert [c for _, c in bmc.commands] == ["power_off", "power_on"]


def test_bad_settings_fail_fatally_at_once(world):
    """An action whose settings the driver refuses is reported failed, fatal, without running."""
    clock, fleet, link, power = world
    power.perform(request(10, "on", latency="soon"))
    assert link.reports == [("outcome", 10, "failed", None)]


def test_cancel_own_and_rider(world):
    """Cancelling an action stops it at its safe point; cancelling a rider reports it cancelled at once."""
    clock, fleet, link, power = world
    power.perform(request(10, "on", generation=1))
    power.perform(request(11, "query", generation=1))
    assert power.cancel(1, 11) and ("outcome", 11, "cancelled", None) in link.reports
    assert power.cancel(1, 10)
    assert not power.cancel(1, 99)
    advance_until_idle(clock)
    outcomes = [r for r in link.reports if r[0] == "outcome"]
    assert outcomes == [("outcome", 11, "cancelled", None), ("outcome", 10, "cancelled", None)]


def test_converge_finishes_an_interrupted_cycle_with_on(world):
    """Recovery of a cycle already verified off switches the node on, and never off again."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    power.converge([recovered(20, "cycle", 3, progress="off_verified")])
    advance_until_idle(clock)
    assert bmc.commands == [] and ("outcome", 20, "done", "on") in link.reports


def test_converge_ends_cancelled_actions_without_running(world):
    """Recovery of an action cancelled meanwhile reports it cancelled and sends nothing."""
    clock, fleet, link, power = world
    power.converge([recovered(30, "on", 1, status="sent", cancel_requested=True)])
    advance_until_idle(clock)
    assert link.reports == [("outcome", 30, "cancelled", None)]
    assert fleet.bmc("bmc-1").commands == []


def outcomes(link):
    """The outcome reports, as short tuples."""
    return [r for r in link.reports if r[0] == "outcome"]


def test_cancelling_a_cycle_leaves_the_on_that_joined_it_done(world):
    """cycle 10 in flight, on 11 joins, cancel 10: 10 ends cancelled, 11 done with the node on."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    power.perform(request(10, "cycle", generation=1))
    clock.pump([0.1] * 4)
    power.perform(request(11, "on", generation=2))
    assert power.cancel(1, 10)
    advance_until_idle(clock)
    assert sorted(outcomes(link)) == [("outcome", 10, "cancelled", "off"), ("outcome", 11, "done", "on")]
    assert bmc.power is PowerState.ON and power.outstanding == frozenset()


def test_cancelling_a_joiner_leaves_the_action_it_joined(world):
    """on 11 joined cycle 10; cancelling 11 reports it cancelled at once and the cycle goes on, done."""
    clock, fleet, link, power = world
    fleet.bmc("bmc-1").power = PowerState.ON
    power.perform(request(10, "cycle", generation=1))
    power.perform(request(11, "on", generation=2))
    assert power.cancel(1, 11) and outcomes(link) == [("outcome", 11, "cancelled", None)]
    advance_until_idle(clock)
    assert outcomes(link)[1:] == [("outcome", 10, "done", "on")]
    assert ("progress", 11, "off_verified") not in link.reports


def test_recovery_seeds_the_generation(world):
    """After a recovery answer at generation 7, a late request at generation 5 is superseded and sends nothing."""
    clock, fleet, link, power = world
    power.converge([recovered(20, "on", 7, status="sent", cancel_requested=True)])
    power.perform(request(5, "on", generation=5))
    advance_until_idle(clock)
    assert ("outcome", 5, "superseded", None) in link.reports
    assert fleet.bmc("bmc-1").commands == []


def test_recovery_converges_on_the_newest_intent():
    """With a zero-latency driver, an on node with [off g3, on g4] outstanding gets nothing: off superseded by on."""
    clock = Clock()
    fleet = FakeFleet(clock)
    link = RecordingLink()
    reports = ReportQueue(clock)
    reports.link_up(link)
    power = ClusterPower(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), reports)
    bmc = fleet.bmc("bmc-1", power=PowerState.ON)
    older = RecoveryAction(id=3, kind=ActionKind.OFF, generation=3, status=ActionStatus.SENT, progress=None,
                           cancel_requested=False)
    newer = RecoveryAction(id=4, kind=ActionKind.ON, generation=4, status=ActionStatus.PENDING, progress=None,
                           cancel_requested=False)
    power.converge([RecoveryNode(node=1, name="n1", power_type="fake", power_parameters={"address": "bmc-1"},
                                 desired_power_state=PowerState.ON, generation=4, actions=(older, newer))])
    advance_until_idle(clock)
    assert bmc.commands == []
    ended = {o.action: (o.status.value, o.superseded_by) for o in link.outcomes}
    assert ended == {3: ("superseded", 4), 4: ("done", None)}


def test_a_cycle_with_a_boot_device_sets_it_before_the_off(world):
    """A region cycle with boot_device pxe sets PXE on the BMC before power_off, and ends done."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.power = PowerState.ON
    power.perform(attrs.evolve(request(10, "cycle"), boot_device=BootDevice.PXE))
    advance_until_idle(clock)
    assert [s for _, s in bmc.boot_sets] == [BootSetting(BootDevice.PXE)]
    assert bmc.boot_sets[0][0] <= bmc.commands[0][0] and [c for _, c in bmc.commands] == ["power_off", "power_on"]
    assert link.reports[-1] == ("outcome", 10, "done", "on")


def test_recovery_sets_the_boot_device_again_before_the_power_command(world):
    """A cycle with a boot device interrupted after off_verified (a crash) finishes as on, setting the boot device again first."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    power.converge([recovered(10, "cycle", 1, progress="off_verified", boot_device=BootDevice.PXE,
                              boot_persistent=True)])
    advance_until_idle(clock)
    assert [s for _, s in bmc.boot_sets] == [BootSetting(BootDevice.PXE, True)]
    assert bmc.boot_sets[0][0] <= bmc.commands[0][0] and [c for _, c in bmc.commands] == ["power_on"]


def test_a_boot_device_for_a_driver_that_cannot_set_one_fails_fatally(world):
    """An on with a boot device whose BMC cannot set one fails fatally with nothing sent."""
    clock, fleet, link, power = world
    bmc = fleet.bmc("bmc-1")
    bmc.can_set_boot = False
    power.registry.request("1", "on", bmc, boot=BootSetting(BootDevice.PXE)).addCallback(link.reports.append)
    advance_until_idle(clock)
    [outcome] = link.reports
    assert outcome.fatal and "cannot set a boot device" in outcome.error and bmc.commands == []
