"""
Tests for pserv.power.steps: what every action is made of (reads, commands
sent once and verified, timeouts, safe points, its life), on a Clock
against the in-memory BMC.
"""

import pytest
from twisted.internet.defer import Deferred, succeed

from pserv.power.actions import CycleAction, OffAction, OnAction, QueryAction
from pserv.power.errors import (
    PowerAuthError,
    PowerTransientError,
    PowerUnsupportedError,
    PowerVerifyError,
)
from pserv.power.lifecycle import ActionState, InvalidTransition
from pserv.power.policy import VerifyPolicy
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import FakeBMC, advance_until_idle
from tests.power.running import run, sent

ON, OFF = PowerState.ON, PowerState.OFF


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


def test_waiting_for_a_milestone_is_a_safe_point(clock):
    """Cancelled while its milestone is being recorded, a cycle stops with the node verified off."""
    bmc = FakeBMC(clock, power=ON)
    action = CycleAction(bmc, clock, on_progress=lambda a, m: Deferred())
    action.start()
    advance_until_idle(clock)
    action.cancel(ActionKind.OFF)
    assert action.stopped and action.lifecycle.state is ActionState.DONE
    assert sent(bmc) == ["power_off"]


def test_the_step_in_flight_is_the_lifecycles_data(clock):
    """While it verifies, the action's lifecycle holds the pause it waits on, and nothing once done."""
    bmc = FakeBMC(clock, power=OFF)
    action = OnAction(bmc, clock)
    action.start()
    held = action.lifecycle.step
    assert action.lifecycle.state is ActionState.RUNNING and held is not None and not held.called
    advance_until_idle(clock)
    assert action.lifecycle.step is None and action.lifecycle.state is ActionState.DONE


def test_a_stopping_action_never_sends(clock):
    """Cancelled while reading, an action is stopping at once and never reaches its command."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    action = OnAction(bmc, clock)
    states = []
    action.done.addCallback(lambda a: states.append(a.lifecycle.state))
    action.start()
    action.cancel(ActionKind.OFF)
    advance_until_idle(clock)
    assert (states, action.stopped, sent(bmc)) == ([ActionState.DONE], True, [])


def test_failed_verification_carries_no_state_read_before_the_command(clock):
    """An on whose verification reads all fail reports no state, not the off it read before power_on."""
    bmc = FakeBMC(clock, power=OFF)
    action = OnAction(bmc, clock)
    action.start()
    assert (bmc.reads, action.commands) == (1, ["power_on"])
    bmc.fail_next("query", PowerTransientError("busy"), times=1000)
    advance_until_idle(clock)
    assert isinstance(action.error, PowerVerifyError)
    assert (action.state, action.observed_at) == (None, None)
    assert str(action.error).startswith("expected power on, last saw nothing after 60s")


def test_a_cycle_reports_only_what_it_read_after_power_on(clock):
    """A cycle whose power_on is never verified reports no state, not the off it verified before."""
    bmc = FakeBMC(clock, power=ON)

    def reads_fail_from_now_on(action, milestone):
        bmc.fail_next("query", PowerTransientError("busy"), times=1000)

    action = run(CycleAction, bmc, clock, on_progress=reads_fail_from_now_on)
    assert action.commands == ["power_off", "power_on"] and isinstance(action.error, PowerVerifyError)
    assert (action.state, action.observed_at) == (None, None)


def test_refused_verification_read_fails_fatally_with_no_state(clock):
    """A verification read the BMC refuses is no success: the action fails fatally at once, naming the command sent."""
    bmc = FakeBMC(clock, power=OFF, settle=1000.0)
    action = OnAction(bmc, clock)
    ended = []
    action.start().addCallback(lambda _: ended.append(clock.seconds()))
    bmc.refuse_reads()
    advance_until_idle(clock)
    assert isinstance(action.error, PowerUnsupportedError) and action.error.fatal
    assert "power_on was sent, but the BMC refused to read power, so its effect is not verified" in str(action.error)
    assert (action.state, action.observed_at, sent(bmc), ended) == (None, None, ["power_on"], [0.5])


def test_done_without_command_carries_its_first_read(clock):
    """An action that sends nothing reports its first read, and when it was made."""
    bmc = FakeBMC(clock, power=ON, latency=1.0)
    action = run(OnAction, bmc, clock)
    assert (action.state, action.observed_at, action.commands) == (ON, 1.0, [])


def test_done_carries_the_read_that_verified(clock):
    """An action that sent a command reports the read that verified it, and when it was made."""
    bmc = FakeBMC(clock, power=OFF, settle=1.0)
    action = run(OnAction, bmc, clock)
    assert (action.state, action.observed_at) == (ON, 1.5)


def test_each_read_that_answers_is_told(clock):
    """on_read is called with the action after each read that answered, with its state already set."""
    bmc = FakeBMC(clock, power=PowerState.OFF, settle=1.0)
    action = OnAction(bmc, clock)
    seen = []
    action.on_read = lambda a: seen.append(a.state)
    action.start()
    advance_until_idle(clock)
    assert seen[0] is PowerState.OFF and seen[-1] is PowerState.ON and len(seen) == bmc.reads


class Line:
    """A BMC's turns, given by hand while ``holding`` (else at once): what a control's ``turn()`` offers."""

    def __init__(self):
        self.holding = False
        self.waiting = []
        self.ended = 0

    def turn(self):
        if not self.holding:
            return succeed(self)
        waiter = Deferred(lambda d: self.waiting.remove(d))
        self.waiting.append(waiter)
        return waiter

    def give(self):
        self.waiting.pop(0).callback(self)

    def over(self, result=None):
        self.ended += 1
        return result


def in_line(bmc):
    line = Line()
    bmc.turn = line.turn
    return line


def test_superseded_while_waiting_for_its_bmc_turn_sends_nothing(clock):
    """An on superseded while its power_on waits for the BMC's turn stops there: nothing sent, out of the line."""
    bmc = FakeBMC(clock, power=OFF)
    line = in_line(bmc)
    line.holding = True
    action = OnAction(bmc, clock)
    action.start()
    line.give()  # the first read's
    assert len(line.waiting) == 1 and bmc.reads == 1
    action.cancel(ActionKind.OFF)
    assert action.stopped and sent(bmc) == [] and line.waiting == []


