"""
What the registry tells its listeners: each thing that happens to an
action, and the checkpoint it asks at each milestone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from twisted.internet.defer import Deferred

from pserv.power.outcome import Outcome
from pserv.power.steps import PowerAction


@dataclass(frozen=True, slots=True)
class ActionEvent:
    """
    Something that happened to an action in the registry.

    :ivar name: ``queued``, ``started``, ``joined``, ``cancelling``,
        ``progress`` or ``ended``.
    :ivar detail: the milestone, for ``progress``; for ``joined``, the id
        the joining request brought (or ``None``).
    :ivar outcome: for ``ended``.
    """

    name: str
    node: str
    action: PowerAction
    detail: str | None = None
    outcome: Outcome | None = None


ActionListener = Callable[[ActionEvent], None]
Checkpoint = Callable[[str, PowerAction, str], "Deferred[object] | None"]
