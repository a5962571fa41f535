"""
``pserv-cluster power-test``: run one power action through a driver from
the cluster host, and say what happened.

It is how an operator checks a BMC's address and credentials before
enrolling a node, and how the drivers are driven from outside the tests.
Exit status: 0 when the action succeeded, 1 when it failed, 2 for bad
settings (an unknown driver, a bad or missing field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from twisted.internet.interfaces import IReactorTime

from pserv.cluster.driver_set import DriverSet
from pserv.scripts.support import UsageError
from pserv.power.actions import ACTION_CLASSES
from pserv.power.steps import PowerAction
from pserv.power.control import PowerControl
from pserv.power.drivers.base import PowerDriver
from pserv.power.errors import PowerSettingsError
from pserv.power.states import ActionKind

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


@dataclass
class PowerCheck:
    """
    One validated power-test: a driver, a node's control and an action kind.
    """

    driver: PowerDriver
    control: PowerControl
    kind: ActionKind
    escalate_after: float | None = None

    @classmethod
    def prepare(
        cls,
        reactor: IReactorTime,
        power_type: str,
        kind: str,
        settings: Mapping[str, Any],
        escalate_after: float | None = None,
        drivers: DriverSet | None = None,
    ) -> PowerCheck:
        """
        Validate everything before anything is sent.

        :param drivers: where the driver comes from: the production drivers
            on ``reactor`` if not given.
        :raises UsageError: naming the bad field, never a secret's value.
        """
        action = ActionKind(kind)
        check_escalation(action, escalate_after)
        try:
            driver = (drivers or DriverSet(reactor)).driver(power_type)
            control = driver.bind(settings)
        except PowerSettingsError as e:
            raise UsageError(str(e)) from None
        return cls(driver, control, action, escalate_after)

    async def run(self, reactor: IReactorTime) -> tuple[int, str]:
        """
        Run the action; return the exit status and the line to print.
        """
        options = {"escalate_after": self.escalate_after} if self.kind is ActionKind.SOFT_OFF else {}
        action: PowerAction = ACTION_CLASSES[self.kind](self.control, reactor, **options)
        try:
            await action.start()
        finally:
            await self.driver.close()
        return report(action)


def check_escalation(kind: ActionKind, seconds: float | None) -> None:
    """
    ``--escalate-after`` must be a finite, positive wait, and only for
    ``soft_off``: a negative or zero wait sends a hard off at once, and
    ``nan`` or ``inf`` would wait for the shutdown for ever.

    :raises UsageError: naming the option.
    """
    if seconds is None:
        return
    if kind is not ActionKind.SOFT_OFF:
        raise UsageError(f"--escalate-after: only for soft_off, not {kind.value}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError("--escalate-after: must be a positive number of seconds")


def report(action: PowerAction) -> tuple[int, str]:
    """
    The exit status and one line for a finished action.
    """
    sent = ", ".join(action.commands) or "none"
    prefix = f"{action.control.description}: {action.kind.value}"
    if action.error is not None:
        kind = "fatal" if action.error.fatal else "transient"
        return EXIT_FAILED, f"{prefix} failed ({kind}): {action.error} [commands sent: {sent}]"
    state = action.state.value if action.state is not None else "unknown"
    return EXIT_OK, f"{prefix} done: power {state} [commands sent: {sent}]"
