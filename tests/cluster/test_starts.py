"""
Tests for pserv.cluster.starts, on a Clock with the fake driver: the
actions of one or two clusters asking the region's real store (SQLite)
for their starts, the store measuring budgets by the same Clock.
"""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, update
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock

from pserv.cluster.driver_set import DriverSet
from pserv.cluster.power import ClusterPower
from pserv.cluster.reports import ReportQueue
from pserv.cluster.starts import LATE_ANSWER, StartPermits
from pserv.power.states import ActionKind, PowerState
from pserv.region import schema
from pserv.region.clusters import _starts_answer
from pserv.region.db import make_engine
from pserv.region.migrate import upgrade
from pserv.region.store.actions import request_power
from pserv.region.store.budget_line import take_starts
from pserv.region.store.nodes import create_node
from pserv.region.store.reports import mark_sent
from pserv.rpc.messages import BudgetPlace, PowerRequest, StartsAnswer
from pserv.testing.cluster import RecordingLink
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE, FakeDriver
from pserv.testing.power import FakeFleet, advance_until_idle

EPOCH = datetime(2026, 12, 1)


class Region:
    """The region's store on SQLite, answering ``TakeStarts`` at once, by the test's clock."""

    def __init__(self, path, clock):
        self.engine = make_engine(f"sqlite:///{path}/region.sqlite")
        upgrade(self.engine)
        self.clock = clock
        self.asked: list[tuple[str, float, int]] = []

    def now(self) -> datetime:
        return EPOCH + timedelta(seconds=self.clock.seconds())

    def run(self, work, *args, **kwargs):
        with self.engine.begin() as connection:
            return work(connection, *args, **kwargs)

    def budget(self, name, starts, per_seconds, in_flight=None):
        self.run(lambda c: c.execute(insert(schema.budgets).values(
            name=name, starts=starts, per_seconds=per_seconds, in_flight=in_flight, created_at=EPOCH,
            updated_at=EPOCH)))

    def ask(self, kind, node, cluster="rack-1", budget="pdu-1") -> PowerRequest:
        """A new action ``kind`` of ``node`` (enrolled on ``cluster`` under ``budget`` if new), as handed over."""
        name = f"n{node}"
        existing = self.run(lambda c: c.execute(schema.nodes.select().where(schema.nodes.c.name == name)).first())
        if existing is None:
            body = {"name": name, "power_type": "fake", "cluster": cluster, "power_parameters": {"address": name}}
            self.run(create_node, body, self.now(), power_types=POWER_TYPES_WITH_FAKE)
            self.run(lambda c: c.execute(update(schema.nodes).where(schema.nodes.c.name == name).values(
                budget=budget, id=node)))
        action, _ = self.run(request_power, name, kind, "alice", self.now())
        self.run(mark_sent, [action["id"]], self.now())
        return PowerRequest(action=action["id"], node=node, name=name, kind=ActionKind(kind),
                            generation=action["generation"], power_type="fake",
                            power_parameters={"address": name}, budget=budget)

    def link(self, cluster):
        region = self

        class Link:
            def take_starts(self, asks):
                region.asked.append((cluster, region.clock.seconds(), len(asks)))
                taken = region.run(take_starts, cluster, [(a.action, a.node) for a in asks], region.now())
                return succeed(_starts_answer(taken))

        return Link()


def member(clock, fleet, link):
    """One cluster's power, its reports recorded, its starts asked of ``link``."""
    reports = ReportQueue(clock)
    reports.link_up(RecordingLink())
    power = ClusterPower(clock, DriverSet(clock, {"fake": FakeDriver(clock, fleet)}), reports)
    power.permits.link_up(link)
    return power


@pytest.fixture
def world(tmp_path):
    clock = Clock()
    fleet = FakeFleet(clock, latency=0.1)
    region = Region(tmp_path, clock)
    return clock, fleet, region


def power_ons(fleet):
    """When each power_on reached its BMC, in order."""
    return sorted(at for bmc in fleet.bmcs.values() for at, command in bmc.commands if command == "power_on")


