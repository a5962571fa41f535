"""
An in-memory stand-in for the cluster's RPC connection to the region, for
unit tests of the cluster's logic.  (The RPC itself is tested both ends,
in memory and over TLS, in tests/rpc; the two meet in the end-to-end
tests.)
"""

from __future__ import annotations

from typing import Any, Sequence

from twisted.internet.defer import Deferred, fail, succeed

from pserv.rpc.messages import ActionReports, ObservedState, OutcomeReport, ReportsAnswer


class RecordingLink:
    """
    A ``RegionLink`` that records every report as a short tuple
    (``("outcome", action, status, power_state)`` with the enums' values),
    every outcome whole in :attr:`outcomes` and every batch's reports in
    :attr:`batches`; it can fail the next N calls, hold them, or ask for
    some actions' reports again (:attr:`retry`).  It applies every outcome.
    """

    def __init__(self) -> None:
        self.reports: list[tuple[Any, ...]] = []
        self.outcomes: list[OutcomeReport] = []
        self.batches: list[list[tuple[Any, ...]]] = []
        self.failures = 0
        self.retry: set[int] = set()
        self.refuse: set[int] = set()
        self.held: list[tuple[Deferred[Any], Any]] | None = None

    def _answer(self, reports: list[tuple[Any, ...]], result: Any = None) -> Deferred[Any]:
        if self.failures:
            self.failures -= 1
            return fail(ConnectionError("link dropped"))
        self.reports.extend(reports)
        if self.held is not None:
            waiting: Deferred[Any] = Deferred()
            self.held.append((waiting, result))
            return waiting
        return succeed(result)

    def report_actions(self, reports: ActionReports) -> Deferred[ReportsAnswer]:
        retry = tuple(sorted(self.retry.intersection(
            r.action for r in (*reports.running, *reports.progress, *reports.outcomes))))
        recorded = [("running", r.action) for r in reports.running if r.action not in retry]
        recorded += [("progress", r.action, r.progress) for r in reports.progress if r.action not in retry]
        outcomes = [o for o in reports.outcomes if o.action not in retry]
        recorded += [("outcome", o.action, o.status.value, None if o.power_state is None else o.power_state.value)
                     for o in outcomes]
        if self.failures:
            return self._answer(recorded)
        self.batches.append(recorded)
        self.outcomes.extend(outcomes)
        refused = tuple(sorted(self.refuse.intersection(o.action for o in outcomes)))
        applied = tuple(o.action for o in outcomes if o.action not in refused)
        return self._answer(recorded, ReportsAnswer(applied=applied, retry=retry, refused=refused))

    def report_power_states(self, states: Sequence[ObservedState]) -> Deferred[object]:
        return self._answer([("states", len(states))])

    def hold(self) -> None:
        """Leave every report from now on unanswered until :meth:`release`."""
        self.held = []

    def release(self) -> None:
        """Answer every held report, and stop holding."""
        held, self.held = self.held or [], None
        for waiting, result in held:
            waiting.callback(result)
