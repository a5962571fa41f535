"""
Tests for pserv.cluster.reports.
"""

from twisted.internet.task import Clock

from pserv.cluster.reports import ReportQueue
from pserv.power.states import ActionStatus, PowerState
from pserv.rpc.messages import OutcomeReport
from pserv.testing.power import advance_until_idle
from pserv.testing.cluster import RecordingLink


def outcome(action, status="done"):
    return OutcomeReport(action=action, node=1, status=ActionStatus(status), generation=1, power_state=PowerState.ON,
                         error=None, fatal=False, superseded_by=None, commands=())


def test_reports_wait_for_the_link_then_go_in_order():
    """Reports made while the region is out of reach go, in order per action, once it is back."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.running(7)
    queue.progress(7, "off_verified")
    queue.outcome(outcome(7))
    assert queue.pending == 3 and link.reports == []
    queue.link_up(link)
    assert link.reports == [("running", 7), ("progress", 7, "off_verified"), ("outcome", 7, "done", "on")]
    assert queue.pending == 0


def test_failed_reports_are_retried_until_acknowledged():
    """A report the region did not acknowledge is sent again with backoff."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.failures = 2
    acknowledged = []
    queue.outcome(outcome(3)).addCallback(acknowledged.append)
    assert link.reports == [] and acknowledged == []
    advance_until_idle(clock)
    assert link.reports == [("outcome", 3, "done", "on")] and acknowledged == [True]


def test_link_down_holds_reports():
    """After the link goes down, new reports wait for it to come back."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    queue.link_down()
    queue.running(1)
    assert link.reports == []
    queue.link_up(link)
    assert link.reports == [("running", 1)]


def test_progress_fires_only_when_recorded():
    """progress() fires once the region acknowledged the milestone, not before."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.hold()
    recorded = []
    queue.progress(5, "off_verified").addCallback(recorded.append)
    assert recorded == []
    link.release()
    assert recorded == [None]


def test_actions_report_side_by_side():
    """One action's held report does not hold another action's."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.hold()
    queue.running(1)
    queue.running(2)
    assert link.reports == [("running", 1), ("running", 2)]