def test_a_bulk_on_starts_in_waves_of_the_budget(world):
    """Ten nodes under 4 starts per 10 s: power_on goes out 4, 4, 2, each wave a window apart."""
    clock, fleet, region = world
    region.budget("pdu-1", starts=4, per_seconds=10.0)
    power = member(clock, fleet, region.link("rack-1"))
    for node in range(1, 11):
        power.perform(region.ask("on", node))
    advance_until_idle(clock)
    sent = power_ons(fleet)
    assert len(sent) == 10
    waves = [[t for t in sent if start <= t < start + 10.0] for start in (0.0, 10.0, 20.0)]
    assert [len(w) for w in waves] == [4, 4, 2]
    assert all(b.power is PowerState.ON for b in fleet.bmcs.values())


def test_an_off_for_a_node_waiting_for_budget_sends_no_power_on(world):
    """An off arriving while an on waits for its start supersedes it: no power_on is ever sent for that node."""
    clock, fleet, region = world
    region.budget("pdu-1", starts=1, per_seconds=60.0)
    power = member(clock, fleet, region.link("rack-1"))
    power.perform(region.ask("on", 1))
    power.perform(region.ask("on", 2))
    clock.advance(5)
    assert power.permits.waiting == 1
    power.perform(region.ask("off", 2))
    advance_until_idle(clock)
    assert [c for _, c in fleet.bmc("n2").commands] == []
    assert power.permits.waiting == 0


def test_a_budget_holds_across_two_clusters_of_a_group(world):
    """Two members asking one region for one budget's starts share it: 3 per 10 s in all, not each."""
    clock, fleet, region = world
    region.budget("pdu-1", starts=3, per_seconds=10.0)
    first = member(clock, fleet, region.link("row-a-1"))
    second = member(clock, fleet, region.link("row-a-2"))
    for node in range(1, 13):
        cluster, power = ("row-a-1", first) if node % 2 else ("row-a-2", second)
        power.perform(region.ask("on", node, cluster=cluster))
    advance_until_idle(clock)
    sent = power_ons(fleet)
    assert len(sent) == 12
    assert max(sum(1 for t in sent if start <= t < start + 10.0) for start in sent) == 3
    assert {cluster for cluster, _, _ in region.asked} == {"row-a-1", "row-a-2"}


def test_the_waiting_are_told_their_place(world):
    """While actions wait, the cluster knows each one's place in its budget's line."""
    clock, fleet, region = world
    region.budget("pdu-1", starts=1, per_seconds=60.0)
    power = member(clock, fleet, region.link("rack-1"))
    requests = [region.ask("on", node) for node in (1, 2, 3)]
    for request in requests:
        power.perform(request)
    clock.advance(1)
    assert power.permits.places == {
        requests[1].action: BudgetPlace(requests[1].action, "pdu-1", 1, 2),
        requests[2].action: BudgetPlace(requests[2].action, "pdu-1", 2, 2),
    }


def test_a_power_off_never_waits_for_budget(world):
    """An off under a spent budget is sent at once."""
    clock, fleet, region = world
    region.budget("pdu-1", starts=1, per_seconds=60.0)
    power = member(clock, fleet, region.link("rack-1"))
    power.perform(region.ask("on", 1))
    fleet.bmc("n2").power = PowerState.ON
    power.perform(region.ask("off", 2))
    advance_until_idle(clock)
    assert [c for _, c in fleet.bmc("n2").commands] == ["power_off"]


def test_a_node_under_no_budget_asks_nothing(world):
    """A request naming no budget sends its power_on without a TakeStarts."""
    clock, fleet, region = world
    power = member(clock, fleet, region.link("rack-1"))
    request = region.ask("on", 1, budget=None)
    power.perform(request)
    advance_until_idle(clock)
    assert power_ons(fleet) and region.asked == []


class ScriptedLink:
    """A ``StartsLink`` whose answers the test gives, one per ask."""

    def __init__(self):
        self.asks = []
        self.answers: list[Deferred] = []

    def take_starts(self, asks):
        self.asks.append([a.action for a in asks])
        answer = Deferred()
        self.answers.append(answer)
        return answer


class Action:
    """Stands for a power action: all StartPermits needs is its identity."""


def permits_for(clock, serving):
    return StartPermits(clock, lambda node, action: serving[action])


