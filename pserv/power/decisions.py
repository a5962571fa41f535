"""
The power-action decision table: what a new request does, given what is
in flight and what is waiting for one node.

This table is the registry's behaviour, not a description of it: the
registry looks every request up here (and every cancel up in
:data:`CANCELS`), ``docs/power-actions.md`` is rendered
from it (:func:`render_markdown`), and a test walks it cell by cell.
The same holds for :data:`CANCEL_TABLE`, what an operator's cancel of one
request does to the action serving it (:func:`render_cancels`).

Rows are ``(in flight, waiting)``.  ``in flight`` is ``none``, the kind of
the action running, or ``cancelling`` for any action that was told to stop
and has not yet reached its safe point.  Only the twelve rows the registry
can reach are listed: a power action never waits behind a running power
action unless that one is cancelling (a new request either coalesces onto
it or supersedes it), and a read never holds up a power action (it is
cancelled at once, being always a safe point).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pserv.power.states import ActionKind


class Decision(str, Enum):
    """
    What the registry does with a new request.
    """

    START = "start"
    """Create the action and run it now."""
    JOIN_IN_FLIGHT = "join in flight"
    """Create nothing: get the outcome of the action in flight."""
    JOIN_WAITING = "join waiting"
    """Create nothing: get the outcome of the waiting action."""
    SUPERSEDE = "supersede"
    """Cancel the action in flight at its safe point; wait and run next."""
    WAIT = "wait"
    """Wait behind the action in flight (which is stopping) and run next."""
    REPLACE_WAITING = "replace waiting"
    """Take the waiting action's place; it never runs."""


NONE = "none"
CANCELLING = "cancelling"

IN_FLIGHT_KEYS = (NONE, "query", "on", "off", "cycle", "soft_off", CANCELLING)
WAITING_KEYS = (NONE, "query", "on", "off", "cycle", "soft_off")
REQUEST_KINDS = tuple(ActionKind)


@dataclass(frozen=True, slots=True)
class Cell:
    """
    One decision, and why.
    """

    in_flight: str
    waiting: str
    request: ActionKind
    decision: Decision
    reason: str


S, J, JW, X, W, R = (
    Decision.START,
    Decision.JOIN_IN_FLIGHT,
    Decision.JOIN_WAITING,
    Decision.SUPERSEDE,
    Decision.WAIT,
    Decision.REPLACE_WAITING,
)

