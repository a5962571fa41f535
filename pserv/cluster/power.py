"""
The region's power requests, run through the registry, every step reported.

A region action becomes a registry request under the region's own action
id and generation.  Several region actions may ride one registry action
(a duplicate joins the one in flight); each gets its own reports.  A
cycle's ``off_verified`` milestone is recorded by the region before the
cycle sends ``power_on``, for every region action riding it.
"""

from __future__ import annotations

from collections import OrderedDict
from itertools import count

from twisted.internet.defer import Deferred, FirstError, gatherResults
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.reports import ReportQueue
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
    """

    def __init__(self, clock: IReactorTime, drivers: DriverSet, reports: ReportQueue) -> None:
        self.drivers = drivers
        self.reports = reports
        self.registry = PowerActionRegistry(clock, ids=count(-1, -1), checkpoint=self._checkpoint)
        self.registry.add_listener(self._follow)
        self._riders: dict[int, list[int]] = {}
        self._outstanding: set[int] = set()
        self._detached: set[int] = set()
        self._ended: OrderedDict[int, None] = OrderedDict()

    def perform(self, request: PowerRequest) -> None:
        """
        Run one region action.  A re-delivery of an action outstanding or
        already ended here changes nothing: a recovery answer made before
        the region heard an outcome still lists that action, and running a
        finished cycle again would cycle the node twice.
        """
        action = request.action
        if action in self._outstanding or action in self._ended:
            return
        try:
            control = self.drivers.control(request.power_type, request.power_parameters)
        except PowerSettingsError as e:
            self.reports.outcome(OutcomeReport.failed(request, str(e)))
            return
        self._outstanding.add(action)
        ran = self.registry.request(
            str(request.node), request.kind, control, action_id=action, generation=request.generation,
            escalate_after=request.escalate_after,
        )
        ran.addCallback(self._ended_with, request)

    def cancel(self, node: int, action: int) -> bool:
        """
        The region's cancel.  An action of its own stops at its safe point;
        one riding another's action is reported cancelled at once.

        :return: whether the action was outstanding here.
        """
        if action not in self._outstanding:
            return False
        if self.registry.cancel(str(node), action):
            return True
        self._detached.add(action)
        self._end(action)
        self.reports.outcome(OutcomeReport.cancelled(node, action))
        return True

    def converge(self, nodes: list[RecoveryNode]) -> None:
        """
        Act on a recovery answer: re-run every outstanding action that has
        no outcome (each reads first, so nothing already done is done
        again), finish interrupted cycles as ``on``, and end those cancelled
        meanwhile.
        """
        for node in nodes:
            for action in node.actions:
                if action.id in self._ended:
                    continue
                if action.cancel_requested and not self.cancel(node.node, action.id):
                    self.reports.outcome(OutcomeReport.cancelled(node.node, action.id))
                    continue
                self.perform(node.request(action, RESUMED.get((action.kind, action.progress))))

    @property
    def outstanding(self) -> frozenset[int]:
        """The region actions this cluster owes an outcome."""
        return frozenset(self._outstanding)

    def _follow(self, event: ActionEvent) -> None:
        action = event.action
        if event.name == "queued" and action.id > 0:
            self._riders[action.id] = [action.id]
        elif event.name == "joined" and event.detail is not None:
            rider = int(event.detail)
            self._riders.setdefault(action.id, []).append(rider)
            if action.lifecycle.state is not ActionState.WAITING:
                self.reports.running(rider)
        elif event.name == "started":
            for rider in self._riders.get(action.id, ()):
                self.reports.running(rider)
        elif event.name == "ended":
            self._riders.pop(action.id, None)

    def _checkpoint(self, node: str, action: PowerAction, milestone: str) -> Deferred[object] | None:
        log.info("action {action} on node {node}: {milestone}", action=action.id, node=node, milestone=milestone)
        riders = [r for r in self._riders.get(action.id, ()) if r not in self._detached]
        if not riders:
            return None
        recorded = gatherResults([self.reports.progress(rider, milestone) for rider in riders], consumeErrors=True)
        return recorded.addErrback(_first_failure)

    def _end(self, action: int) -> None:
        self._outstanding.discard(action)
        self._ended[action] = None
        if len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    def _ended_with(self, outcome: Outcome, request: PowerRequest) -> None:
        self._end(request.action)
        if request.action in self._detached:
            self._detached.discard(request.action)
            return
        self.reports.outcome(OutcomeReport.answering(request, outcome))


def _first_failure(failure: Failure) -> Failure:
    """A failed milestone write's own failure, so a cancel stays a cancel."""
    if failure.check(FirstError):
        return failure.value.subFailure
    return failure
