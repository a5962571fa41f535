"""
Property-based tests for pserv.power.registry: random interleavings of
requests, operator cancels of any request (the one that made an action or
one that joined it), seeded generations, clock advances, driver failures
and hangs across several nodes, with the registry's promises checked after
every step.
"""

from dataclasses import dataclass, field

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from twisted.internet.task import Clock

from pserv.power.errors import PowerAuthError, PowerTransientError
from pserv.power.lifecycle import ActionState
from pserv.power.outcome import OutcomeStatus
from pserv.power.policy import VerifyPolicy
from pserv.power.registry import PowerActionRegistry
from pserv.power.states import ActionKind, PowerState
from pserv.testing.power import OPERATIONS, FakeBMC, advance_until_idle

RELIABLE = ("r0", "r1")
DEAF = ("d0",)
"""A reliable BMC whose operating system ignores a graceful shutdown."""
FLAKY = ("f0",)
NODES = RELIABLE + DEAF + FLAKY
HURRYING = frozenset([ActionKind.OFF, ActionKind.CYCLE])
"""What may follow for a graceful wait to end at once: a successor that forces the node off."""

ALLOWED = {
    ActionKind.ON: {"power_on"},
    ActionKind.OFF: {"power_off"},
    ActionKind.CYCLE: {"power_off", "power_on"},
    ActionKind.SOFT_OFF: {"soft_off", "power_off"},
    ActionKind.QUERY: set(),
}
SETTLES_TO = {"power_on": PowerState.ON, "power_off": PowerState.OFF}
"""A read while a command settles misleads only if the command will change the power."""
MOST_COMMANDS = {ActionKind.ON: 1, ActionKind.OFF: 1, ActionKind.CYCLE: 2, ActionKind.SOFT_OFF: 2, ActionKind.QUERY: 0}
POLICY = VerifyPolicy(deadline=10.0, query_deadline=5.0, read_timeout=2.0, command_timeout=5.0,
                      soft_off_timeout=120.0)
"""Short waits, so that the promptness bounds below are well apart from the graceful period."""
PROMPTLY = 25.0
"""Seconds within which a cancelled request is answered, and an action told to stop for a
successor that forces the node off ends: a hung command's timeout and a full verification,
never the graceful period."""
QUERY_PROMPTLY = 80.0
"""Seconds within which a query is answered: the actions it rides or waits behind, never the
graceful period."""


@dataclass(eq=False)
class Asked:
    """One request the machine made, and what it learnt of it."""

    node: str
    id: int
    kind: ActionKind
    escalate: bool
    made: int
    at: float
    fired: list = field(default_factory=list)
    ended: int | None = None
    sent_before: list = field(default_factory=list)
    """For each outcome fired, when its action had sent each of its commands by then."""


