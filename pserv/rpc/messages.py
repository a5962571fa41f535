"""
The messages the region and its clusters exchange: one frozen class each.

Every command after the handshake carries one of these (or a tuple of
them), and :mod:`pserv.rpc.wire` is the one conversion to and from the
wire: the receiving end checks a message once, as it deserialises it.
``docs/rpc.md`` shows each class's fields as they travel; a test keeps the
two in step.

Senders build messages here, in one place each: the region's store builds
:class:`PowerRequest` and :class:`RecoveryPage`; the cluster builds its
reports with the constructors of :class:`OutcomeReport`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import attrs

from pserv.power.boot import BOOT_KINDS, BootDevice, BootSetting
from pserv.power.outcome import Outcome
from pserv.power.states import FINAL, OUTSTANDING, ActionKind, ActionStatus, PowerState
from pserv.util.times import moment_from_seconds


@attrs.frozen
class Among:
    """Marks an enum field whose value must be one of ``members``."""

    members: frozenset[Enum]


FinalStatus = Annotated[ActionStatus, Among(FINAL)]
"""How an action ended: one of the final statuses."""

OutstandingStatus = Annotated[ActionStatus, Among(OUTSTANDING - {ActionStatus.TIMED_OUT})]
"""
Where an action not yet ended stands, as a cluster sees it: a ``timed_out``
action travels as ``sent`` (handed over and still owed an outcome), which
peers of this protocol version understand.
"""

DesiredPower = Annotated[PowerState, Among(frozenset({PowerState.ON, PowerState.OFF, PowerState.UNKNOWN}))]
"""What an operator can want a node's power to be (``unknown``: no wish yet)."""

ObservedPower = Annotated[PowerState, Among(frozenset({PowerState.ON, PowerState.OFF, PowerState.ERROR}))]
"""What a cluster can see when it reads a node's power (``error``: the read failed)."""

NO_GENERATION = -1
"""
The generation of an outcome for an action the cluster ended without
running it (cancelled before it started, or while the cluster was away):
the cluster never took on its generation.  It is below every real one
(they start at 1), so the region records such an outcome and never applies
it to the node.
"""


@attrs.frozen
class PowerRequest:
    """
    ``PerformPower``: a power action for a cluster to run, with everything it needs.

    :ivar escalate_after: for a ``soft_off``, the seconds to wait for the
        graceful shutdown before a hard off; ``None`` (and from regions
        before the field, which leave it out): never escalate.
    :ivar boot_device: for an ``on`` or ``cycle``, the boot device to set
        before the first power command; ``None``: none.
    :ivar boot_persistent: with ``boot_device``: for every boot, not the
        next only.
    :ivar budget: the power budget the node is under (its own, or its
        cluster's default), if any: the action asks the region for a start
        (``TakeStarts``) before it sends a power-on.
    """

    action: int
    node: int
    name: str
    kind: ActionKind
    generation: int
    power_type: str
    power_parameters: dict[str, Any]
    escalate_after: float | None = None
    epoch: int = 0
    boot_device: BootDevice | None = None
    boot_persistent: bool = False
    budget: str | None = None

    @property
    def boot(self) -> BootSetting | None:
        """The boot setting the request names, if any."""
        return None if self.boot_device is None else BootSetting(self.boot_device, self.boot_persistent)


@attrs.frozen
class CancelRequest:
    """``CancelAction``: stop ``action`` on ``node`` at its next safe point."""

    node: int
    action: int


@attrs.frozen
class ReleaseRequest:
    """``ReleaseNode``: give ``node`` up (it moved to another cluster); answered once nothing is in play for it."""

    node: int


@attrs.frozen
class AdoptRequest:
    """``AdoptNodes``: ``nodes`` are now this cluster's (their last holder's lease ended); recover them."""

    nodes: tuple[int, ...]


@attrs.frozen
class RecoveryQuery:
    """``Recover``: the nodes with an id above ``after`` (all for ``None``), at most ``limit``."""

    after: int | None
    limit: int


