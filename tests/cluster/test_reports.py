"""
Tests for pserv.cluster.reports.
"""

import attrs
from twisted.internet.task import Clock

from pserv.cluster.reports import MOST_ERROR, ReportQueue, Taken
from pserv.power.states import ActionStatus, PowerState
from pserv.rpc import wire
from pserv.rpc.arguments import MAX_VALUE, encode_json
from pserv.rpc.messages import ActionReports, OutcomeReport
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
    assert link.reports == [("outcome", 3, "done", "on")] and acknowledged == [Taken.APPLIED]


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


def test_reports_made_while_batches_travel_go_together():
    """Reports of many actions made while batches are in flight go in the next batch, one call."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.hold()
    queue.running(1)
    queue.running(2)
    for action in range(3, 53):
        queue.outcome(outcome(action))
    assert len(link.batches) == 2
    link.release()
    assert len(link.batches) == 3 and len(link.batches[2]) == 50
    assert queue.pending == 0


def test_one_actions_reports_never_share_a_batch():
    """An action's next report waits for the acknowledgement of the one before, so its reports keep their order."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.running(7)
    queue.progress(7, "off_verified")
    queue.running(8)
    queue.outcome(outcome(7))
    queue.link_up(link)
    assert link.batches == [[("running", 7), ("running", 8)], [("progress", 7, "off_verified")],
                            [("outcome", 7, "done", "on")]]


def test_a_failed_batch_is_sent_again_whole_after_the_backoff():
    """A batch cut by a dropped link goes again, every report in it, once the backoff has passed."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.failures = 1
    acknowledged = []
    queue.outcome(outcome(1)).addCallback(acknowledged.append)
    assert link.batches == [] and queue.pending == 1
    clock.advance(0.4)
    queue.outcome(outcome(2)).addCallback(acknowledged.append)
    assert link.batches == []
    clock.advance(0.1)
    assert link.batches == [[("outcome", 1, "done", "on"), ("outcome", 2, "done", "on")]]
    assert acknowledged == [Taken.APPLIED] * 2 and queue.pending == 0


def test_reports_the_region_could_not_record_go_again_alone():
    """The actions the region names for retry are sent again after the backoff; the rest are acknowledged."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    acknowledged = []
    for action in (1, 2, 3):
        queue.outcome(outcome(action)).addCallback(lambda applied, a=action: acknowledged.append(a))
    link.retry = {2}
    queue.link_up(link)
    assert acknowledged == [1, 3] and queue.pending == 1
    link.retry = set()
    advance_until_idle(clock)
    assert acknowledged == [1, 3, 2] and link.batches[-1] == [("outcome", 2, "done", "on")]


def test_a_new_link_sends_at_once_without_waiting_out_the_backoff():
    """Reports held back by a failure go as soon as a new connection comes up."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    link.failures = 1
    queue.running(4)
    queue.link_down()
    queue.link_up(link)
    assert link.batches == [[("running", 4)]]


def test_a_batch_fits_one_amp_value():
    """Outcomes too many for one AMP value go in several batches, each of which fits."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    big = [attrs.evolve(outcome(action, "failed"), error="x" * 1000) for action in range(1, 201)]
    for report in big:
        queue.outcome(report)
    queue.link_up(link)
    advance_until_idle(clock)
    assert sum(len(batch) for batch in link.batches) == 200 and len(link.batches) > 2
    assert all(len(encode_json(wire.unstructure(batch_of(link, n)))) <= MAX_VALUE for n in range(len(link.batches)))


def test_an_outcome_too_big_for_a_batch_keeps_the_start_of_its_error():
    """An outcome whose error alone would not fit one AMP value is sent with its error cut short."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    queue.link_up(link)
    queue.outcome(attrs.evolve(outcome(1, "failed"), error="y" * 70_000))
    assert link.outcomes[0].error == "y" * MOST_ERROR


def batch_of(link, n):
    """The outcomes of the link's batch ``n`` as the message that carried them."""
    actions = {report[1] for report in link.batches[n]}
    return ActionReports(outcomes=tuple(o for o in link.outcomes if o.action in actions))


def test_a_report_the_region_keeps_refusing_holds_back_no_other():
    """While the region cannot record one action's report, the others' reports go at once."""
    clock, link = Clock(), RecordingLink()
    queue = ReportQueue(clock)
    link.retry = {1}
    queue.link_up(link)
    queue.outcome(outcome(1))
    queue.outcome(outcome(2))
    queue.outcome(outcome(3))
    assert [report[1] for report in link.reports] == [2, 3] and queue.pending == 1
    clock.advance(0.5)
    queue.outcome(outcome(4))
    assert [report[1] for report in link.reports] == [2, 3, 4] and queue.pending == 1
    link.retry = set()
    clock.advance(1.0)
    assert [report[1] for report in link.reports] == [2, 3, 4, 1] and queue.pending == 0


def test_an_outcome_is_acknowledged_with_what_the_region_did_with_it():
    """The region's answer says, per outcome, whether it was applied, only recorded, or refused (node held elsewhere)."""
    clock = Clock()
    link = RecordingLink()
    link.refuse.add(3)
    queue = ReportQueue(clock)
    queue.link_up(link)
    taken = []
    for action in (1, 3):
        queue.outcome(outcome(action)).addCallback(taken.append)
    advance_until_idle(clock)
    assert taken == [Taken.APPLIED, Taken.REFUSED]
