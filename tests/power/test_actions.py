"""
Tests for pserv.power.actions: what each of the five actions does, on a
Clock against the in-memory BMC.
"""

import pytest
from twisted.internet.defer import Deferred, succeed

from pserv.power.actions import (
    CycleAction,
    OffAction,
    OnAction,
    QueryAction,
    SoftOffAction,
)
from pserv.power.boot import BootDevice, BootSetting
from pserv.power.errors import (
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.lifecycle import ActionState
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle
from tests.power.running import run, sent

ON, OFF = PowerState.ON, PowerState.OFF


def no_query_bmc(clock, **kwargs):
    """A BMC whose driver declares it cannot read power, like Wake-on-LAN."""
    return FakeBMC(clock, can_query=False, **kwargs)


def refusing_bmc(clock, **kwargs):
    """A BMC whose driver says it can read, but whose reads answer unsupported."""
    bmc = FakeBMC(clock, **kwargs)
    bmc.refuse_reads()
    return bmc


def test_on_sends_once_and_verifies(clock):
    """on for a node that is off sends power_on once and verifies it."""
    bmc = FakeBMC(clock, power=OFF)
    action = run(OnAction, bmc, clock)
    assert (action.state, action.error, sent(bmc)) == (ON, None, ["power_on"])
    assert action.lifecycle.state is ActionState.DONE


def test_on_when_on_sends_nothing(clock):
    """on for a node that is on reads once and sends nothing."""
    bmc = FakeBMC(clock, power=ON)
    action = run(OnAction, bmc, clock)
    assert (action.state, sent(bmc), bmc.reads) == (ON, [], 1)


def test_off_when_off_sends_nothing(clock):
    """off for a node that is off reads once and sends nothing."""
    bmc = FakeBMC(clock, power=OFF)
    action = run(OffAction, bmc, clock)
    assert (action.state, sent(bmc), bmc.reads) == (OFF, [], 1)


def test_off_switches_off(clock):
    """off for a node that is on sends power_off and verifies it."""
    bmc = FakeBMC(clock, power=ON)
    action = run(OffAction, bmc, clock)
    assert (action.state, sent(bmc)) == (OFF, ["power_off"])


def test_cycle_on_node(clock):
    """cycle of a node that is on: off, verified, then on, verified."""
    bmc = FakeBMC(clock, power=ON, settle=1.0)
    milestones = []
    action = run(CycleAction, bmc, clock, on_progress=lambda a, m: milestones.append(m))
    assert (action.state, sent(bmc), milestones) == (ON, ["power_off", "power_on"], ["off_verified"])
    assert [state for _, state in bmc.changes] == [OFF, ON]


def test_cycle_off_node_just_switches_on(clock):
    """cycle of a node found off simply switches it on."""
    bmc = FakeBMC(clock, power=OFF)
    action = run(CycleAction, bmc, clock)
    assert (action.state, sent(bmc)) == (ON, ["power_on"])


def test_cycle_waits_cycle_delay(clock):
    """cycle pauses the policy's cycle_delay between verified off and on."""
    from pserv.power.policy import VerifyPolicy

    bmc = FakeBMC(clock, power=ON, policy=VerifyPolicy(cycle_delay=5.0))
    run(CycleAction, bmc, clock)
    (off_at, _), (on_at, _) = bmc.commands
    assert on_at - off_at == 0.5 + 5.0


def test_cycle_never_runs_on_failed_read(clock):
    """A cycle whose reads keep failing sends nothing and says so."""
    bmc = FakeBMC(clock, power=ON)
    bmc.fail_next("query", PowerTransientError("busy"), times=1000)
    action = run(CycleAction, bmc, clock)
    assert sent(bmc) == []
    assert isinstance(action.error, PowerTransientError)
    assert "nothing was sent" in str(action.error)


def test_query_reports_state(clock):
    """query reads the power state and sends nothing."""
    bmc = FakeBMC(clock, power=ON)
    action = run(QueryAction, bmc, clock)
    assert (action.state, sent(bmc)) == (ON, [])


def test_query_unsupported(clock):
    """query of a driver that cannot read power fails as unsupported."""
    action = run(QueryAction, no_query_bmc(clock), clock)
    assert isinstance(action.error, PowerUnsupportedError)


def test_on_without_query_sends_and_reports_unknown(clock):
    """on through a driver that cannot read sends once and reports unknown."""
    bmc = no_query_bmc(clock, power=OFF)
    action = run(OnAction, bmc, clock)
    assert (action.state, action.error, sent(bmc)) == (PowerState.UNKNOWN, None, ["power_on"])


def test_without_query_reads_nothing_and_sends_what_was_asked(clock):
    """Through a driver that cannot read, off and soft_off send their one command unread, unescalated."""
    for cls, kwargs, command in [(OffAction, {}, "power_off"), (SoftOffAction, {"escalate_after": 5.0}, "soft_off")]:
        bmc = no_query_bmc(clock, power=ON, shutdown_time=None)
        action = run(cls, bmc, clock, **kwargs)
        assert (action.state, action.error, sent(bmc), bmc.reads) == (PowerState.UNKNOWN, None, [command], 0)


@pytest.mark.parametrize("cls", [OnAction, OffAction, SoftOffAction, CycleAction])
@pytest.mark.parametrize("power", [ON, OFF])
def test_refused_first_read_sends_nothing(clock, cls, power):
    """A BMC that refuses the first read as unsupported gets no command: the action fails fatally, saying so."""
    bmc = refusing_bmc(clock, power=power)
    action = run(cls, bmc, clock, **({"escalate_after": 5.0} if cls is SoftOffAction else {}))
    assert (sent(bmc), action.commands, action.state, action.observed_at) == ([], [], None, None)
    assert isinstance(action.error, PowerUnsupportedError) and action.error.fatal
    assert str(action.error).startswith("fake BMC fake: the BMC refused to read power, so nothing was sent")
    assert clock.seconds() == 0


def test_query_of_a_refusing_bmc_says_the_bmc_refused(clock):
    """A query of a BMC that refuses reads fails fatally, naming the refusal."""
    action = run(QueryAction, refusing_bmc(clock, power=ON), clock)
    assert isinstance(action.error, PowerUnsupportedError)
    assert "the BMC refused to read power" in str(action.error)


def test_cycle_without_query_refuses(clock):
    """cycle through a driver that cannot read refuses, sending nothing."""
    bmc = no_query_bmc(clock, power=ON)
    action = run(CycleAction, bmc, clock)
    assert isinstance(action.error, PowerUnsupportedError)
    assert sent(bmc) == []


def test_soft_off_graceful(clock):
    """soft_off asks the OS to shut down and verifies the node goes off."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=30.0)
    action = run(SoftOffAction, bmc, clock)
    assert (action.state, sent(bmc)) == (OFF, ["soft_off"])


def test_soft_off_escalates(clock):
    """soft_off escalates to a hard off when the OS ignores it."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    milestones = []
    action = run(
        SoftOffAction, bmc, clock, escalate_after=20.0,
        on_progress=lambda a, m: milestones.append(m),
    )
    assert (action.state, sent(bmc), milestones) == (OFF, ["soft_off", "power_off"], ["escalating"])
    assert bmc.commands[1][0] == 20.0


def test_soft_off_without_escalation_times_out(clock):
    """soft_off without escalation fails after the soft-off timeout, sending nothing more."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    action = run(SoftOffAction, bmc, clock)
    assert isinstance(action.error, PowerVerifyError)
    assert str(action.error).startswith("expected power off, last saw on after 300s")
    assert sent(bmc) == ["soft_off"]


def test_cancel_during_graceful_wait_for_forcing_successor(clock):
    """The wait for a graceful shutdown ends at once when the successor forces off."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    action = SoftOffAction(bmc, clock)
    action.start()
    clock.advance(10)
    action.cancel(ActionKind.OFF)
    assert action.lifecycle.state is ActionState.DONE
    assert clock.seconds() == 10


def test_cancel_during_graceful_wait_for_on_waits_for_shutdown(clock):
    """With an on to follow, the soft off keeps waiting until the shutdown is seen."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=40.0)
    action = SoftOffAction(bmc, clock)
    action.start()
    clock.advance(10)
    action.cancel(ActionKind.ON)
    assert action.lifecycle.state is ActionState.CANCELLING
    advance_until_idle(clock)
    assert action.lifecycle.state is ActionState.DONE
    assert (bmc.power, action.state) == (OFF, OFF)


def test_recancel_with_forcing_successor_ends_graceful_wait(clock):
    """Cancelling again with a successor that forces off ends the graceful wait."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    action = SoftOffAction(bmc, clock)
    action.start()
    clock.advance(10)
    action.cancel(ActionKind.ON)
    assert action.lifecycle.state is ActionState.CANCELLING
    action.cancel(ActionKind.CYCLE)
    assert action.lifecycle.state is ActionState.DONE


def test_cancel_during_cycle_delay(clock):
    """The pause between a cycle's off and on is a safe point."""
    from pserv.power.policy import VerifyPolicy

    bmc = FakeBMC(clock, power=ON, policy=VerifyPolicy(cycle_delay=30.0))
    action = CycleAction(bmc, clock)
    action.start()
    clock.advance(10)
    assert action.progress == "off_verified"
    action.cancel(ActionKind.OFF)
    assert action.lifecycle.state is ActionState.DONE
    advance_until_idle(clock)
    assert sent(bmc) == ["power_off"]


def test_cycle_waits_for_its_milestone_to_be_recorded(clock):
    """A cycle sends power_on only once its off_verified milestone has been recorded."""
    bmc = FakeBMC(clock, power=ON)
    recorded = Deferred()
    action = CycleAction(bmc, clock, on_progress=lambda a, m: recorded if m == "off_verified" else None)
    action.start()
    advance_until_idle(clock)
    assert sent(bmc) == ["power_off"] and action.progress == "off_verified"
    recorded.callback(None)
    advance_until_idle(clock)
    assert sent(bmc) == ["power_off", "power_on"] and action.state is ON


def test_escalation_reads_again_after_its_milestone(clock):
    """An OS that shuts down while the escalation is being recorded gets no power_off: the fresh read sees it off."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=22.0)
    recorded = Deferred()
    action = SoftOffAction(bmc, clock, escalate_after=20.0, on_progress=lambda a, m: recorded)
    action.start()
    advance_until_idle(clock, 20)
    assert action.progress == "escalating" and bmc.power is ON
    clock.advance(5)
    recorded.callback(None)
    advance_until_idle(clock)
    assert (action.state, action.error, sent(bmc), action.observed_at) == (OFF, None, ["soft_off"], 25.0)


def test_escalation_reads_again_when_the_last_wait_read_failed(clock):
    """If the graceful wait's last read failed, the escalation reads before forcing: an OS gone off is left alone."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=18.0)
    action = SoftOffAction(bmc, clock, escalate_after=20.0)
    action.start()
    advance_until_idle(clock, 16)
    bmc.fail_next("query", PowerTransientError("busy"))
    advance_until_idle(clock)
    assert (action.state, action.error, sent(bmc)) == (OFF, None, ["soft_off"])


def test_escalation_read_refused_sends_no_power_off(clock):
    """A BMC that refuses the escalation's read is not forced off blind: the action fails, saying power_off was not sent."""
    bmc = FakeBMC(clock, power=ON, shutdown_time=None)
    recorded = Deferred()
    action = SoftOffAction(bmc, clock, escalate_after=20.0, on_progress=lambda a, m: recorded)
    action.start()
    advance_until_idle(clock, 20)
    bmc.refuse_reads()
    recorded.callback(None)
    advance_until_idle(clock)
    assert sent(bmc) == ["soft_off"] and isinstance(action.error, PowerUnsupportedError)
    assert "the BMC refused to read power, so power_off was not sent" in str(action.error)


PXE_ONCE = BootSetting(BootDevice.PXE)


def test_on_sets_the_boot_device_before_power_on(clock):
    """on with a boot device sets it, reads it back, then sends power_on."""
    bmc = FakeBMC(clock, power=OFF)
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert (action.state, action.error, sent(bmc), action.boot_set) == (ON, None, ["power_on"], True)
    assert [setting for _, setting in bmc.boot_sets] == [PXE_ONCE]
    assert bmc.boot_sets[0][0] <= bmc.commands[0][0]


def test_on_of_a_node_on_sets_the_boot_device_and_sends_nothing(clock):
    """on with a boot device for a node already on sets the device for its next boot, with no power command."""
    bmc = FakeBMC(clock, power=ON)
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert (action.state, sent(bmc), bmc.boot) == (ON, [], PXE_ONCE)


def test_cycle_sets_the_boot_device_before_the_off(clock):
    """cycle with a boot device sets it before power_off, so the boot after the on uses it."""
    bmc = FakeBMC(clock, power=ON)
    action = run(CycleAction, bmc, clock, boot=BootSetting(BootDevice.CDROM, True))
    assert (action.state, sent(bmc)) == (ON, ["power_off", "power_on"])
    assert bmc.boot_sets[0][0] <= bmc.commands[0][0] and bmc.boot == BootSetting(BootDevice.CDROM, True)


def test_a_driver_that_cannot_set_a_boot_device_fails_at_once(clock):
    """A control that cannot set a boot device fails the action, fatally, before any read or command."""
    bmc = FakeBMC(clock, power=OFF, can_set_boot=False)
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert isinstance(action.error, PowerUnsupportedError) and action.error.fatal
    assert "cannot set a boot device" in str(action.error)
    assert (sent(bmc), bmc.reads, bmc.boot_sets) == ([], 0, [])


def test_a_transient_failure_to_set_is_retried(clock):
    """Setting a boot device is idempotent: a transient failure is retried, then power_on is sent."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("set_boot_device", PowerTransientError("busy"), times=2)
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert (action.state, sent(bmc), len(bmc.boot_sets)) == (ON, ["power_on"], 1)


def test_a_boot_device_never_set_sends_no_power_command(clock):
    """A BMC that keeps failing to set the boot device fails the action with no power command sent."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("set_boot_device", PowerTransientError("busy"), times=100)
    action = run(CycleAction, bmc, clock, boot=PXE_ONCE)
    assert isinstance(action.error, PowerTransientError) and "no power command was sent" in str(action.error)
    assert sent(bmc) == []


def test_a_boot_device_read_back_wrong_fails_before_any_command(clock):
    """A BMC that reads back another boot device than the one set fails the action before power_on."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.get_boot_device = lambda: succeed(BootSetting(BootDevice.DISK))
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert action.error is not None and "reads back disk" in str(action.error)
    assert sent(bmc) == []


def test_a_bmc_that_cannot_say_is_not_read_back(clock):
    """A BMC whose read-back says nothing (None) is taken at its word: the on goes on."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.get_boot_device = lambda: succeed(None)
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert (action.state, sent(bmc)) == (ON, ["power_on"])


def test_a_hung_boot_device_call_times_out_and_is_retried(clock):
    """A set that never answers times out after command_timeout and, still failing, sends no power command."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.hang("set_boot_device")
    action = run(OnAction, bmc, clock, boot=PXE_ONCE)
    assert isinstance(action.error, PowerTransientError) and sent(bmc) == []


def test_cancel_while_setting_the_boot_device_stops_before_any_command(clock):
    """Setting a boot device is a safe point: a cancel then stops the action with nothing sent."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    action = OnAction(bmc, clock, boot=PXE_ONCE)
    action.start()
    clock.advance(1.5)
    action.cancel()
    advance_until_idle(clock)
    assert action.stopped and sent(bmc) == []


def test_a_boot_device_read_back_only_once_when_asked_for_every_boot_fails(clock):
    """Asked for every boot, a BMC that reads back the next boot only fails the action before power_on."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.get_boot_device = lambda: succeed(BootSetting(BootDevice.PXE))
    action = run(OnAction, bmc, clock, boot=BootSetting(BootDevice.PXE, True))
    assert action.error is not None and sent(bmc) == []