def test_a_start_granted_too_late_is_not_used():
    """An answer later than LATE_ANSWER after the ask grants nothing: the action asks again at once."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    permits.link_up(link)
    granted = permits.permit(1, action)
    clock.advance(0)
    clock.advance(LATE_ANSWER + 0.5)
    link.answers[0].callback(StartsAnswer(granted=(7,)))
    assert not granted.called
    clock.advance(0)
    link.answers[1].callback(StartsAnswer(granted=(7,)))
    assert granted.called and link.asks == [[7], [7]]


def test_nothing_is_asked_while_the_region_is_unreachable():
    """Asks wait for the link; a failed ask is made again with backoff."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    granted = permits.permit(1, action)
    clock.advance(10)
    assert link.asks == []
    permits.link_up(link)
    clock.advance(0)
    link.answers[0].errback(ConnectionError("lost"))
    clock.advance(0.9)
    assert len(link.asks) == 1
    clock.advance(0.1)
    link.answers[1].callback(StartsAnswer(granted=(7,)))
    assert granted.called


def test_a_refused_action_is_asked_for_by_the_request_that_rode_it():
    """When the region refuses the action that made the play (cancelled), its rider keeps the place."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7, 9]})
    permits.link_up(link)
    granted = permits.permit(1, action)
    clock.advance(0)
    link.answers[0].callback(StartsAnswer(refused=(7,)))
    clock.advance(0)
    assert link.asks == [[7], [9]]
    link.answers[1].callback(StartsAnswer(granted=(9,)))
    assert granted.called


def test_still_waiting_asks_again_after_retry_after():
    """An action left waiting is asked for again once retry_after has passed, not before."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    permits.link_up(link)
    permits.permit(1, action)
    clock.advance(0)
    link.answers[0].callback(StartsAnswer(waiting=(BudgetPlace(7, "pdu-1", 1, 1),), retry_after=2.0))
    clock.advance(1.9)
    assert len(link.asks) == 1
    clock.advance(0.1)
    assert len(link.asks) == 2


def test_cancelling_a_permit_withdraws_it():
    """A cancelled wait leaves the line: it is not asked for again."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    permits.link_up(link)
    granted = permits.permit(1, action)
    granted.addErrback(lambda f: None)
    granted.cancel()
    clock.advance(1)
    assert link.asks == [] and permits.waiting == 0


def test_an_action_arriving_while_an_ask_is_out_is_asked_for_as_soon_as_it_is_answered():
    """A new waiter is not left until the next retry_after: it is asked for once the ask out is answered."""
    clock, link = Clock(), ScriptedLink()
    first, second = Action(), Action()
    permits = permits_for(clock, {first: [7], second: [8]})
    permits.link_up(link)
    permits.permit(1, first)
    clock.advance(0)
    granted = permits.permit(2, second)
    clock.advance(0)
    assert link.asks == [[7]]
    link.answers[0].callback(StartsAnswer(waiting=(BudgetPlace(7, "pdu-1", 1, 1),), retry_after=5.0))
    clock.advance(0)
    assert link.asks == [[7], [7, 8]]
    link.answers[1].callback(StartsAnswer(granted=(8,), waiting=(BudgetPlace(7, "pdu-1", 1, 1),), retry_after=5.0))
    assert granted.called


def test_an_action_refused_with_no_other_request_fails_having_sent_nothing():
    """A refusal for the only region action an action serves fails its wait, fatally: nothing waits for ever."""
    from pserv.power.errors import PowerFatalError

    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    permits.link_up(link)
    granted = permits.permit(1, action)
    failures = []
    granted.addErrback(failures.append)
    clock.advance(0)
    link.answers[0].callback(StartsAnswer(refused=(7,)))
    assert failures and failures[0].check(PowerFatalError) and permits.waiting == 0
    assert "no power command was sent" in failures[0].getErrorMessage()


def test_a_new_link_abandons_an_ask_whose_answer_never_came():
    """An ask out on a link that is gone is given up: the new link is asked at once."""
    clock, link, action = Clock(), ScriptedLink(), Action()
    permits = permits_for(clock, {action: [7]})
    permits.link_up(link)
    granted = permits.permit(1, action)
    clock.advance(0)
    permits.link_down()
    permits.link_up(link)
    clock.advance(0)
    assert link.asks == [[7], [7]]
    link.answers[0].callback(StartsAnswer(granted=(7,)))  # the abandoned ask's late answer counts for nothing
    assert not granted.called
    link.answers[1].callback(StartsAnswer(granted=(7,)))
    assert granted.called
