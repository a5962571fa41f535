"""
An in-memory stand-in for the cluster's RPC connection to the region, for
unit tests of the cluster's logic.  (The RPC itself is tested both ends,
in memory and over TLS, in tests/rpc; the two meet in the end-to-end
tests.)
"""

from twisted.internet.defer import Deferred, fail, succeed


class RecordingLink:
    """Records every report; can fail the next N, or hold them."""

    def __init__(self):
        self.reports = []
        self.failures = 0
        self.held = None

    def _answer(self, report, result=None):
        if self.failures:
            self.failures -= 1
            return fail(ConnectionError("link dropped"))
        self.reports.append(report)
        if self.held is not None:
            waiting = Deferred()
            self.held.append(waiting)
            return waiting
        return succeed(result)

    def report_running(self, action):
        return self._answer(("running", action))

    def report_progress(self, action, progress):
        return self._answer(("progress", action, progress))

    def report_outcome(self, outcome):
        return self._answer(("outcome", outcome["action"], outcome["status"], outcome["power_state"]), True)

    def report_power_states(self, states):
        return self._answer(("states", len(states)))

    def hold(self):
        self.held = []

    def release(self):
        held, self.held = self.held, None
        for waiting in held:
            waiting.callback(None)
