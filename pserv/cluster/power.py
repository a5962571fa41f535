"""
The region's power requests, run through the registry, every step reported.

A region action becomes a registry request under the region's own action
id and generation.  Several region actions may ride one registry action
(a duplicate joins the one in flight); each gets its own reports, and a
cancel ends only the one it names (the registry keeps each request's
identity).  A cycle's ``off_verified`` milestone is recorded by the region
before the cycle sends ``power_on``, for every region action riding it.
A recovery answer seeds each node's generation, so that nothing older is
ever sent, and converges on the newest intent.  A member of a group sends
only while its lease runs (:mod:`pserv.cluster.lease`); when it ends, what
is in play is *fenced*: stopped, never reported, and run again only if the
region's recovery hands it back.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import count

from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.lease import Lease, LeasedControl
from pserv.cluster.reports import ReportQueue, Taken
from pserv.cluster.starts import BudgetedControl, StartPermits
from pserv.power.actions import PowerAction
from pserv.power.errors import PowerSettingsError
from pserv.power.lifecycle import ActionState
from pserv.power.outcome import Outcome
from pserv.power.registry import ActionEvent, PowerActionRegistry
from pserv.power.states import ActionKind
from pserv.rpc.messages import OutcomeReport, PowerRequest, RecoveryNode

log = Logger()

RESUMED = {(ActionKind.CYCLE, "off_verified"): ActionKind.ON}
"""A region action interrupted after this milestone finishes as this kind."""

ENDED_MEMORY = 100_000
"""How many ended region actions a cluster remembers, so as never to run one again."""


class ClusterPower:
    """
    The cluster's power work: the registry, its drivers and its reports.

    :param lease: a group member's lease, which every command checks;
        ``None`` for a cluster of no group, which needs none.
    """

    def __init__(self, clock: IReactorTime, drivers: DriverSet, reports: ReportQueue,
                 lease: Lease | None = None) -> None:
        self.drivers = drivers
        self.reports = reports
        self.lease = lease
        self.registry = PowerActionRegistry(clock, ids=count(-1, -1), checkpoint=self._checkpoint)
        self.permits = StartPermits(clock, self._serving)
        self.registry.add_listener(self._follow)
        self._outstanding: dict[int, int] = {}
        self._ended: OrderedDict[int, None] = OrderedDict()
        self._fenced: set[int] = set()
        self._again: dict[int, PowerRequest] = {}

    def perform(self, request: PowerRequest) -> None:
        """
        Run one region action.  A re-delivery of an action outstanding or
        already ended here changes nothing: a recovery answer made before
        the region heard an outcome still lists that action, and running a
        finished cycle again would cycle the node twice.  Without a running
        lease, nothing runs: the recovery that follows the next renewal
        hands the action back if this cluster still holds its node.
        """
        action = request.action
        if action in self._fenced:
            self._again[action] = request  # run once the fenced one has stopped
            return
        if action in self._outstanding or action in self._ended:
            return
        if self.lease is not None and not self.lease.check():
            log.info("action {action}: not run, this cluster's lease has ended (recovery hands it back if it still "
                     "holds the node)", action=action)
            return
        try:
            control = self.drivers.control(request.power_type, request.power_parameters, request.node)
        except PowerSettingsError as e:
            self.reports.outcome(OutcomeReport.failed(request, str(e)))
            return
        if self.lease is not None:
            control = LeasedControl(control, self.lease)
        if request.budget is not None:
            control = BudgetedControl(control, self.permits, request.node)
        self._outstanding[action] = request.node
        ran = self.registry.request(
            str(request.node), request.kind, control, action_id=action, generation=request.generation,
            escalate_after=request.escalate_after, boot=request.boot,
        )
        ran.addCallback(self._ended_with, request)

    def cancel(self, node: int, action: int) -> bool:
        """
        The region's cancel of one action: it alone ends ``cancelled`` (at
        once if it rode another's action, else at its action's safe point);
        region actions that joined it keep their own life.

        :return: whether the action was outstanding here.
        """
        return action in self._outstanding and self.registry.cancel(str(node), action)

    def converge(self, nodes: list[RecoveryNode]) -> None:
        """
        Act on a recovery answer: seed each node's generation (a late
        request older than it is then answered superseded without running),
        and re-run its outstanding actions newest first, so that the older
        ones are superseded by the newest and only it runs (each reads
        first, so nothing already done is done again).  An interrupted
        cycle finishes as ``on``; one cancelled meanwhile ends cancelled.
        """
        for node in nodes:
            self.registry.seed(str(node.node), node.generation)
            for action in sorted(node.actions, key=lambda a: a.generation, reverse=True):
                if action.id in self._ended:
                    continue
                if action.cancel_requested and not self.cancel(node.node, action.id):
                    self.reports.outcome(OutcomeReport.cancelled(node.node, action.id))
                    continue
                self.perform(node.request(action, RESUMED.get((action.kind, action.progress))))

    def fence(self) -> list[int]:
        """
        The lease ended: stop every region action in play (each at its safe
        point), report none of them, and forget them, so that the region's
        recovery may hand them back to run again (or to another member).

        :return: the actions stopped.
        """
        fenced = sorted(self._outstanding)
        self._fenced.update(fenced)
        nodes, self._outstanding = self._outstanding, {}
        for action in fenced:
            self.registry.cancel(str(nodes[action]), action)
        return fenced

    @property
    def outstanding(self) -> frozenset[int]:
        """The region actions this cluster owes an outcome."""
        return frozenset(self._outstanding)

    def _serving(self, node: int, action: PowerAction) -> list[int]:
        """The region actions ``action`` of ``node`` serves, oldest first, for its budget's line."""
        return sorted(i for i in self.registry.serving(str(node), action, queries=False) if i > 0)

    def _region_ids(self, event: ActionEvent) -> list[int]:
        """The region actions riding the event's action (the cluster numbers its own below zero)."""
        return [i for i in self.registry.serving(event.node, event.action) if i > 0]

    def _follow(self, event: ActionEvent) -> None:
        if event.name == "started":
            for rider in self._region_ids(event):
                self.reports.running(rider)
        elif event.name == "joined" and event.detail is not None:
            if event.action.lifecycle.state is not ActionState.WAITING and int(event.detail) > 0:
                self.reports.running(int(event.detail))

    def _checkpoint(self, node: str, action: PowerAction, milestone: str) -> Deferred[object] | None:
        log.info("action {action} on node {node}: {milestone}", action=action.id, node=node, milestone=milestone)
        riders = [r for r in self.registry.serving(node, action, queries=False) if r > 0]
        if not riders:
            return None
        recorded = gatherResults([self.reports.progress(rider, milestone) for rider in riders], consumeErrors=True)
        return recorded.addErrback(_first_failure)

    def _end(self, action: int) -> None:
        self._outstanding.pop(action, None)
        self._ended[action] = None
        if len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    def _ended_with(self, outcome: Outcome, request: PowerRequest) -> None:
        if request.action in self._fenced:
            self._fenced.discard(request.action)
            again = self._again.pop(request.action, None)
            if again is not None:
                self.perform(again)
            return
        self._end(request.action)
        taken = self.reports.outcome(OutcomeReport.answering(request, outcome))
        taken.addCallback(self._refused, request.action)

    def _refused(self, taken: Taken | None, action: int) -> None:
        """
        The region refused the outcome of ``action``: this cluster no longer
        holds its node, so the action is still outstanding, and if the node
        comes back recovery lists it: run it then (reading first, as any
        recovered action does) rather than skip it as ended.
        """
        if taken is Taken.REFUSED:
            log.info("action {action}: the region refused its outcome (its node is held by another member now); "
                     "it runs again here only if recovery hands it back", action=action)
            self._ended.pop(action, None)


def _first_failure(failure: Failure) -> Failure:
    """A failed milestone write's own failure, so a cancel stays a cancel."""
    if failure.check(FirstError):
        return failure.value.subFailure
    return failure
