"""
Tests for pserv.power.actions, on a Clock against the in-memory BMC.
"""

import pytest
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock

from pserv.power.actions import (
    CycleAction,
    OffAction,
    OnAction,
    QueryAction,
    SoftOffAction,
)
from pserv.power.errors import (
    PowerAuthError,
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.lifecycle import ActionState, InvalidTransition
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle

ON, OFF = PowerState.ON, PowerState.OFF


@pytest.fixture
def clock():
    return Clock()


def run(cls, bmc, clock, **kwargs):
    """Start an action and run the clock until nothing is scheduled."""
    action = cls(bmc, clock, **kwargs)
    action.start()
    advance_until_idle(clock)
    return action


def sent(bmc):
    return [command for _, command in bmc.commands]


class NoQueryBMC(FakeBMC):
    """A BMC that can switch power but not read it, like Wake-on-LAN."""

    def query(self):
        return fail(PowerUnsupportedError("cannot query"))


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


def test_fatal_read_fails_at_once(clock):
    """A fatal error on the first read fails without retrying."""
    bmc = FakeBMC(clock, power=ON)
    bmc.fail_next("query", PowerAuthError("bad password"), times=5)
    action = run(OffAction, bmc, clock)
    assert isinstance(action.error, PowerAuthError)
    assert (sent(bmc), clock.seconds()) == ([], 0)
    assert len(bmc._failures["query"]) == 4


def test_transient_first_read_retried(clock):
    """Transient failures of the first read are retried with backoff."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("query", PowerTransientError("busy"), times=2)
    action = run(OnAction, bmc, clock)
    assert (action.state, sent(bmc)) == (ON, ["power_on"])
    assert bmc.commands[0][0] == 0.5 + 1.0


def test_slow_bmc_is_verified_not_resent(clock):
    """A BMC slow to apply power_on is read with backoff; power_on is sent once."""
    bmc = FakeBMC(clock, power=OFF, settle=10.0)
    read_times = []
    original = bmc.query
    bmc.query = lambda: (read_times.append(clock.seconds()), original())[1]
    action = run(OnAction, bmc, clock)
    assert (action.state, sent(bmc)) == (ON, ["power_on"])
    assert read_times == [0, 0.5, 1.5, 3.5, 7.5, 15.5]


def test_verify_fails_at_deadline_with_what_was_seen(clock):
    """A command that never takes effect fails at the deadline, saying what was seen."""
    bmc = FakeBMC(clock, power=OFF, settle=1000.0)
    action = run(OnAction, bmc, clock)
    assert isinstance(action.error, PowerVerifyError)
    assert str(action.error) == "expected power on, last saw off after 60s and 11 read(s)"
    assert sent(bmc) == ["power_on"]


def test_fatal_error_while_verifying_fails_at_once(clock):
    """A fatal error during verification ends it at once."""
    bmc = FakeBMC(clock, power=OFF, settle=1000.0)
    action = OnAction(bmc, clock)
    ended = []
    action.start().addCallback(lambda _: ended.append(clock.seconds()))
    bmc.fail_next("query", PowerAuthError("password changed"))
    advance_until_idle(clock)
    assert isinstance(action.error, PowerAuthError)
    assert ended == [0.5]


def test_transient_command_failure_is_verified_not_resent(clock):
    """A command that fails transiently may have arrived, so it is verified, never re-sent."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("power_on", PowerTransientError("timed out"))
    action = run(OnAction, bmc, clock)
    assert action.commands == ["power_on"]
    assert isinstance(action.error, PowerVerifyError)
    assert "last error: timed out" in str(action.error)


def test_fatal_command_failure_is_not_verified(clock):
    """A command refused fatally fails at once, with no verification reads."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.fail_next("power_on", PowerUnsupportedError("not allowed"))
    action = run(OnAction, bmc, clock)
    assert isinstance(action.error, PowerUnsupportedError)
    assert (bmc.reads, clock.seconds()) == (1, 0)


def test_hung_command_times_out_then_verifies(clock):
    """A command that never answers times out and is verified, not re-sent."""
    bmc = FakeBMC(clock, power=OFF)
    bmc.hang("power_on")
    action = run(OnAction, bmc, clock)
    assert isinstance(action.error, PowerVerifyError)
    assert "no answer to power_on within 30s" in str(action.error)
    assert clock.seconds() == 30 + 60


def test_hung_reads_time_out_within_query_deadline(clock):
    """A query of a BMC that never answers fails within the query deadline."""
    bmc = FakeBMC(clock)
    bmc.hang("query")
    action = run(QueryAction, bmc, clock)
    assert isinstance(action.error, PowerTransientError)
    assert "no answer to a power read within 10s" in str(action.error)
    assert clock.seconds() <= 20 + 10


def test_query_reports_state(clock):
    """query reads the power state and sends nothing."""
    bmc = FakeBMC(clock, power=ON)
    action = run(QueryAction, bmc, clock)
    assert (action.state, sent(bmc)) == (ON, [])


def test_query_unsupported(clock):
    """query of a driver that cannot read power fails as unsupported."""
    action = run(QueryAction, NoQueryBMC(clock), clock)
    assert isinstance(action.error, PowerUnsupportedError)


def test_on_without_query_sends_and_reports_unknown(clock):
    """on through a driver that cannot read sends once and reports unknown."""
    bmc = NoQueryBMC(clock, power=OFF)
    action = run(OnAction, bmc, clock)
    assert (action.state, action.error, sent(bmc)) == (PowerState.UNKNOWN, None, ["power_on"])


def test_cycle_without_query_refuses(clock):
    """cycle through a driver that cannot read refuses, sending nothing."""
    bmc = NoQueryBMC(clock, power=ON)
    action = run(CycleAction, bmc, clock)
    assert isinstance(action.error, PowerUnsupportedError)
    assert sent(bmc) == []


def test_driver_exception_is_transient(clock):
    """An unexpected exception from a driver's read counts as a transient failure."""
    bmc = FakeBMC(clock, power=OFF)
    calls = []

    def query():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("socket went away")
        return succeed(OFF)

    bmc.query = query
    action = run(OffAction, bmc, clock)
    assert (action.state, action.error, len(calls)) == (OFF, None, 2)


def test_unexpected_state_value_is_transient(clock):
    """A read that returns no power state counts as a failed read."""
    bmc = FakeBMC(clock)
    bmc.query = lambda: succeed("banana")
    action = run(QueryAction, bmc, clock)
    assert "read failed" in str(action.error)


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


def test_cancel_before_start(clock):
    """An action cancelled before it starts is done and never reads."""
    bmc = FakeBMC(clock)
    action = OnAction(bmc, clock)
    done = []
    action.done.addCallback(done.append)
    action.cancel()
    assert (done, action.stopped, bmc.reads) == ([action], True, 0)
    with pytest.raises(InvalidTransition):
        action.start()


def test_cancel_during_first_read_stops_at_once(clock):
    """A read is a safe point: cancel during it stops the action at once."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    action = OnAction(bmc, clock)
    action.start()
    action.cancel()
    assert (action.stopped, action.lifecycle.state) == (True, ActionState.DONE)
    advance_until_idle(clock)
    assert sent(bmc) == [] and bmc.reads == 0


def test_cancel_during_command_verifies_it_then_stops(clock):
    """A command in flight is never un-sent: its effect is verified, then the action stops."""
    bmc = FakeBMC(clock, power=ON, latency=1.0, settle=3.0)
    action = CycleAction(bmc, clock)
    action.start()
    clock.advance(1.5)
    assert sent(bmc) == []
    action.cancel(ActionKind.ON)
    advance_until_idle(clock)
    assert action.stopped and action.error is None
    assert (sent(bmc), bmc.power) == (["power_off"], OFF)
    assert action.state is OFF


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


def test_cancel_after_done_is_harmless(clock):
    """cancel() after an action is done changes nothing."""
    bmc = FakeBMC(clock, power=ON)
    action = run(OnAction, bmc, clock)
    action.cancel()
    assert (action.stopped, action.state) == (False, ON)


def test_done_fires_once_with_the_action(clock):
    """done fires once, with the action, when it finishes."""
    bmc = FakeBMC(clock, power=OFF)
    action = OnAction(bmc, clock)
    fired = []
    action.start().addCallback(fired.append)
    advance_until_idle(clock)
    assert fired == [action]


def test_internal_error_fails_the_action(clock):
    """A bug inside an action ends it as failed, with the reason, instead of raising."""

    class Broken(OnAction):
        async def _run(self):
            raise ValueError("oops")

    action = run(Broken, FakeBMC(clock), clock)
    assert str(action.error) == "internal error: oops"
    assert action.lifecycle.state is ActionState.DONE


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


def test_waiting_for_a_milestone_is_a_safe_point(clock):
    """Cancelled while its milestone is being recorded, a cycle stops with the node verified off."""
    bmc = FakeBMC(clock, power=ON)
    action = CycleAction(bmc, clock, on_progress=lambda a, m: Deferred())
    action.start()
    advance_until_idle(clock)
    action.cancel(ActionKind.OFF)
    assert action.stopped and action.lifecycle.state is ActionState.DONE
    assert sent(bmc) == ["power_off"]
