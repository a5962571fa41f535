"""
What an IPMI backend provides, and the chassis commands the driver sends.

A backend wraps one synchronous IPMI library.  Its blocking methods run in
the driver's worker threads, never on the reactor; they raise only
:class:`pserv.power.drivers.ipmi.errors.BMCError` subclasses.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Protocol

from pserv.power.drivers.ipmi.target import BMCTarget

NETFN_CHASSIS = 0x00
CMD_GET_CHASSIS_STATUS = 0x01
CMD_CHASSIS_CONTROL = 0x02


class ChassisControl(IntEnum):
    """
    The directives of the Chassis Control command (IPMI 2.0, 28.3).
    """

    POWER_DOWN = 0x0
    POWER_UP = 0x1
    POWER_CYCLE = 0x2
    HARD_RESET = 0x3
    DIAGNOSTIC_INTERRUPT = 0x4
    SOFT_SHUTDOWN = 0x5


class IPMIBackend(Protocol):
    """
    One IPMI library, behind the interface the driver's session pool uses.

    :cvar name: the ``backend`` setting that selects it.
    """

    name: str

    def check(self, target: BMCTarget) -> None:
        """
        Check settings this backend cannot honour; runs on the reactor.

        :raises PowerSettingsError: naming the field.
        """

    def open(self, target: BMCTarget) -> Any:
        """
        Authenticate and return a session.  Blocking.
        """

    def power_is_on(self, session: Any) -> bool:
        """
        Send Get Chassis Status once; ``True`` if the power is on.  Blocking.
        """

    def control(self, session: Any, directive: ChassisControl) -> None:
        """
        Send one Chassis Control command.  Blocking.
        """

    def chassis(self, session: Any, command: int, data: tuple[int, ...]) -> bytes:
        """
        Send one other chassis command (netfn 0x00) with ``data``; its
        answer's data, after the completion code.  Blocking.
        """

    def close(self, session: Any) -> None:
        """
        Close the session on the BMC, best effort, never raising.  Blocking.
        """

    def usable(self, session: Any) -> bool:
        """
        Whether an idle session still looks sound; cheap, on the reactor.
        """
