"""
Tests for pserv.region.store.bulk_intent, on SQLite and PostgreSQL: a bulk
request made set-based writes exactly what one request after another for
each node wrote (the old ``request_bulk``, kept here as the reference), on
two fresh twin databases, in a number of statements that does not grow
with the nodes but for one per chunk.
"""

import uuid
from math import ceil

import pytest
from sqlalchemy import create_engine, select, text, update

from pserv.power.states import ActionKind
from pserv.region import schema
from pserv.region.db import make_engine
from pserv.region.errors import Conflict, Invalid, NotFound
from pserv.region.store import common
from pserv.region.store.actions import check_reason, request_bulk, request_intent, request_power
from pserv.region.store.batches import record_batch
from pserv.region.store.nodes import create_node, find, node_filter
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.region.conftest import Moments
from tests.region.store.statements import statements


def one_by_one(connection, refs, filters, kind, requested_by, now, *, escalate_after=None, reason=None):
    """``request_bulk`` as it was: every node found, locked and requested one after the other."""
    check_reason(reason)
    if refs is not None:
        found = {find(connection, ref).id for ref in refs}
    else:
        found = set(connection.execute(select(schema.nodes.c.id).where(*node_filter(filters or {}))).scalars())
    if not found:
        raise NotFound("filter: no node matches", "filter")
    nodes = [find(connection, node_id, lock=True) for node_id in sorted(found)]
    deleting = next((node for node in nodes if node.lifecycle == "deleting"), None)
    if deleting is not None:
        raise Conflict(f"node {deleting.name} is being deleted", "node")
    actions = [request_intent(connection, node, ActionKind(kind), requested_by, now,
                              escalate_after=escalate_after, reason=reason)[0] for node in nodes]
    return record_batch(connection, kind, requested_by, reason, now, [a["id"] for a in actions]), actions, []