IDLE = "nothing is in play, so it runs at once"
SHARE_READ = "a read is in flight: sharing it answers sooner and costs the BMC nothing"
READ_YIELDS = (
    "a read is always a safe point: it is cancelled at once, and the query's "
    "callers ride the new action and get its verified state"
)
RIDE = "a query rides the action in flight and gets the state it verifies"
SOFT_READS = "and is answered by its next read, since its wait for the OS may be long"
SOFT_READS_ALL = "and are answered by its next read, since its wait for the OS may be long"
READ_YIELDS_TO_SOFT = (
    "a read is always a safe point: it is cancelled at once, and the query's "
    "callers ride the soft off " + SOFT_READS_ALL
)
RIDE_SOFT = "a query rides the soft off in flight " + SOFT_READS
DUPLICATE = "the same action is in flight; a second one would only repeat it"
NEWER_WINS = (
    "the newer intent wins: the action in flight stops at its next safe point "
    "(a command it already sent is verified first) and this one runs next"
)
CYCLE_OVER_ON = (
    "a cycle asks for a fresh boot, which `on` does not give: the `on` stops "
    "before sending if it still can, and the cycle then finds the node off and "
    "simply switches it on (one boot); if it already sent, its effect is "
    "verified first and the cycle restarts the node"
)
ON_ONTO_CYCLE = "the cycle in flight ends with the node on, which is all `on` asks"
SOFT_ONTO_OFF = (
    "the hard off under way ends where a graceful one would; a graceful "
    "shutdown can no longer be had, and flipping to one would gain nothing"
)
ESCALATE = (
    "a hard off escalates a graceful shutdown: the wait for the OS ends at "
    "once and the off runs next"
)
CYCLE_OVER_SOFT = (
    "a cycle forces the node off itself, so the wait for the OS ends at once "
    "and the cycle runs next"
)
ON_AFTER_SOFT = (
    "a shutdown already requested cannot be withdrawn: the soft off keeps "
    "waiting for it (or times out), then the on runs and reads a settled state"
)
STOPPING = (
    "the action in flight is stopping and its outcome answers nothing here: "
    "this request waits and runs as soon as it has stopped"
)
RIDE_WAITING = "a query rides the waiting action, the next to run, and gets its verified state"
RIDE_WAITING_SOFT = "a query rides the waiting soft off, the next to run, " + SOFT_READS
SAME_AS_WAITING = "the waiting action already carries this intent"
ON_ONTO_WAITING_CYCLE = "the waiting cycle ends with the node on, which is all `on` asks"
SOFT_ONTO_WAITING_OFF = "the waiting hard off ends where a graceful one would"
REPLACE = (
    "the newer intent replaces the waiting action, which never ran: its "
    "callers learn that it was superseded"
)
REPLACE_QUERY = (
    "a power action replaces the waiting query; the query's callers ride it "
    "and get its verified state"
)
REPLACE_QUERY_SOFT = "a soft off replaces the waiting query; the query's callers ride it " + SOFT_READS_ALL
QUERY_JOINS_QUERY = "the waiting query will read soon; this one shares that read"

_ROWS: dict[tuple[str, str], tuple[tuple[Decision, str], ...]] = {
    # request:      on                     off                      cycle                     soft_off                  query
    (NONE, NONE): ((S, IDLE), (S, IDLE), (S, IDLE), (S, IDLE), (S, IDLE)),
    ("query", NONE): ((X, READ_YIELDS), (X, READ_YIELDS), (X, READ_YIELDS), (X, READ_YIELDS_TO_SOFT), (J, SHARE_READ)),
    ("on", NONE): ((J, DUPLICATE), (X, NEWER_WINS), (X, CYCLE_OVER_ON), (X, NEWER_WINS), (J, RIDE)),
    ("off", NONE): ((X, NEWER_WINS), (J, DUPLICATE), (X, NEWER_WINS), (J, SOFT_ONTO_OFF), (J, RIDE)),
    ("cycle", NONE): ((J, ON_ONTO_CYCLE), (X, NEWER_WINS), (J, DUPLICATE), (X, NEWER_WINS), (J, RIDE)),
    ("soft_off", NONE): ((X, ON_AFTER_SOFT), (X, ESCALATE), (X, CYCLE_OVER_SOFT), (J, DUPLICATE), (J, RIDE_SOFT)),
    (CANCELLING, NONE): ((W, STOPPING), (W, STOPPING), (W, STOPPING), (W, STOPPING), (W, STOPPING)),
    (CANCELLING, "query"): ((R, REPLACE_QUERY), (R, REPLACE_QUERY), (R, REPLACE_QUERY), (R, REPLACE_QUERY_SOFT), (JW, QUERY_JOINS_QUERY)),
    (CANCELLING, "on"): ((JW, SAME_AS_WAITING), (R, REPLACE), (R, REPLACE), (R, REPLACE), (JW, RIDE_WAITING)),
    (CANCELLING, "off"): ((R, REPLACE), (JW, SAME_AS_WAITING), (R, REPLACE), (JW, SOFT_ONTO_WAITING_OFF), (JW, RIDE_WAITING)),
    (CANCELLING, "cycle"): ((JW, ON_ONTO_WAITING_CYCLE), (R, REPLACE), (JW, SAME_AS_WAITING), (R, REPLACE), (JW, RIDE_WAITING)),
    (CANCELLING, "soft_off"): ((R, REPLACE), (R, REPLACE), (R, REPLACE), (JW, SAME_AS_WAITING), (JW, RIDE_WAITING_SOFT)),
}

