"""
Tests for pserv.region.groups: when the leading region spreads the groups'
nodes, on a Clock, with a recording stand-in for the database and the
clusters (the spread itself is tested in tests/region/store/test_groups.py).
"""

from datetime import datetime

from twisted.internet.defer import succeed
from twisted.internet.task import Clock

from pserv.region.groups import IDLE_SECONDS, SPREAD_SECONDS, GroupKeeper, Heartbeats
from pserv.region.peers import Alone


class SpreadingDatabase:
    """Answers each spread with ``result``, recording the clusters it was to fail over."""

    def __init__(self, grouped=False):
        self.spreads = []
        self.result = {"adopt": {}, "release": [], "grouped": grouped, "heartbeats": {}}

    def run(self, function, now, lapsed):
        self.spreads.append(sorted(lapsed))
        return succeed(self.result)


class TellingClusters:
    """What the keeper tells the clusters."""

    def __init__(self):
        self.adopted, self.released = [], []
        self.on_grouped = None

    def now(self):
        return datetime(2026, 12, 4)

    def adopt(self, cluster, nodes):
        self.adopted.append((cluster, nodes))
        return succeed(None)

    def release(self, cluster, node):
        self.released.append((cluster, node))
        return succeed(None)


def keeper(grouped=False, lease=10.0):
    clock = Clock()
    database, clusters = SpreadingDatabase(grouped), TellingClusters()
    kept = GroupKeeper(database, clusters, Alone(), clock, lease)
    kept.start()
    return clock, database, clusters, kept


def test_without_groups_the_leader_looks_only_now_and_then():
    """Having seen no group, the leader spreads at start and then every IDLE_SECONDS, not every tick."""
    clock, database, _, kept = keeper()
    for _ in range(int(IDLE_SECONDS / SPREAD_SECONDS)):
        clock.advance(SPREAD_SECONDS)
    assert len(database.spreads) == 2
    kept.stop()


def test_a_member_connecting_anywhere_has_the_next_tick_spread():
    """Told a member connected (here or to another region), the leader spreads at its next tick, not 30 s later."""
    clock, database, clusters, kept = keeper()
    clock.advance(SPREAD_SECONDS)
    assert len(database.spreads) == 1
    clusters.on_grouped()
    clock.advance(SPREAD_SECONDS)
    assert len(database.spreads) == 2
    kept.stop()


def test_with_groups_every_tick_spreads_and_a_silent_member_lapses_after_its_lease_and_the_grace():
    """With a group every tick spreads; a member whose heartbeat the leader has seen unchanged for lease + grace is to fail over; what moves is told."""
    clock, database, clusters, kept = keeper(grouped=True, lease=5.0)
    beat = datetime(2026, 12, 4, 1, 0, 0)
    database.result = {"adopt": {"rack-2": [7]}, "release": [("rack-1", 8)], "grouped": True,
                       "heartbeats": {"rack-1": (beat, 5.0)}}
    for _ in range(5):
        clock.advance(SPREAD_SECONDS)
    assert database.spreads == [[], [], [], [], [], ["rack-1"]]  # first seen at 2 s, lapsed after 9 s
    assert clusters.adopted[-1] == ("rack-2", [7]) and clusters.released[-1] == ("rack-1", 8)
    kept.stop()


def test_a_heartbeat_lapses_by_the_leaders_clock_from_when_it_first_saw_it():
    """Whatever time the recording region wrote, a beat lapses lease + grace after the leader first saw it; a new beat starts again."""
    beats = Heartbeats(lease=45.0)
    early = datetime(2026, 12, 4, 0, 0, 0)  # far behind the leader's clock: ignored
    beats.saw({"rack-1": (early, 10.0), "rack-2": (early, None)}, now=100.0)
    assert beats.lapsed(112.0, grace=2.0) == {}
    assert beats.lapsed(112.5, grace=2.0) == {"rack-1": early}
    later = datetime(2026, 12, 4, 0, 0, 9)
    beats.saw({"rack-1": (later, 10.0), "rack-2": (early, None)}, now=110.0)
    assert beats.lapsed(121.0, grace=2.0) == {}
    assert beats.lapsed(122.5, grace=2.0) == {"rack-1": later}
    assert beats.lapsed(147.5, grace=2.0) == {"rack-1": later, "rack-2": early}