@attrs.frozen
class RecoveryAction:
    """One outstanding action of a recovery entry (``escalate_after`` and the boot fields as in :class:`PowerRequest`)."""

    id: int
    kind: ActionKind
    generation: int
    status: OutstandingStatus
    progress: str | None
    cancel_requested: bool
    escalate_after: float | None = None
    boot_device: BootDevice | None = None
    boot_persistent: bool = False


@attrs.frozen
class RecoveryNode:
    """A recovery entry: one node and everything outstanding for it (``budget`` as in :class:`PowerRequest`)."""

    node: int
    name: str
    power_type: str
    power_parameters: dict[str, Any]
    desired_power_state: DesiredPower
    generation: int
    actions: tuple[RecoveryAction, ...]
    epoch: int = 0
    budget: str | None = None

    def request(self, action: RecoveryAction, kind: ActionKind | None = None) -> PowerRequest:
        """
        The power request that re-runs ``action`` of this node; its boot
        device, if it names one, is set again before the power command (an
        interrupted cycle that finishes as ``on`` too).

        :param kind: what to run instead of the action's own kind (an
            interrupted cycle finishes as ``on``).
        """
        kind = kind or action.kind
        booting = kind in BOOT_KINDS and action.boot_device is not None
        return PowerRequest(
            action=action.id, node=self.node, name=self.name, kind=kind,
            generation=action.generation, power_type=self.power_type, power_parameters=self.power_parameters,
            escalate_after=action.escalate_after if kind is ActionKind.SOFT_OFF else None,
            epoch=self.epoch,
            boot_device=action.boot_device if booting else None,
            boot_persistent=action.boot_persistent if booting else False,
            budget=self.budget,
        )


@attrs.frozen
class RecoveryPage:
    """``Recover``'s answer: entries in node id order; ``next`` the next page's ``after``, ``None`` after the last."""

    nodes: tuple[RecoveryNode, ...]
    next: int | None


@attrs.frozen
class RunningReport:
    """``ReportRunning``: the cluster started running ``action``."""

    action: int


@attrs.frozen
class ProgressReport:
    """``ReportProgress``: ``action`` reached the milestone ``progress`` (``off_verified``, ...)."""

    action: int
    progress: str


@attrs.frozen
class OutcomeReport:
    """
    ``ReportOutcome``: how an action ended.

    :ivar action: the region action this outcome answers.
    :ivar generation: the generation the action ran at (:data:`NO_GENERATION`
        for one the cluster ended without running).
    :ivar power_state: the verified state for ``done``, else the last seen.
    :ivar observed_at: when ``power_state`` was read, by the cluster's
        clock; ``None`` when it was not (the region then applies no state).
    :ivar epoch: the node's epoch the action was handed over in
        (:class:`PowerRequest`); the region applies a state only of the
        node's current epoch.
    """

    action: int
    node: int
    status: FinalStatus
    generation: int
    power_state: PowerState | None
    error: str | None
    fatal: bool
    superseded_by: int | None
    commands: tuple[str, ...]
    observed_at: datetime | None = None
    epoch: int = 0

    @classmethod
    def from_outcome(cls, node: int, outcome: Outcome) -> OutcomeReport:
        """A registry :class:`~pserv.power.outcome.Outcome` for ``node``, under the registry's id and generation."""
        return cls(
            action=outcome.action_id, node=node, status=ActionStatus(outcome.status.value),
            generation=outcome.generation, power_state=outcome.state, error=outcome.error,
            fatal=outcome.fatal, superseded_by=outcome.superseded_by, commands=tuple(outcome.commands),
            observed_at=None if outcome.observed_at is None else moment_from_seconds(outcome.observed_at),
        )

    @classmethod
    def answering(cls, request: PowerRequest, outcome: Outcome) -> OutcomeReport:
        """
        The report for ``request`` of the registry action that served it:
        under the request's own action id and generation (a request that
        joined another action gets its own report).
        """
        report = cls.from_outcome(request.node, outcome)
        return attrs.evolve(report, action=request.action, generation=request.generation, epoch=request.epoch)

    @classmethod
    def failed(cls, request: PowerRequest, error: str) -> OutcomeReport:
        """``request`` failed fatally before it ran (its settings were refused, say)."""
        return cls(
            action=request.action, node=request.node, status=ActionStatus.FAILED,
            generation=request.generation, power_state=None, error=error, fatal=True,
            superseded_by=None, commands=(), epoch=request.epoch,
        )

    @classmethod
    def cancelled(cls, node: int, action: int) -> OutcomeReport:
        """``action`` cancelled before this cluster ran it: at :data:`NO_GENERATION`."""
        return cls(
            action=action, node=node, status=ActionStatus.CANCELLED, generation=NO_GENERATION,
            power_state=None, error=None, fatal=False, superseded_by=None, commands=(),
        )