TABLE: tuple[Cell, ...] = tuple(
    Cell(in_flight, waiting, kind, decision, reason)
    for (in_flight, waiting), cells in _ROWS.items()
    for kind, (decision, reason) in zip(REQUEST_KINDS, cells)
)
"""Every reachable cell, row by row."""

DECISIONS: dict[tuple[str, str, ActionKind], Decision] = {
    (c.in_flight, c.waiting, c.request): c.decision for c in TABLE
}
"""``(in flight, waiting, request)`` -> decision, for the registry."""


class CancelDecision(str, Enum):
    """
    What an operator's cancel of one request does to the action serving it.
    """

    DETACH = "detach"
    """The request alone ends, ``cancelled``, at once; the action goes on."""
    TAKE_OVER = "take over"
    """The newest of the other requests takes over as its own action."""
    STOP = "stop"
    """The action stops: a waiting one at once, the one in flight at its safe point."""


IN_FLIGHT_PLACE, TOLD_TO_STOP, WAITING_PLACE = "in flight", "in flight, told to stop", "waiting"
"""Where the action serving the cancelled request is."""

LEFT_NOTHING, LEFT_ITS_KIND, LEFT_ANOTHER_KIND = "nothing", "its kind", "another kind"
"""What the action's other requests still want once the cancelled one has left."""


@dataclass(frozen=True, slots=True)
class CancelCell:
    """
    One rule for a cancel, and why.

    :ivar place: where the action serving the cancelled request is.
    :ivar left: what its other requests (not cancelled) still want: nothing
        (no power request is left, only queries or none), its kind (one
        still asks for exactly this action), or another kind (only requests
        that joined it asking for less: an ``on`` on a ``cycle``, a
        ``soft_off`` on an ``off``).
    """

    place: str
    left: str
    decision: CancelDecision
    reason: str


WATCHES_ON = (
    "; but a soft off that has asked the OS to shut down answers it "
    "`cancelled` at once and goes on watching for the shutdown, which cannot "
    "be withdrawn, with nobody waiting on it: what comes next meets it as it "
    "would a soft off still running"
)
STOPS = (
    "nobody wants its work any more: it stops at its next safe point for what "
    "waits to run next, or for nothing; the request is answered when it ends, "
    "`cancelled`, or `done` if its last command was in flight and then "
    "verified" + WATCHES_ON
)
GOES_ON = (
    "another request still asks for exactly this action: it goes on for that "
    "one, and the cancelled request is answered `cancelled` at once"
)
TAKES_OVER = (
    "the requests that joined asked for less than the action does (an `on` "
    "that joined a `cycle`, a `soft_off` that joined an `off`): the action "
    "stops at its next safe point for the newest of them, which then runs as "
    "its own action under its own id and generation, so a cycle cancelled "
    "before it sent anything never cycles the node for an `on`, and a "
    "`soft_off` still gets its graceful shutdown"
)
NEVER_RUNS = (
    "it never runs and the request is answered `cancelled` at once; the "
    "action in flight re-decides where it stops, for what waits now"
)
WAITING_TAKEN_OVER = (
    "the newest of the requests that joined takes its place, waiting, as its "
    "own action under its own id and generation"
)
STOPPING_ALREADY = (
    "it is stopping already, for a newer intent (or made stale), or for "
    "another cancel: the request is answered when it ends, `cancelled` "
    "unless it reached its end" + WATCHES_ON
)
SUPERSEDED_STILL = (
    "the newer intent that superseded the action supersedes all it serves, "
    "so nothing takes over: the others end `superseded` with it as before, "
    "and the cancelled request is answered `cancelled` at once"
)

D, T, P = CancelDecision.DETACH, CancelDecision.TAKE_OVER, CancelDecision.STOP

