"""
``pserv demo --registry``: the registry alone driving in-memory BMCs in
real time, narrated.

Until the region and the cluster daemon exist, the demo shows the heart of
pserv: one action at a time per node, duplicates coalesced, conflicts
superseded at a safe point, every command verified, and a bad password
failing at once instead of being retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IReactorTime

from pserv.power.errors import PowerAuthError
from pserv.power.outcome import Outcome
from pserv.power.policy import VerifyPolicy
from pserv.power.registry import ActionEvent, PowerActionRegistry
from pserv.power.states import ActionKind
from pserv.testing.power import FakeFleet
from pserv.util.backoff import exponential

DEMO_POLICY = VerifyPolicy(
    backoff=exponential(0.2, 0.8),
    deadline=5.0,
    query_deadline=2.0,
    read_timeout=1.0,
    command_timeout=2.0,
    soft_off_timeout=3.0,
)
"""Shorter than the default, so the demo finishes in seconds."""


@dataclass(frozen=True)
class Step:
    """
    One request of the demo's script.
    """

    at: float
    node: int
    kind: ActionKind
    note: str
    escalate_after: float | None = None


def script(nodes: int) -> list[Step]:
    """
    The demo's requests: every node switched on, then one of each story.
    """
    steps = [Step(0.0, n, ActionKind.ON, "switch on") for n in range(nodes)]
    stories = [
        Step(0.05, 0, ActionKind.ON, "same again: coalesces onto the action in flight"),
        Step(0.05, 1 % nodes, ActionKind.OFF, "changed my mind: supersedes the on"),
        Step(0.06, 0, ActionKind.QUERY, "a query rides the action in flight"),
        Step(3.0, 2 % nodes, ActionKind.CYCLE, "reboot: off, verify, on, verify"),
        Step(3.0, 3 % nodes, ActionKind.SOFT_OFF, "graceful shutdown the OS ignores", 1.5),
        Step(3.0, 0, ActionKind.ON, "already on: one read, no command"),
    ]
    return steps + stories


def run_demo(nodes: int = 4, seed: int = 1) -> int:
    """
    Run the demo on the global reactor; returns the exit status.
    """
    from pserv.scripts.support import run_on_reactor

    async def demo(reactor: Any) -> int:
        return await _demo(reactor, nodes, seed, print)

    return run_on_reactor(demo)


def _demo(reactor: Any, nodes: int, seed: int, say: Callable[[str], None]) -> Deferred[int]:
    rng = random.Random(seed)
    fleet = FakeFleet(reactor, latency=0.1, settle=0.5, shutdown_time=None, policy=DEMO_POLICY)
    names = [f"node-{n + 1}" for n in range(nodes)]
    for name in names:
        fleet.bmc(name, latency=round(rng.uniform(0.05, 0.2), 2))
    bad = fleet.bmc("node-bad-password")
    bad.fail_next("query", PowerAuthError("fake BMC node-bad-password: authentication failed"))
    registry = PowerActionRegistry(reactor)
    started = reactor.seconds()
    registry.add_listener(lambda event: say(_describe(event, reactor.seconds() - started)))
    say(f"pserv demo: {nodes} emulated BMCs, all off; verification policy {DEMO_POLICY}")
    requests = [_schedule(reactor, registry, fleet, names, step, say) for step in script(nodes)]
    requests.append(_schedule(reactor, registry, fleet, ["node-bad-password"],
                              Step(0.0, 0, ActionKind.ON, "wrong password: fails at once"), say))
    done = DeferredList(requests)
    done.addCallback(lambda _: _summary(fleet, names, say))
    return done


def _schedule(
    reactor: IReactorTime,
    registry: PowerActionRegistry,
    fleet: FakeFleet,
    names: list[str],
    step: Step,
    say: Callable[[str], None],
) -> Deferred[Outcome]:
    name = names[step.node]

    def ask() -> Deferred[Outcome]:
        say(f"          {name}: request {step.kind.value} ({step.note})")
        return registry.request(name, step.kind, fleet.bmc(name), escalate_after=step.escalate_after)

    from twisted.internet.task import deferLater

    return deferLater(reactor, step.at, ask)


def _describe(event: ActionEvent, elapsed: float) -> str:
    action = event.action
    line = f"[{elapsed:6.2f}s] {event.node}: #{action.id} {action.kind.value} {event.name}"
    if event.detail:
        line += f" ({event.detail})"
    outcome = event.outcome
    if outcome is not None:
        line += f" -> {outcome.status.value}"
        if outcome.state is not None:
            line += f", power {outcome.state.value}"
        if outcome.superseded_by is not None:
            line += f", by #{outcome.superseded_by}"
        if outcome.error:
            line += f": {outcome.error}"
        line += f"; commands sent: {', '.join(outcome.commands) or 'none'}"
    return line


def _summary(fleet: FakeFleet, names: list[str], say: Callable[[str], None]) -> int:
    say(f"\n{'node':<18} {'power':<7} commands the BMC received")
    for name in names + ["node-bad-password"]:
        bmc = fleet.bmcs[name]
        sent = ", ".join(command for _, command in bmc.commands) or "none"
        say(f"{name:<18} {bmc.power.value:<7} {sent}")
    return 0