@pytest.fixture
def twins(database_url, tmp_path):
    """Two fresh, empty databases of the kind under test: one for each way of making a bulk request."""
    if database_url.startswith("sqlite"):
        engines = [make_engine(f"sqlite:///{tmp_path}/{name}.sqlite") for name in ("one_by_one", "bulk")]
        yield from _created(engines)
        return
    server = database_url.split("?")[0]
    names = [f"pserv_twin_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = create_engine(server)
    with admin.begin() as connection:
        for name in names:
            connection.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield from _created([make_engine(f"{server}?options=-csearch_path%3D{name}") for name in names])
    finally:
        with admin.begin() as connection:
            for name in names:
                connection.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


def _created(engines):
    for engine in engines:
        schema.metadata.create_all(engine)
    try:
        yield engines
    finally:
        for engine in engines:
            engine.dispose()


class Twin:
    """One of the twins, with its own clock (the twins' clocks go in step)."""

    def __init__(self, engine):
        self.engine = engine
        self.moments = Moments()

    def run(self, work, *args, **kwargs):
        with self.engine.begin() as connection:
            return work(connection, *args, **kwargs)

    def set_status(self, action_id, status, **values):
        table = schema.power_actions
        self.run(lambda c: c.execute(update(table).where(table.c.id == action_id).values(status=status, **values)))

    def dump(self):
        """Every row of every table, in primary key order."""
        with self.engine.connect() as connection:
            return {t.name: [tuple(row) for row in connection.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in schema.metadata.sorted_tables}


def scene(twin):
    """
    Nine nodes of rack-1 (and one of rack-2), each with its own past:
    nothing; a pending off; an on in flight; a pending query; a timed-out
    on; an older pending off below a newer on in flight; a pending soft_off
    escalating after 60 s; two pending power actions; a running cycle.
    """
    run, moments = twin.run, twin.moments
    for n in range(1, 10):
        body = {"name": f"n{n}", "power_type": "fake", "power_parameters": {"address": f"n{n}"}, "cluster": "rack-1"}
        run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    body = {"name": "other", "power_type": "fake", "power_parameters": {"address": "o"}, "cluster": "rack-2"}
    run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    request = lambda node, kind, **options: run(request_power, node, kind, "seed", moments(1), **options)[0]["id"]
    request("n2", "off")
    twin.set_status(request("n3", "on"), "sent")
    request("n4", "query")
    twin.set_status(request("n5", "on"), "timed_out")
    older, newer = request("n6", "off"), request("n6", "on")
    twin.set_status(newer, "sent")
    twin.set_status(older, "pending", superseded_by=None, finished_at=None)
    request("n7", "soft_off", escalate_after=60.0)
    first, _ = request("n8", "off"), request("n8", "cycle")
    twin.set_status(first, "pending", superseded_by=None, finished_at=None)
    twin.set_status(request("n9", "cycle"), "running")


REQUESTS = [
    pytest.param(None, {"cluster": "rack-1"}, "on", {}, id="on-by-filter"),
    pytest.param(["n9", "n1", "n3", 3, "n6", "n2"], None, "off", {"reason": "rack  move"}, id="off-by-refs"),
    pytest.param(None, {"cluster": "rack-1"}, "cycle", {}, id="cycle"),
    pytest.param(None, {"q": "n"}, "soft_off", {"escalate_after": 60.0}, id="soft_off-60"),
    pytest.param(None, {"cluster": "rack-1"}, "soft_off", {"escalate_after": 30.0}, id="soft_off-30"),
    pytest.param(None, {"cluster": "rack-1"}, "soft_off", {}, id="soft_off"),
    pytest.param(None, {"cluster": "rack-1"}, "query", {}, id="query"),
]


@pytest.mark.parametrize("refs, filters, kind, options", REQUESTS)
def test_a_bulk_request_writes_what_one_request_per_node_wrote(twins, refs, filters, kind, options):
    """Set-based or node by node, the same answer and the same rows: actions, intents, supersedes, events, batch."""
    reference, bulk = Twin(twins[0]), Twin(twins[1])
    for twin in (reference, bulk):
        scene(twin)
    assert reference.dump() == bulk.dump()
    expected = reference.run(one_by_one, refs, filters, kind, "alice", reference.moments(5), **options)
    assert bulk.run(request_bulk, refs, filters, kind, "alice", bulk.moments(5), **options) == expected
    assert bulk.dump() == reference.dump()


def test_the_scene_has_every_case(twins):
    """The scene's bulk on coalesces (n3, n6, in flight), supersedes (n2, n7, n8 twice) and leaves the rest."""
    bulk = Twin(twins[1])
    scene(bulk)
    table = schema.events
    _, made, _ = bulk.run(request_bulk, None, {"cluster": "rack-1"}, "on", "alice", bulk.moments(5))
    events = bulk.run(lambda c: c.execute(
        select(table.c.kind, table.c.node_name)
        .where(table.c.kind.in_(["power_coalesced", "action_superseded"]), table.c.at == bulk.moments.now)
        .order_by(table.c.id)).all())
    assert [tuple(e) for e in events] == [
        ("action_superseded", "n2"), ("power_coalesced", "n3"), ("power_coalesced", "n6"),
        ("action_superseded", "n7"), ("action_superseded", "n8"), ("action_superseded", "n8")]
    assert [a["status"] for a in made] == ["pending", "pending", "sent", "pending", "pending", "sent", "pending",
                                           "pending", "pending"]


def test_a_second_bulk_request_is_the_same_too(twins):
    """A bulk request over another's fresh actions (coalescing some, superseding others) matches node by node too."""
    reference, bulk = Twin(twins[0]), Twin(twins[1])
    for twin, work in ((reference, one_by_one), (bulk, request_bulk)):
        scene(twin)
        twin.run(work, None, {"cluster": "rack-1"}, "on", "alice", twin.moments(5))
        twin.run(work, ["n1", "n2", "n3"], None, "off", "bob", twin.moments(5))
        twin.run(work, None, {"q": "n"}, "off", "carol", twin.moments(5), reason="done")
    assert bulk.dump() == reference.dump()


@pytest.mark.parametrize("refs, filters, kind, options, deleting, refusal", [
    pytest.param(["n1", "ghost", "n2", "n3x"], None, "on", {}, [], NotFound, id="missing-name"),
    pytest.param(["n1", 2**31], None, "on", {}, [], NotFound, id="id-past-the-columns"),
    pytest.param(["n1", "999"], None, "on", {}, [], NotFound, id="missing-id"),
    pytest.param([], None, "on", {}, [], NotFound, id="no-refs"),
    pytest.param(None, {"cluster": "nowhere"}, "on", {}, [], NotFound, id="no-match"),
    pytest.param(None, {"cluster": "rack-1"}, "off", {"escalate_after": 5.0}, [], Invalid, id="escalating-off"),
    pytest.param(None, {"cluster": "rack-1"}, "on", {"reason": "two\nlines"}, [], Invalid, id="bad-reason"),
    pytest.param(None, {"nope": "x"}, "on", {}, [], Invalid, id="bad-filter"),
    pytest.param(None, {"cluster": "rack-1"}, "warp", {}, [], ValueError, id="bad-kind"),
    pytest.param(["n1", "n4", "n2"], None, "on", {}, ["n4", "n2"], Conflict, id="deleting"),
    pytest.param(["ghost"], None, "off", {"escalate_after": 5.0}, [], NotFound, id="missing-before-escalating"),
    pytest.param(None, {"q": "n"}, "warp", {}, ["n7"], Conflict, id="deleting-before-bad-kind"),
])
def test_a_refused_bulk_request_is_refused_alike(twins, refs, filters, kind, options, deleting, refusal):
    """Refused set-based or node by node: the same error first, message and field, and nothing written."""
    reference, bulk = Twin(twins[0]), Twin(twins[1])
    nodes = schema.nodes
    for twin in (reference, bulk):
        scene(twin)
        twin.run(lambda c: c.execute(update(nodes).where(nodes.c.name.in_(deleting)).values(lifecycle="deleting")))
    before = bulk.dump()
    refusals = []
    for twin, work in ((reference, one_by_one), (bulk, request_bulk)):
        with pytest.raises(refusal) as refused:
            twin.run(work, refs, filters, kind, "alice", twin.moments(5), **options)
        refusals.append((type(refused.value), str(refused.value), getattr(refused.value, "field", None)))
    assert refusals[0] == refusals[1]
    assert bulk.dump() == reference.dump() == before


def cost(engine, count, by_names=False):
    """The statements of a bulk ``on`` for ``count`` fresh nodes each with a pending off to supersede."""
    with engine.begin() as connection:
        connection.execute(schema.nodes.insert(), [
            {"name": f"c{count}-{n}", "cluster": f"rack-{count}", "power_type": "fake", "power_parameters": {},
             "power_secrets": {}, "desired_power_state": "unknown", "power_state": "unknown", "generation": 0,
             "lifecycle": "ready", "created_at": Moments()(), "updated_at": Moments()()}
            for n in range(count)
        ])
    where = {"cluster": f"rack-{count}"}
    with engine.begin() as connection:
        request_bulk(connection, None, where, "off", "seed", Moments()())
    refs = [f"c{count}-{n}" for n in range(count)] if by_names else None
    return statements(engine, request_bulk, refs, None if by_names else where, "on", "alice", Moments()())


@pytest.mark.parametrize("by_names", [False, True])
def test_a_bulk_request_sends_a_few_statements_however_many_nodes(engine, by_names):
    """Within one chunk, 3 nodes or 60 cost the same few statements (SQLite's BEGIN among them)."""
    assert cost(engine, 3, by_names) == cost(engine, 60, by_names) <= 14


@pytest.mark.parametrize("by_names", [False, True])
def test_a_bulk_request_sends_a_few_statements_per_chunk(engine, monkeypatch, by_names):
    """Past one chunk, each chunk of nodes costs the same few statements more: the count grows by chunks, not nodes."""
    monkeypatch.setattr(common, "CHUNK", 4)
    one, two, five = (cost(engine, count, by_names) for count in (4, 8, 20))
    per_chunk = two - one
    assert 0 < per_chunk <= (6 if by_names else 4) and five == one + per_chunk * (ceil(20 / 4) - 1)
