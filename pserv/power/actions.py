"""
The five power actions, one class each, built from the steps of
:class:`~pserv.power.steps.PowerAction`.

Each reads first and sends at most the commands its kind needs: a node
already where the action would take it is left alone.  A BMC that refuses
that read fails the action with nothing sent; only a driver that cannot
read power at all (manual, Wake-on-LAN) is sent the one command the
request names, unread and unverified.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pserv.power.errors import PowerTransientError, PowerUnsupportedError, PowerVerifyError
from pserv.power.states import ActionKind, PowerState
from pserv.power.steps import ALWAYS, FORCING_OFF, PowerAction

__all__ = [
    "ACTION_CLASSES",
    "CycleAction",
    "OffAction",
    "OnAction",
    "QueryAction",
    "SoftOffAction",
]


class QueryAction(PowerAction):
    """
    Read the power state; change nothing.
    """

    kind = ActionKind.QUERY

    async def _run(self) -> PowerState:
        state = await self._read_current()
        if state is None:
            raise PowerUnsupportedError(f"{self.control.description}: this driver cannot read power")
        return state


class _SwitchAction(PowerAction):
    """
    Switch the node to this kind's target, unless it is there already.
    """

    command: ClassVar[str]

    async def _run(self) -> PowerState:
        target = self.kind.target
        assert target is not None
        state = await self._read_current()
        if state == target:
            return state
        return await self._command(self.command, target)


class OnAction(_SwitchAction):
    """
    Switch on; a node found on is left alone (but the boot device the
    request names, if any, is set: its next boot uses it), unless a graceful shutdown
    asked for before it may still take the node off: then it waits for the
    shutdown (up to its deadline, a safe point for any successor), and
    switches the node on once it is off.
    """

    kind = ActionKind.ON
    command = "power_on"

    async def _run(self) -> PowerState:
        self._check_boot()
        state = await self._read_current()
        await self._set_boot()
        if state is PowerState.ON and self.pending_shutdown() is not None:
            state = await self._await_shutdown()
        if state is PowerState.ON:
            return state
        return await self._command(self.command, PowerState.ON)

    async def _await_shutdown(self) -> PowerState:
        """The node once the shutdown under way has taken it off, or, if it has not by its deadline, on."""
        until = self.pending_shutdown()
        assert until is not None
        try:
            return await self._verify(PowerState.OFF, until - self.clock.seconds(), ALWAYS)
        except PowerVerifyError:
            if self.state is PowerState.ON:
                return self.state
            raise


class OffAction(_SwitchAction):
    """
    Switch off at once; a node found off is left alone.
    """

    kind = ActionKind.OFF
    command = "power_off"


class SoftOffAction(PowerAction):
    """
    Shut down gracefully, optionally escalating to a hard off.

    :param escalate_after: seconds to wait for the graceful shutdown before
        sending a hard off; ``None`` waits up to the policy's
        ``soft_off_timeout`` and then fails.
    """

    kind = ActionKind.SOFT_OFF

    def __init__(self, *args: Any, escalate_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.escalate_after = escalate_after

    async def _run(self) -> PowerState:
        state = await self._read_current()
        if state is PowerState.OFF:
            return state
        if self.escalate_after is None:
            return await self._command(
                "soft_off", PowerState.OFF, self.policy.soft_off_timeout, FORCING_OFF
            )
        try:
            return await self._command(
                "soft_off", PowerState.OFF, self.escalate_after, FORCING_OFF
            )
        except PowerVerifyError:
            if self.cancelling:
                return await self._see_shutdown_through()
        return await self._escalate()

    async def _escalate(self) -> PowerState:
        """
        The graceful wait is over: read again (the operating system may
        have shut down meanwhile, or while the milestone was recorded) and
        force the node off only if it is still not off.
        """
        await self._progress("escalating")
        state = await self._read_retrying(FORCING_OFF, "power_off was not sent")
        if state is PowerState.OFF:
            return state
        return await self._command("power_off", PowerState.OFF)

    async def _see_shutdown_through(self) -> PowerState:
        """
        Superseded by a request that does not force off (``on``, say): the
        operating system may still shut down at any moment, so rather than
        hand over a node about to go off, verify up to the full
        ``soft_off_timeout``; the successor then reads the truth.
        """
        assert self.escalate_after is not None
        remaining = max(self.policy.soft_off_timeout - self.escalate_after, 0.001)
        return await self._verify(PowerState.OFF, remaining, FORCING_OFF)


class CycleAction(PowerAction):
    """
    Off, verify off, on, verify on; a node found off is simply switched on.
    A boot device the request names is set before the off.

    It never runs on a failed read: not knowing whether the node is on, it
    cannot know whether switching it off would be a change nobody asked for.
    """

    kind = ActionKind.CYCLE

    async def _run(self) -> PowerState:
        self._check_boot()
        state = await self._read_current()
        if state is None:
            raise PowerUnsupportedError(
                f"{self.control.description}: cannot cycle a node whose power cannot be read"
            )
        if state is not PowerState.ON and state is not PowerState.OFF:
            raise PowerTransientError(
                f"{self.control.description}: power state is {state.value}; not cycling"
            )
        await self._set_boot()
        if state is PowerState.ON:
            await self._command("power_off", PowerState.OFF)
            await self._progress("off_verified")
            if self.policy.cycle_delay:
                await self._pause(self.policy.cycle_delay, ALWAYS)
        return await self._command("power_on", PowerState.ON)


ACTION_CLASSES: dict[ActionKind, type[PowerAction]] = {
    cls.kind: cls for cls in (OnAction, OffAction, CycleAction, SoftOffAction, QueryAction)
}
"""The class that carries out each kind of action."""