@attrs.frozen
class ActionReports:
    """
    ``ReportActions``: the reports on many actions in one call, of which
    the region records each in its own savepoint of one transaction.  The
    cluster puts at most one report per action in a batch (the oldest it
    has not had acknowledged), so the order of each action's reports is
    the order of the batches.
    """

    running: tuple[RunningReport, ...] = ()
    progress: tuple[ProgressReport, ...] = ()
    outcomes: tuple[OutcomeReport, ...] = ()


@attrs.frozen
class ReportsAnswer:
    """
    ``ReportActions``'s answer.  Every report of the batch but those in
    ``retry`` is recorded (or was already: reports are idempotent by action
    id).

    :ivar applied: the actions whose outcome changed the node.
    :ivar retry: the actions whose report the region could not record now;
        the cluster sends them again.
    :ivar refused: the actions whose outcome the region did not take
        because the cluster does not hold their node (it has moved, or
        failed over): the action is still outstanding, for its holder.
    """

    applied: tuple[int, ...] = ()
    retry: tuple[int, ...] = ()
    refused: tuple[int, ...] = ()


@attrs.frozen
class StartAsk:
    """One entry of ``TakeStarts``: ``action`` of ``node`` is about to send its power-on under a budget."""

    action: int
    node: int


@attrs.frozen
class BudgetPlace:
    """An action that waits in ``budget``'s line: its ``place`` (1 is next) of how many wait (``of``)."""

    action: int
    budget: str
    place: int
    of: int


@attrs.frozen
class StartsAnswer:
    """
    ``TakeStarts``'s answer.

    :ivar granted: the actions that may send their power-on now.
    :ivar waiting: the others, each with its place in its budget's line.
    :ivar refused: the actions that may not start at all: the region has
        ended them, or their node is not this cluster's any more.  They
        wait for the cancel on its way, or for good.
    :ivar retry_after: seconds until the cluster asks again for those
        still waiting (it asks again sooner for new ones).
    """

    granted: tuple[int, ...] = ()
    waiting: tuple[BudgetPlace, ...] = ()
    refused: tuple[int, ...] = ()
    retry_after: float = 1.0


@attrs.frozen
class ObservedState:
    """
    One entry of ``ReportPowerStates``: a node's power as the cluster read
    it, when (by the cluster's clock), and in which of the node's epochs.
    """

    node: int
    power_state: ObservedPower
    error: str | None
    observed_at: datetime
    epoch: int = 0


MESSAGES: tuple[type, ...] = (
    PowerRequest, CancelRequest, ReleaseRequest, RecoveryQuery, RecoveryPage, RecoveryNode, RecoveryAction,
    RunningReport, ProgressReport, OutcomeReport, ActionReports, ReportsAnswer, ObservedState,
    StartAsk, BudgetPlace, StartsAnswer,
)
"""Every message class, in the order ``docs/rpc.md`` describes them."""