CANCEL_TABLE: tuple[CancelCell, ...] = (
    CancelCell(IN_FLIGHT_PLACE, LEFT_NOTHING, P, STOPS),
    CancelCell(IN_FLIGHT_PLACE, LEFT_ITS_KIND, D, GOES_ON),
    CancelCell(IN_FLIGHT_PLACE, LEFT_ANOTHER_KIND, T, TAKES_OVER),
    CancelCell(TOLD_TO_STOP, LEFT_NOTHING, P, STOPPING_ALREADY),
    CancelCell(TOLD_TO_STOP, LEFT_ITS_KIND, D, SUPERSEDED_STILL),
    CancelCell(TOLD_TO_STOP, LEFT_ANOTHER_KIND, D, SUPERSEDED_STILL),
    CancelCell(WAITING_PLACE, LEFT_NOTHING, P, NEVER_RUNS),
    CancelCell(WAITING_PLACE, LEFT_ITS_KIND, D, GOES_ON),
    CancelCell(WAITING_PLACE, LEFT_ANOTHER_KIND, T, WAITING_TAKEN_OVER),
)
"""What a cancel of one request does, by where its action is and what is left."""

BOOT_NEWER_WINS = (
    "the request names another boot device (or none where the action has one): "
    "a different intent, so the newer wins as it would over another kind"
)
BOOT_REPLACES = (
    "the request names another boot device (or none where the waiting action "
    "has one): a different intent, which replaces the waiting action"
)

BOOT_RULES: dict[Decision, tuple[Decision, str]] = {
    Decision.JOIN_IN_FLIGHT: (Decision.SUPERSEDE, BOOT_NEWER_WINS),
    Decision.JOIN_WAITING: (Decision.REPLACE_WAITING, BOOT_REPLACES),
}
"""
What a power request joining an action would do instead when the two
differ in their boot setting (device and persistence): a boot device is
part of the intent, so only identical requests coalesce.  A query never
carries one and joins as the table says.
"""


def boot_decision(decision: Decision, same_boot: bool) -> Decision:
    """
    The decision for a power request, given the table's and whether its boot
    setting is the one of the action it would join (:data:`BOOT_RULES`).
    """
    if same_boot:
        return decision
    rule = BOOT_RULES.get(decision)
    return decision if rule is None else rule[0]


def render_boot_rules() -> str:
    """:data:`BOOT_RULES` as Markdown, as ``docs/power-actions.md`` shows it."""
    lines = ["| the table says | with another boot setting | why |", "| --- | --- | --- |"]
    for said, (instead, reason) in BOOT_RULES.items():
        lines.append(f"| {said.value} | {instead.value} | {reason} |")
    return "\n".join(lines) + "\n"


CANCELS: dict[tuple[str, str], CancelDecision] = {(c.place, c.left): c.decision for c in CANCEL_TABLE}
"""``(place, left)`` -> what the cancel does, for the registry."""


def render_cancels() -> str:
    """:data:`CANCEL_TABLE` as Markdown, as ``docs/power-actions.md`` shows it."""
    lines = ["| action serving it | what is left | decision | why |", "| --- | --- | --- | --- |"]
    for cell in CANCEL_TABLE:
        lines.append(f"| {cell.place} | {cell.left} | {cell.decision.value} | {cell.reason} |")
    return "\n".join(lines) + "\n"


def render_markdown() -> str:
    """
    The table as Markdown, one section per row, as ``docs/power-actions.md``
    shows it.
    """
    lines = []
    for (in_flight, waiting), _ in _ROWS.items():
        lines.append(f"### In flight: `{in_flight}`, waiting: `{waiting}`\n")
        lines.append("| request | decision | why |")
        lines.append("| --- | --- | --- |")
        for cell in TABLE:
            if (cell.in_flight, cell.waiting) == (in_flight, waiting):
                lines.append(f"| `{cell.request.value}` | {cell.decision.value} | {cell.reason} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown())
    print(render_cancels())
    print(render_boot_rules())
