"""
Tests for pserv.rpc.region: every command the region answers, both ends in
memory, with a recording responder.
"""

import attrs
import pytest

from pserv.rpc.arguments import Message
from pserv.rpc.messages import (
    ActionReports, BudgetPlace, ObservedState, ProgressReport, RecoveryPage, RecoveryQuery, ReportsAnswer, RunningReport,
    StartAsk, StartsAnswer,
)
from pserv.rpc.common import InvalidRequest
from pserv.rpc.region import MAX_ASKS, MAX_PAGE, Recover, RegionResponder, ReportActions, ReportPowerStates, TakeStarts

from pserv.power.states import ActionStatus, PowerState
from pserv.testing.rpc import InMemory, RecordingRegion, observed, outcome, recovery_node


@pytest.fixture
def memory():
    """An authenticated in-memory connection for cluster ``rack-1``."""
    connection = InMemory(region=RecordingRegion([recovery_node(i) for i in (2, 5, 9)]))
    connection.flush()
    connection.region.calls.clear()
    return connection


def test_recover_one_page(memory):
    """Recover carries after and limit, and answers nodes and next."""
    answer = memory.call(memory.client.callRemote(Recover, query=RecoveryQuery(after=2, limit=1)))
    assert answer == {"page": RecoveryPage(nodes=(recovery_node(5),), next=5)}
    assert memory.region.calls == [("recover", "rack-1", RecoveryQuery(2, 1))]


def test_recover_from_the_start_to_the_end(memory):
    """after=None starts at the first node; the last page answers next=None."""
    answer = memory.call(memory.client.callRemote(Recover, query=RecoveryQuery(after=None, limit=MAX_PAGE)))
    assert answer == {"page": RecoveryPage(nodes=tuple(recovery_node(i) for i in (2, 5, 9)), next=None)}


def test_recover_all_follows_the_pages(memory):
    """recover_all asks page after page and returns every entry in order."""
    nodes = memory.call(memory.client.recover_all(limit=2))
    assert nodes == [recovery_node(i) for i in (2, 5, 9)]
    assert memory.region.calls == [("recover", "rack-1", RecoveryQuery(None, 2)), ("recover", "rack-1", RecoveryQuery(5, 2))]


def test_report_actions(memory):
    """ReportActions carries running, progress and outcome reports together, and the region's answer back."""
    batch = ActionReports(running=(RunningReport(41),), progress=(ProgressReport(42, "off_verified"),),
                          outcomes=(outcome(43),))
    assert memory.call(memory.client.report_actions(batch)) == ReportsAnswer(applied=(43,))
    assert memory.region.calls == [("report_actions", "rack-1", batch)]


def test_report_actions_answers_what_to_send_again(memory):
    """The region's answer names the outcomes it applied and the reports to send again."""
    memory.region.report_actions = lambda cluster, batch: ReportsAnswer(applied=(1,), retry=(2, 3))
    answer = memory.call(memory.client.report_actions(ActionReports(outcomes=(outcome(1), outcome(2), outcome(3)))))
    assert answer == ReportsAnswer(applied=(1,), retry=(2, 3))


def test_report_outcome_of_each_status(memory):
    """Outcomes of every status and with nulls round-trip unchanged."""
    sent = []
    for status, extra in [("failed", {"error": "expected power on", "fatal": True, "power_state": None}),
                          ("superseded", {"superseded_by": 9, "commands": ()}),
                          ("cancelled", {"power_state": PowerState.UNKNOWN})]:
        sent.append(attrs.evolve(outcome(), status=ActionStatus(status), **extra))
    memory.call(memory.client.report_actions(ActionReports(outcomes=tuple(sent))))
    assert memory.region.calls[0][2].outcomes == tuple(sent)


def test_report_power_states(memory):
    """ReportPowerStates carries the observed states."""
    states = (observed(1), observed(2, error="BMC refused the password"))
    assert memory.call(memory.client.report_power_states(states)) is None
    assert memory.region.calls == [("report_power_states", "rack-1", states)]


def test_report_power_states_splits_big_batches(memory):
    """A batch bigger than one AMP value goes in several commands, in order."""
    states = [observed(i, error="e" * 200) for i in range(1000)]
    memory.call(memory.client.report_power_states(states))
    batches = [call[2] for call in memory.region.calls]
    assert len(batches) > 1 and [s for batch in batches for s in batch] == states
    assert all(isinstance(batch, tuple) for batch in batches)


def test_heartbeat(memory):
    """Heartbeat answers nothing, and the responder hears it."""
    assert memory.call(memory.client.heartbeat()) is None
    assert memory.region.calls == [("heartbeat", "rack-1")]


def test_take_starts(memory):
    """TakeStarts carries the asks, and the region's answer back: granted, waiting with places, refused, retry_after."""
    answer = StartsAnswer(granted=(1,), waiting=(BudgetPlace(2, "pdu-1", 1, 3),), refused=(3,), retry_after=2.5)
    memory.region.take_starts = lambda cluster, asks: answer
    asks = (StartAsk(1, 10), StartAsk(2, 20), StartAsk(3, 30))
    assert memory.call(memory.client.take_starts(asks)) == answer


def test_take_starts_splits_many_asks_and_joins_the_answers(memory):
    """More asks than one call may carry go in several, answered as one, with the soonest retry_after."""
    asks = [StartAsk(i, i) for i in range(MAX_ASKS * 2 + 1)]
    retries = iter([3.0, 1.0, 2.0])
    memory.region.take_starts = lambda cluster, batch: StartsAnswer(granted=tuple(a.action for a in batch),
                                                                     retry_after=next(retries))
    answer = memory.call(memory.client.take_starts(asks))
    assert answer.granted == tuple(range(MAX_ASKS * 2 + 1)) and answer.retry_after == 1.0


def test_take_starts_refuses_too_many_asks(memory):
    """A TakeStarts of more than MAX_ASKS is refused naming the field, and the responder never hears it."""
    asks = tuple(StartAsk(i, i) for i in range(MAX_ASKS + 1))
    with pytest.raises(InvalidRequest, match="asks: at most"):
        memory.call(memory.client.callRemote(TakeStarts, asks=asks))
    assert memory.region.calls == []


def test_the_cluster_name_comes_from_the_session():
    """No region command but Authenticate carries a cluster name."""
    from pserv.rpc import region

    commands = [region.Recover, region.ReportActions, region.ReportPowerStates, region.TakeStarts, region.Heartbeat,
                region.Prove]
    assert all(b"cluster" not in dict(c.arguments) for c in commands)


def test_recording_region_is_a_region_responder():
    """The fake implements every RegionResponder method (so the protocol is what tests use)."""
    methods = {name for name in vars(RegionResponder) if not name.startswith("_")}
    assert methods <= set(dir(RecordingRegion))


def test_the_commands_carry_messages():
    """ReportActions carries ActionReports, ReportPowerStates a tuple of ObservedState, Recover a query and a page."""
    assert dict(ReportActions.arguments)[b"reports"].kind is ActionReports
    assert dict(ReportActions.response)[b"answer"].kind is ReportsAnswer
    assert dict(ReportPowerStates.arguments)[b"states"].kind == tuple[ObservedState, ...]
    assert [type(argument) for _, argument in Recover.arguments + Recover.response] == [Message, Message]
    assert dict(Recover.response)[b"page"].kind is RecoveryPage
