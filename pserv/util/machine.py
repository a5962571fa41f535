"""
Explicit state machines: a table of ``(state, input) -> (next state,
output)`` that the code is driven by.

A subclass of :class:`StateMachine` names its first state and gives its
table as data; the table is checked when the class is made (every output
is a method of the class, every state can be reached from the first one),
so a wrong table fails at import.  A further subclass may override outputs:
its table is resolved against its own methods.  :meth:`StateMachine.fire` looks the input
up before it runs anything: an input the table does not declare for the
current state raises :class:`InvalidTransition` and changes nothing.

An output runs once the machine is in its next state, and may fire further
inputs, which run at once, from the state it is then in (there is no queue,
unlike Automat's).  The machine's own attributes hold the data of the state
it is in.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Callable, ClassVar, Generic, Mapping, TypeVar

S = TypeVar("S", bound=Enum)
I = TypeVar("I", bound=Enum)

Table = Mapping[tuple[S, I], tuple[S, "str | None"]]
"""``(state, input) -> (next state, name of the output method or None)``."""


class InvalidTransition(ValueError):
    """
    A change a table does not declare: an input that arrived in a state
    with no transition for it, or a change of status a table does not list
    (:meth:`pserv.power.states.ActionStatus.check_transition`).

    :ivar state: the state the machine was (and stays) in.
    :ivar event: the input, or the status asked for.
    """

    def __init__(self, message: str, state: Enum, event: Enum) -> None:
        super().__init__(message)
        self.state = state
        self.event = event


class StateMachine(Generic[S, I]):
    """
    A state and the table that moves it.

    :cvar initial: the state a new machine is in.
    :cvar table: every declared transition (see :data:`Table`).
    :ivar state: the state the machine is in.
    """

    __slots__ = ("state",)

    initial: ClassVar[Any]
    table: ClassVar[Table[Any, Any]]
    _moves: ClassVar[dict[tuple[Any, Any], tuple[Any, Callable[..., None] | None]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if getattr(cls, "table", None) is not None:
            cls._moves = compile_table(cls, cls.initial, cls.table)

    def __init__(self) -> None:
        self.state = self.initial

    def fire(self, event: I, *args: Any) -> S:
        """
        Move on ``event`` and run its output with ``args``.

        :param event: the input.
        :param args: what the output is called with.
        :return: the state the machine is in once the output has run.
        :raises InvalidTransition: when the table does not declare ``event``
            in the current state; nothing has run.
        """
        try:
            to, output = self._moves[self.state, event]
        except KeyError:
            raise InvalidTransition(
                f"{type(self).__name__}: no transition from {self.state.value} on {event.value}", self.state, event
            ) from None
        self.state = to
        if output is not None:
            output(self, *args)
        return self.state

    def allows(self, event: I) -> bool:
        """
        Whether the table declares ``event`` in the current state.

        :param event: the input.
        """
        return (self.state, event) in self._moves


def compile_table(
    owner: type, initial: S, table: Table[S, I]
) -> dict[tuple[S, I], tuple[S, Callable[..., None] | None]]:
    """
    ``table`` with each output name resolved to ``owner``'s method.

    :param owner: the machine's class, which holds the outputs.
    :param initial: the state a new machine is in.
    :param table: ``(state, input) -> (next state, output name or None)``.
    :raises TypeError: if an output is not a method of ``owner``, a state
        or input is not of its table's enum, or a state of the enum cannot be
        reached from ``initial``.
    """
    states, inputs = type(initial), {type(event) for _, event in table}
    if len(inputs) != 1 or any(type(s) is not states or type(t) is not states for (s, _), (t, _) in table.items()):
        raise TypeError(f"{owner.__name__}: every state must be a {states.__name__}, every input of one enum")
    moves: dict[tuple[S, I], tuple[S, Callable[..., None] | None]] = {}
    for key, (to, name) in table.items():
        output = None if name is None else getattr(owner, name, None)
        if name is not None and not callable(output):
            raise TypeError(f"{owner.__name__}: no output method {name!r}")
        moves[key] = (to, output)
    unreachable = set(states) - reachable(initial, table)
    if unreachable:
        raise TypeError(f"{owner.__name__}: unreachable states {sorted(s.value for s in unreachable)}")
    return moves


def reachable(initial: S, table: Table[S, Any]) -> set[S]:
    """
    The states ``table`` can reach from ``initial``.

    :param initial: where to start.
    :param table: ``(state, input) -> (next state, output)``.
    """
    seen, frontier = {initial}, [initial]
    while frontier:
        state = frontier.pop()
        for (source, _), (to, _) in table.items():
            if source is state and to not in seen:
                seen.add(to)
                frontier.append(to)
    return seen