class TracingControl:
    """
    Wraps a node's BMC to see which action sends what, and when.

    An action's first read must not see a command still settling, unless
    the action before it ended on a fatal error: that ends verification at
    once (in life it repeats, bad credentials say, and so would this read;
    the machine's injected failures are one-shot).

    An action whose first read comes while the OS is still shutting down
    is noted: see :meth:`RegistryMachine.check_final_state`.
    """

    def __init__(self, bmc, machine, node):
        self.bmc, self.machine, self.node = bmc, machine, node
        self.verify_policy, self.description = bmc.verify_policy, bmc.description
        self.action = None
        self.first_read = None
        self.after_fatal = False

    def query(self):
        if self.first_read is None and self.bmc.shutting_down:
            self.machine.mid_shutdown.add(self.action.id)

        def seen(state):
            # Checked when the read answers (what it saw): a read refused or failed misleads nobody.
            settling = any(SETTLES_TO[c] is not self.bmc.power for c in self.bmc.settling)
            if self.first_read is None and settling and not self.after_fatal:
                self.machine.broken.append(
                    f"{self.action} read a state still changing after {self.bmc.settling}"
                )
            if self.first_read is None:
                self.first_read = state
            return state

        return self.bmc.query().addCallback(seen)

    def _send(self, command):
        self.machine.sent(self, command)
        return getattr(self.bmc, command)()

    def power_on(self):
        return self._send("power_on")

    def power_off(self):
        return self._send("power_off")

    def soft_off(self):
        return self._send("soft_off")


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.clock = Clock()
        self.registry = PowerActionRegistry(self.clock)
        self.bmcs = {
            name: FakeBMC(self.clock, name, latency=0.2, settle=1.0,
                          shutdown_time=None if name in DEAF else 3.0, policy=POLICY)
            for name in NODES
        }
        self.requests = []
        self.by_id = {}
        self.ids = iter(range(1, 10**9))
        self.running = {name: set() for name in NODES}
        self.commands = {}
        self.cancelled = {}
        self.seeded = {name: 0 for name in NODES}
        self.seeds = []
        self.hurried = {}
        self.fatal = set()
        self.mid_shutdown = set()
        self.broken = []
        self.sent_at = {}
        self.registry.add_listener(self.event)

    def event(self, event):
        action = event.action
        if event.name == "queued":
            action.control.action = action
            self.commands[action.id] = []
            self.sent_at[action.id] = []
        elif event.name == "started":
            self.running[event.node].add(action.id)
            action.control.after_fatal = event.node in self.fatal
        elif event.name == "ended":
            self.running[event.node].discard(action.id)
            if event.outcome.fatal:
                self.fatal.add(event.node)
            elif action.lifecycle.state is ActionState.DONE and not action.stopped:
                self.fatal.discard(event.node)
            told = self.hurried.pop(action.id, None)
            if told is not None and self.clock.seconds() - told > PROMPTLY:
                self.broken.append(f"{action} ended {self.clock.seconds() - told:g}s after it was told to stop")

    def sent(self, control, command):
        """Record a command, and any promise it breaks (raising here would
        only reach the action, which takes a raising driver for a failed send)."""
        action = control.action
        sent = self.commands[action.id]
        sent.append(command)
        self.sent_at[action.id].append(self.clock.seconds())
        broken = [
            (action.lifecycle.state is not ActionState.RUNNING, "sent a command after cancel"),
            (command not in ALLOWED[action.kind], "sent a command its kind never sends"),
            (len(sent) > MOST_COMMANDS[action.kind], "sent more commands than its kind needs"),
            (
                action.kind in (ActionKind.ON, ActionKind.OFF) and control.first_read == action.kind.target,
                "switched a node that was already there",
            ),
            (
                action.kind is ActionKind.CYCLE and command == "power_off" and control.first_read is not PowerState.ON,
                "cycled a node it had not seen on",
            ),
            (control.first_read is None, "switched a node whose power it never read"),
            (
                action.generation < self.seeded[control.node],
                "sent a command for a generation older than one seeded",
            ),
            (
                not any(self.by_id[i].kind is action.kind and i not in self.cancelled
                        for i in self.registry.serving(control.node, action)),
                "sent a command that no request it serves still asks for",
            ),
        ]
        self.broken.extend(f"{action} {why}: {command}" for bad, why in broken if bad)

    @rule(node=st.sampled_from(NODES), kind=st.sampled_from(ActionKind), escalate=st.booleans())
    def request(self, node, kind, escalate):
        control = TracingControl(self.bmcs[node], self, node)
        asked = Asked(node, next(self.ids), kind, escalate, len(self.requests), self.clock.seconds())
        self.requests.append(asked)
        self.by_id[asked.id] = asked
        d = self.registry.request(node, kind, control, action_id=asked.id, escalate_after=2.0 if escalate else None)
        d.addCallback(self.answered, asked)

    @initialize(powers=st.lists(st.sampled_from([PowerState.ON, PowerState.OFF]), min_size=len(NODES),
                                max_size=len(NODES)))
    def power_up(self, powers):
        """Each node starts on or off."""
        for node, power in zip(NODES, powers):
            self.bmcs[node].power = power

    @rule(node=st.sampled_from(NODES), first=st.sampled_from(ActionKind), then=st.sampled_from(ActionKind),
          pause=st.sampled_from([0.0, 0.3, 1.0]), escalate=st.booleans(), cancel=st.sampled_from([None, 0, 1]))
    def change_of_mind(self, node, first, then, pause, escalate, cancel):
        """One request, then another a moment later: the second meets the first with its command in flight or
        being verified (a soft_off waiting for the OS, say); then perhaps the operator cancels one of them."""
        self.request(node, first, escalate)
        advance_until_idle(self.clock, pause)
        self.request(node, then, escalate)
        advance_until_idle(self.clock, pause)
        named = self.requests[cancel - 2] if cancel is not None else None
        if named is not None and not named.fired:
            self.cancelled[named.id] = self.clock.seconds()
            assert self.registry.cancel(node, named.id), f"request {named.id} was not in play"

    def answered(self, outcome, asked):
        asked.fired.append(outcome)
        if outcome.commands:
            asked.sent_before.append((tuple(self.commands[outcome.action_id]),
                                      tuple(self.sent_at[outcome.action_id])))
        else:
            asked.sent_before.append(((), ()))
        asked.ended = len(self.requests)
        now = self.clock.seconds()
        if asked.id in self.cancelled and now - self.cancelled[asked.id] > PROMPTLY:
            self.broken.append(f"{asked} answered {now - self.cancelled[asked.id]:g}s after its cancel")
        if asked.kind is ActionKind.QUERY and now - asked.at > QUERY_PROMPTLY:
            self.broken.append(f"query {asked} answered {now - asked.at:g}s after it was made")

    @rule(node=st.sampled_from(NODES), pick=st.integers(min_value=0, max_value=1000))
    def cancel(self, node, pick):
        """An operator cancels any request not yet answered: one that made an action, or one that joined."""
        waiting = [asked.id for asked in self.requests if asked.node == node and not asked.fired]
        if waiting:
            named = waiting[pick % len(waiting)]
            self.cancelled[named] = self.clock.seconds()
            assert self.registry.cancel(node, named), f"request {named} was not in play"

    @rule(node=st.sampled_from(NODES), bump=st.integers(min_value=0, max_value=2))
    def seed(self, node, bump):
        """A recovery answer seeds a generation, perhaps newer than any request seen."""
        generation = self.registry.generation(node) + bump
        self.registry.seed(node, generation)
        if bump:
            self.seeded[node] = generation
            self.seeds.append((node, len(self.requests)))

    @rule(seconds=st.sampled_from([0.1, 0.3, 1.0, 2.5, 10.0]))
    def advance(self, seconds):
        advance_until_idle(self.clock, seconds)

    @rule(node=st.sampled_from(FLAKY), operation=st.sampled_from(OPERATIONS), fatal=st.booleans())
    def fail(self, node, operation, fatal):
        error = PowerAuthError("auth") if fatal else PowerTransientError("busy")
        self.bmcs[node].fail_next(operation, error)

    @rule(node=st.sampled_from(FLAKY), hang=st.booleans())
    def hang(self, node, hang):
        if hang:
            self.bmcs[node].hang()
        else:
            self.bmcs[node].unhang()

    # -- issue 11, defects 4 and 5: reads the BMC refuses, what an outcome carries --
    # The flaky node's BMC may answer every read "unsupported" (IPMI 0xC1, a
    # Redfish 405) although its driver can read: no action may then switch it
    # (``sent`` checks that a command follows a read), and no outcome may carry
    # a state read before its action's last command.

    @rule(node=st.sampled_from(FLAKY), refuse=st.booleans())
    def refuse_reads(self, node, refuse):
        self.bmcs[node].refuse_reads(refuse)

    @invariant()
    def outcomes_carry_only_reads_after_the_last_command(self):
        """
        Judged by what the outcome's action had done when the request was
        answered: a request cancelled while its action goes on is told at
        once, and that action may send more later.  The outcome carries all
        of its action's commands until then, and a state read after the last.
        """
        for asked in self.requests:
            for outcome, (commands, sent_at) in zip(asked.fired, asked.sent_before):
                if not outcome.commands:
                    continue
                assert outcome.commands == commands, (outcome, commands)
                if outcome.state is not None:
                    assert outcome.observed_at is not None and outcome.observed_at > sent_at[-1], outcome

    # -- end of issue 11, defects 4 and 5 --

    @invariant()
    def no_promise_broken(self):
        assert not self.broken, self.broken

    @invariant()
    def never_two_in_flight(self):
        for node, running in self.running.items():
            assert len(running) <= 1, f"{node} has {running} in flight"

    @invariant()
    def a_cancel_ends_only_the_request_it_names(self):
        for asked in self.requests:
            if asked.fired and asked.fired[0].status is OutcomeStatus.CANCELLED:
                assert asked.id in self.cancelled, f"{asked} ended cancelled, unasked"

    @invariant()
    def only_what_cannot_succeed_fails(self):
        """On a BMC that never fails, only a soft_off without escalation that a deaf OS ignored, and that
        nothing superseded while it waited, ends failed."""
        by_id = {asked.id: asked for asked in self.requests}
        for asked in self.requests:
            if not asked.fired or asked.fired[0].status is not OutcomeStatus.FAILED or asked.node in FLAKY:
                continue
            owner = by_id[asked.fired[0].action_id]
            meanwhile = self.requests[owner.made + 1:asked.ended]
            superseded = [a for a in meanwhile if a.node == asked.node and a.kind not in (ActionKind.SOFT_OFF,
                                                                                          ActionKind.QUERY)]
            seeded = [at for node, at in self.seeds if node == asked.node and owner.made < at <= asked.ended]
            assert (owner.node, owner.kind, owner.escalate) == ("d0", ActionKind.SOFT_OFF, False), asked
            assert not superseded and not seeded, f"{asked} failed, though superseded by {superseded or seeded}"

    @invariant()
    def what_waits_is_what_the_action_in_flight_stops_for(self):
        for node in NODES:
            in_flight, waiting = self.registry.in_play(node)
            if in_flight is None or not in_flight.cancelling:
                continue
            successor = in_flight.lifecycle.successor
            assert successor is (waiting.kind if waiting else None), (in_flight, successor, waiting)
            if successor in HURRYING:
                self.hurried.setdefault(in_flight.id, self.clock.seconds())
            else:
                self.hurried.pop(in_flight.id, None)

    @invariant()
    def registry_rows_are_reachable(self):
        from pserv.power.decisions import DECISIONS

        for node in NODES:
            assert (*self.registry.row(node), ActionKind.ON) in DECISIONS

    def teardown(self):
        for bmc in self.bmcs.values():
            bmc.unhang()
        advance_until_idle(self.clock, 100_000)
        self.no_promise_broken()
        self.a_cancel_ends_only_the_request_it_names()
        self.only_what_cannot_succeed_fails()
        assert all(len(asked.fired) == 1 for asked in self.requests), "a request never ended"
        assert not self.hurried, f"told to stop, never ended: {self.hurried}"
        assert all(not running for running in self.running.values())
        for node in RELIABLE + DEAF:
            self.check_final_state(node)

    def check_final_state(self, node):
        power = [asked for asked in self.requests if asked.node == node and asked.kind.changes_power]
        if not power:
            return
        last = power[-1]
        if last.id in self.cancelled or any(n == node and at > last.made for n, at in self.seeds):
            return
        outcome = last.fired[0]
        if outcome.action_id in self.mid_shutdown:
            # A known gap, older than issue 11's fixes: a soft off stops at once for a hard off, and if that
            # off is superseded by an on before it sends anything, the on reads the node on while the OS
            # is still shutting down (soft_off, off, on within a moment ends with the on done, the node off).
            return
        if node in DEAF and outcome.kind is ActionKind.SOFT_OFF and outcome.status is OutcomeStatus.FAILED:
            return
        assert outcome.status is OutcomeStatus.DONE, outcome
        assert self.bmcs[node].power is last.kind.target, (last, outcome)


RegistryMachine.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRegistryProperties = RegistryMachine.TestCase
TestRegistryProperties.__doc__ = "Random interleavings keep every promise of the registry."