def test_cancelled_while_the_first_read_waits_reads_nothing(clock):
    """A query cancelled while its read waits for the BMC's turn ends without reading."""
    bmc = FakeBMC(clock, power=OFF)
    line = in_line(bmc)
    line.holding = True
    action = QueryAction(bmc, clock)
    action.start()
    action.cancel()
    assert action.stopped and bmc.reads == 0 and line.waiting == []


def test_waiting_for_the_turn_does_not_count_against_command_timeout(clock):
    """A power_on that waits 100 s for its BMC's turn, past its 5 s command_timeout, is sent then and succeeds."""
    bmc = FakeBMC(clock, power=OFF, latency=1.0)
    line = in_line(bmc)
    line.holding = True
    action = OnAction(bmc, clock, policy=VerifyPolicy(command_timeout=5.0, read_timeout=5.0))
    action.start()
    line.give()
    clock.advance(1.0)  # the first read answers; power_on waits for its turn
    clock.advance(100.0)
    assert sent(bmc) == [] and len(line.waiting) == 1
    line.holding = False
    line.give()
    advance_until_idle(clock)
    assert (action.error, action.state, sent(bmc)) == (None, ON, ["power_on"])
    assert bmc.commands[0][0] == 102.0  # given its turn at 101, answered a second later


def test_every_call_ends_its_turn(clock):
    """Each read and command, answered or timed out, ends the turn it took."""
    bmc = FakeBMC(clock, power=OFF)
    line = in_line(bmc)
    bmc.hang("power_on")
    action = run(OnAction, bmc, clock, policy=VerifyPolicy(command_timeout=1.0, deadline=2.0))
    assert (action.commands, sent(bmc)) == (["power_on"], [])  # sent, never answered: timed out
    assert line.ended == bmc.reads + 1 and action.done.called


def test_verifying_read_waiting_for_its_turn_is_not_a_safe_point(clock):
    """After power_on is sent, a verifying read waiting for its turn is not interrupted by a successor: the effect is verified."""
    bmc = FakeBMC(clock, power=OFF)
    line = in_line(bmc)
    action = OnAction(bmc, clock)
    action.start()
    assert sent(bmc) == ["power_on"]
    line.holding = True
    clock.advance(0.5)
    assert len(line.waiting) == 1
    action.cancel(ActionKind.OFF)
    line.holding = False
    line.give()
    advance_until_idle(clock)
    assert action.lifecycle.state is ActionState.DONE and (action.state, action.error) == (ON, None)
