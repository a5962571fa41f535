"""
An in-memory stand-in for the cluster's RPC connection to the region, for
unit tests of the cluster's logic.  (The RPC itself is tested both ends,
in memory and over TLS, in tests/rpc; the two meet in the end-to-end
tests.)
"""

from __future__ import annotations

from typing import Any, Sequence

from twisted.internet.defer import Deferred, fail, succeed

from pserv.rpc.messages import ObservedState, OutcomeReport, ProgressReport, RunningReport


class RecordingLink:
    """
    A ``RegionLink`` that records every report as a short tuple
    (``("outcome", action, status, power_state)`` with the enums' values)
    and every outcome whole in :attr:`outcomes`; it can fail the next N,
    or hold them.
    """

    def __init__(self) -> None:
        self.reports: list[tuple[Any, ...]] = []
        self.outcomes: list[OutcomeReport] = []
        self.failures = 0
        self.held: list[Deferred[object]] | None = None

    def _answer(self, report: tuple[Any, ...], result: object = None) -> Deferred[object]:
        if self.failures:
            self.failures -= 1
            return fail(ConnectionError("link dropped"))
        self.reports.append(report)
        if self.held is not None:
            waiting: Deferred[object] = Deferred()
            self.held.append(waiting)
            return waiting
        return succeed(result)

    def report_running(self, report: RunningReport) -> Deferred[object]:
        return self._answer(("running", report.action))

    def report_progress(self, report: ProgressReport) -> Deferred[object]:
        return self._answer(("progress", report.action, report.progress))

    def report_outcome(self, outcome: OutcomeReport) -> Deferred[object]:
        state = None if outcome.power_state is None else outcome.power_state.value
        self.outcomes.append(outcome)
        return self._answer(("outcome", outcome.action, outcome.status.value, state), True)

    def report_power_states(self, states: Sequence[ObservedState]) -> Deferred[object]:
        return self._answer(("states", len(states)))

    def hold(self) -> None:
        """Leave every report from now on unanswered until :meth:`release`."""
        self.held = []

    def release(self) -> None:
        """Answer every held report, and stop holding."""
        held, self.held = self.held or [], None
        for waiting in held:
            waiting.callback(None)
