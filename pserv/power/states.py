"""
Power states and the kinds of power action.
"""

from __future__ import annotations

from enum import Enum


class PowerState(str, Enum):
    """
    A node's power state, as the API and the drivers name it.

    Drivers report only ``ON`` and ``OFF``; ``UNKNOWN`` means nobody has
    looked yet or the driver cannot tell, and ``ERROR`` that reading it failed.
    """

    ON = "on"
    OFF = "off"
    UNKNOWN = "unknown"
    ERROR = "error"


class ActionKind(str, Enum):
    """
    What an operator can ask of a node's power.
    """

    ON = "on"
    OFF = "off"
    CYCLE = "cycle"
    SOFT_OFF = "soft_off"
    QUERY = "query"

    @property
    def target(self) -> PowerState | None:
        """
        The power state this kind of action leaves the node in, or ``None``
        for a query, which changes nothing.
        """
        return _TARGETS[self]

    @property
    def changes_power(self) -> bool:
        """
        Whether this kind of action may send a command that changes power.
        """
        return self is not ActionKind.QUERY


_TARGETS = {
    ActionKind.ON: PowerState.ON,
    ActionKind.CYCLE: PowerState.ON,
    ActionKind.OFF: PowerState.OFF,
    ActionKind.SOFT_OFF: PowerState.OFF,
    ActionKind.QUERY: None,
}
