"""
Tests for pserv.region.api over real HTTP on loopback, on SQLite and
PostgreSQL; every answer is checked against the OpenAPI contract.
"""

import gc
import json
from pathlib import Path

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import fail
from twisted.logger import LogLevel, formatEvent
from twisted.web.server import Site

from pserv.power.types import POWER_TYPES
from pserv.region.api import RegionAPI
from pserv.region.clusters import UNDELIVERED, ConnectedClusters
from pserv.region.db import Database
from pserv.region.http import MAX_BODY, BoundedRequest
from pserv.region.store.tokens import create_token
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.region.contract import EXERCISED, APIClient, operations

DRIVERS_DOCUMENT = json.loads((Path(__file__).parent / "drivers_document.json").read_text())
"""What GET /api/v1/drivers served before the region stopped loading drivers (5d7b644)."""

SECRET = "hunter2-very-secret"
NODE = {"name": "node-1", "power_type": "fake", "cluster": "rack-1",
        "power_parameters": {"address": "bmc-1", "password": SECRET}}


@pytest.fixture
def clusters():
    """The API's ConnectedClusters class; a test may parametrize another."""
    return ConnectedClusters


def serve(engine, moments, power_types, clusters=ConnectedClusters):
    database = Database(engine, reactor)
    with engine.begin() as connection:
        token = create_token(connection, "admin", moments())
    site = Site(RegionAPI(database, reactor, clusters(database, reactor), power_types=power_types).resource())
    site.requestFactory = BoundedRequest
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    yield APIClient(f"http://127.0.0.1:{port.getHost().port}", token)
    port.stopListening()
    database.pool.stop() if database._started else None


@pytest.fixture
def api(engine, moments, clusters):
    """The API of a region whose nodes may be fake, as in tests and the simulation."""
    yield from serve(engine, moments, POWER_TYPES_WITH_FAKE, clusters)


@pytest.fixture
def production_api(engine, moments):
    """The API of a production region: RegionAPI's own power types."""
    yield from serve(engine, moments, POWER_TYPES)


async def enrol(api, **changes):
    answer = await api.call("POST", "/api/v1/nodes", body={**NODE, **changes})
    assert answer.status == 201, answer
    return answer.body


@pytest_twisted.ensureDeferred
async def test_node_lifecycle(api):
    """A node is created, shown by id and by name, listed, updated and deleted."""
    node = await enrol(api)
    assert node["power_parameters"]["password"] == "set"
    by_name = await api.call("GET", "/api/v1/nodes/{node}", node="node-1")
    by_id = await api.call("GET", "/api/v1/nodes/{node}", node=node["id"])
    assert by_name.body == by_id.body == node
    listed = await api.call("GET", "/api/v1/nodes", params={"cluster": "rack-1"})
    assert [n["id"] for n in listed.body["items"]] == [node["id"]] and listed.body["next"] is None
    updated = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"cluster": "rack-2"})
    assert updated.body["cluster"] == "rack-2"
    gone = await api.call("DELETE", "/api/v1/nodes/{node}", node="node-1")
    assert gone.status == 204
    assert (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).status == 404


@pytest_twisted.ensureDeferred
async def test_a_node_moves_only_when_no_action_is_in_flight(api, engine):
    """PATCH of the cluster answers 409 naming cluster while an action is sent; otherwise the node is moving."""
    from sqlalchemy import text

    await enrol(api)
    action = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})).body
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE power_actions SET status = 'sent' WHERE id = {action['id']}"))
    refused = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"cluster": "rack-2"})
    assert refused.status == 409 and refused.body["field"] == "cluster"
    assert f"on action {action['id']} is sent on cluster rack-1" in refused.body["error"]
    with engine.begin() as connection:
        connection.execute(text(f"UPDATE power_actions SET status = 'done' WHERE id = {action['id']}"))
    moved = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"cluster": "rack-2"})
    assert moved.status == 200 and (moved.body["cluster"], moved.body["moving_from"]) == ("rack-2", "rack-1")


@pytest_twisted.ensureDeferred
async def test_power_request_is_committed_then_accepted(api, engine):
    """A power request answers 202 with the action and its Location, after the commit."""
    await enrol(api)
    answer = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "cycle"})
    assert answer.status == 202 and answer.body["status"] == "pending"
    assert answer.header("Location") == f"/api/v1/actions/{answer.body['id']}"
    with engine.connect() as connection:
        from sqlalchemy import text
        assert connection.execute(text("SELECT status FROM power_actions")).scalar() == "pending"
    node = (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body
    assert (node["desired_power_state"], node["generation"]) == ("on", 1)


@pytest_twisted.ensureDeferred
async def test_duplicate_gets_200_and_conflict_supersedes(api):
    """A duplicate returns the same action with 200; a conflicting request supersedes it."""
    await enrol(api)
    first = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    again = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    assert (again.status, again.body["id"]) == (200, first.body["id"])
    off = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})
    shown = await api.call("GET", "/api/v1/actions/{action}", action=first.body["id"])
    assert (shown.body["status"], shown.body["superseded_by"]) == ("superseded", off.body["id"])
    listed = await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1", params={"limit": "1"})
    assert [a["id"] for a in listed.body["items"]] == [off.body["id"]] and listed.body["next"]


@pytest_twisted.ensureDeferred
async def test_bulk_power(api):
    """A bulk request by names and by filter answers 202 with one action per node."""
    await enrol(api)
    await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    by_names = await api.call("POST", "/api/v1/power", body={"action": "off", "nodes": ["node-1", "node-2"]})
    assert by_names.status == 202 and len(by_names.body["actions"]) == 2
    by_filter = await api.call("POST", "/api/v1/power", body={"action": "on", "filter": {"cluster": "rack-1"}})
    assert [a["kind"] for a in by_filter.body["actions"]] == ["on", "on"]
    neither = await api.call("POST", "/api/v1/power", body={"action": "on"})
    assert (neither.status, neither.body["field"]) == (400, "nodes")
    missing = await api.call("POST", "/api/v1/power", body={"action": "on", "nodes": ["node-1", "ghost"]})
    assert missing.status == 404


@pytest_twisted.ensureDeferred
async def test_cancel(api):
    """Cancelling a pending action answers 200; cancelling it again conflicts."""
    await enrol(api)
    action = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})).body
    cancelled = await api.call("POST", "/api/v1/actions/{action}/cancel", action=action["id"])
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")
    again = await api.call("POST", "/api/v1/actions/{action}/cancel", action=action["id"])
    assert again.status == 409
    assert (await api.call("GET", "/api/v1/actions/{action}", action=999999)).status == 404


@pytest_twisted.ensureDeferred
async def test_soft_off_may_escalate(api):
    """escalate_after goes with a soft_off, single or bulk, and the action shows it; a different one is a new request."""
    await enrol(api)
    await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    one = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                         body={"action": "soft_off", "escalate_after": 30})
    assert (one.status, one.body["escalate_after"]) == (202, 30)
    same = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                          body={"action": "soft_off", "escalate_after": 30.0})
    other = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "soft_off"})
    assert (same.status, same.body["id"]) == (200, one.body["id"])
    assert (other.status, other.body["escalate_after"]) == (202, None)
    bulk = await api.call("POST", "/api/v1/power",
                          body={"action": "soft_off", "escalate_after": 2.5, "nodes": ["node-1", "node-2"]})
    assert bulk.status == 202 and [a["escalate_after"] for a in bulk.body["actions"]] == [2.5, 2.5]
    plain = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-2", body={"action": "on"})
    assert plain.body["escalate_after"] is None


@pytest.mark.parametrize("body, error", [
    ({"action": "off", "escalate_after": 30}, "escalate_after: only for soft_off"),
    ({"action": "cycle", "escalate_after": None}, "escalate_after: only for soft_off"),
    ({"action": "soft_off", "escalate_after": 0}, "escalate_after: must be more than 0"),
    ({"action": "soft_off", "escalate_after": 301}, "escalate_after: must be at most 300"),
    ({"action": "soft_off", "escalate_after": "30"}, "escalate_after: must be a number"),
    ({"action": "soft_off", "escalate_after": True}, "escalate_after: must be a number"),
])
@pytest.mark.parametrize("path", ["/api/v1/nodes/node-1/power", "/api/v1/power"])
@pytest_twisted.ensureDeferred
async def test_a_bad_escalate_after_is_400_naming_it(api, body, error, path):
    """escalate_after with another action than soft_off, or out of bounds, is a 400 naming it; nothing is made."""
    await enrol(api, cluster=None)
    if path == "/api/v1/power":
        body = {**body, "nodes": ["node-1"]}
    response = await treq.post(api.base + path, json=body, headers={"Authorization": f"Bearer {api.token}"})
    assert response.code == 400
    assert json.loads(await response.content()) == {"error": error, "field": "escalate_after"}
    listed = await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")
    assert listed.body["items"] == []


def cluster_reports(engine, moments, work, *args):
    """What the node's cluster would report over RPC, straight to the store."""
    with engine.begin() as connection:
        return work(connection, "rack-1", *args, moments())


def outcome_of(action, state):
    return {"action": action["id"], "node": action["node"], "status": "done", "generation": action["generation"],
            "power_state": state, "error": None, "fatal": False, "superseded_by": None, "commands": []}


@pytest_twisted.ensureDeferred
async def test_a_cancelled_request_is_never_enforced(api, engine, moments):
    """An enforcing node, off: on requested and cancelled while pending; the sweep sees off twice and nothing asks on."""
    from pserv.region.store.reports import report_outcome, report_power_states

    node = await enrol(api, drift_policy="enforce")
    [query] = (await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")).body["items"]
    cluster_reports(engine, moments, report_outcome, outcome_of(query, "off"))
    off = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})).body
    cluster_reports(engine, moments, report_outcome, outcome_of(off, "off"))
    on = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})).body
    cancelled = await api.call("POST", "/api/v1/actions/{action}/cancel", action=on["id"])
    assert (cancelled.status, cancelled.body["status"]) == (200, "cancelled")
    shown = (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body
    assert (shown["desired_power_state"], shown["generation"]) == ("off", 2)
    for minute in (1, 2, 3):
        seen = {"node": node["id"], "power_state": "off", "error": None, "observed_at": f"2026-11-22T13:0{minute}:00Z"}
        assert cluster_reports(engine, moments, report_power_states, [seen])["enforced"] == []
    listed = (await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")).body["items"]
    assert [(a["kind"], a["status"]) for a in listed] == [("on", "cancelled"), ("off", "done"), ("query", "done")]


@pytest_twisted.ensureDeferred
async def test_events_and_drivers(api):
    """The audit log lists what happened; the drivers list their settings schemas."""
    await enrol(api)
    await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})
    listed = await api.call("GET", "/api/v1/events", params={"node": "node-1"})
    kinds = [e["kind"] for e in listed.body["items"]]
    assert kinds == ["node_created", "power_requested", "power_requested"]  # enrolment's query, then off
    drivers = await api.call("GET", "/api/v1/drivers")
    fake = [d for d in drivers.body if d["name"] == "fake"][0]
    assert any(s["name"] == "password" and s["secret"] for s in fake["settings"])
    bad = await api.call("GET", "/api/v1/events", params={"since": "yesterday"})
    assert (bad.status, bad.body["field"]) == (400, "since")


@pytest_twisted.ensureDeferred
async def test_drivers_document_is_the_one_served_before(api):
    """GET /api/v1/drivers serves, field for field, what it served when the region built drivers to ask them."""
    drivers = await api.call("GET", "/api/v1/drivers")
    assert (drivers.status, drivers.body) == (200, DRIVERS_DOCUMENT)


@pytest_twisted.ensureDeferred
async def test_production_region_has_no_fake_driver(production_api):
    """A production region serves every driver but fake, and refuses a fake node naming power_type."""
    drivers = await production_api.call("GET", "/api/v1/drivers")
    assert drivers.body == [d for d in DRIVERS_DOCUMENT if d["name"] != "fake"]
    refused = await production_api.call("POST", "/api/v1/nodes", body=NODE)
    assert (refused.status, refused.body) == (400, {
        "error": "power_type: unknown driver 'fake'; known: ipmi, manual, redfish, snmp_pdu, wol",
        "field": "power_type",
    })


@pytest_twisted.ensureDeferred
async def test_openapi_is_served_without_token(api):
    """The OpenAPI document is served to anyone and is the one the code holds."""
    answer = await api.call("GET", "/api/v1/openapi.json", token=None)
    assert answer.status == 200 and answer.body["openapi"] == "3.1.0"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"power_type": "fake"}, "name"),
        ({"name": "x", "power_type": "fake", "colour": "red"}, "colour"),
        ({"name": "x", "power_type": "fake", "power_parameters": {"colour": "red"}}, "power_parameters.colour"),
        ({"name": "12", "power_type": "fake"}, "name"),
        ({"name": "x y", "power_type": "fake"}, "name"),
        ({"name": "x", "power_type": "teleport"}, "power_type"),
        ({"name": "x", "power_type": "fake", "power_parameters": {"address": "a", "latency": "soon"}},
         "power_parameters.latency"),
        ({"name": "x", "power_type": 7}, "power_type"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_bad_node_bodies_name_the_field(api, engine, body, field):
    """Bad enrolments answer 400 naming the field, and write nothing."""
    answer = await api.call("POST", "/api/v1/nodes", body=body)
    assert (answer.status, answer.body["field"]) == (400, field)
    listed = await api.call("GET", "/api/v1/nodes")
    assert listed.body["items"] == []


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b'"on"', b'{"action": "reboot"}', b'{"action": "on", "now": true}', b"", b"\xff\xfe"],
)
@pytest_twisted.ensureDeferred
async def test_bad_power_bodies_are_400(api, raw):
    """Every malformed power request answers 400 with an error, never 500."""
    await enrol(api)
    answer = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", raw=raw or b" ")
    assert answer.status == 400 and answer.body["error"]


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "many"}, {"after": "-1"}, {"power_state": "dim"}])
@pytest_twisted.ensureDeferred
async def test_bad_query_arguments_are_400(api, params):
    """Bad query arguments answer 400 naming the argument."""
    answer = await api.call("GET", "/api/v1/nodes", params=params)
    assert answer.status == 400 and answer.body["field"] in params


@pytest_twisted.ensureDeferred
async def test_tokens_are_required(api):
    """Without a token, or with a wrong one, the API answers 401 and does nothing."""
    missing = await api.call("POST", "/api/v1/nodes", body=NODE, token=None)
    wrong = await api.call("GET", "/api/v1/nodes", token="pserv_not-a-token")
    assert (missing.status, wrong.status) == (401, 401)
    assert missing.header("WWW-Authenticate").startswith("Bearer")
    assert (await api.call("GET", "/api/v1/nodes")).body["items"] == []


@pytest_twisted.ensureDeferred
async def test_large_body_is_413(api):
    """A body over the limit answers 413 without being stored."""
    raw = json.dumps({**NODE, "power_parameters": {"address": "x" * MAX_BODY}}).encode()
    answer = await api.call("POST", "/api/v1/nodes", raw=raw)
    assert answer.status == 413


@pytest_twisted.ensureDeferred
async def test_deleting_node_conflicts(api, engine):
    """A node being deleted (its action in flight) refuses power and changes with 409."""
    await enrol(api)
    await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    from pserv.region import schema
    with engine.begin() as connection:
        connection.execute(schema.power_actions.update().values(status="running"))
    deleting = await api.call("DELETE", "/api/v1/nodes/{node}", node="node-1")
    assert (deleting.status, deleting.body["lifecycle"]) == (202, "deleting")
    refused = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})
    assert refused.status == 409
    running = (await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")).body["items"][0]
    asked = await api.call("POST", "/api/v1/actions/{action}/cancel", action=running["id"])
    assert asked.status == 202 and asked.body["cancel_requested"]


@pytest_twisted.ensureDeferred
async def test_unknown_paths_are_json_404(api):
    """An unknown path answers a JSON 404, and a wrong method a JSON 405."""
    response = await treq.get(api.base + "/api/v1/nowhere")
    assert response.code == 404 and json.loads(await response.content())["error"]
    response = await treq.put(api.base + "/api/v1/nodes", data=b"{}")
    assert response.code == 405


@pytest_twisted.ensureDeferred
async def test_a_wrong_method_says_which_are_allowed(api):
    """A 405 carries an Allow header naming the methods the path takes."""
    response = await treq.put(api.base + "/api/v1/nodes", data=b"{}")
    assert response.code == 405
    assert response.headers.getRawHeaders(b"Allow") == [b"GET, HEAD, POST"]


@pytest_twisted.ensureDeferred
async def test_ids_past_64_bits_are_404_not_500(api):
    """An action or node id too large for the database answers 404 naming it, never a 500."""
    huge = "1085852786699827619767842356779286528"
    for method, path in [("GET", f"/api/v1/actions/{huge}"), ("POST", f"/api/v1/actions/{huge}/cancel"),
                         ("GET", f"/api/v1/nodes/{huge}"), ("GET", f"/api/v1/nodes/{huge}/actions")]:
        response = await treq.request(method, api.base + path, headers={"Authorization": f"Bearer {api.token}"})
        assert response.code == 404, (method, path)
        assert json.loads(await response.content())["error"].startswith("no ")


@pytest_twisted.ensureDeferred
async def test_secret_never_leaves(api, logged):
    """A node's password appears in no response body, event or log line."""
    node = await enrol(api)
    await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1",
                   body={"power_parameters": {**node["power_parameters"], "latency": 1}})
    await api.call("POST", "/api/v1/nodes", body={**NODE, "power_parameters": {"address": "b", "password": SECRET, "latency": "x"}})
    seen = []
    for method, template, extra in [
        ("GET", "/api/v1/nodes", {}), ("GET", "/api/v1/nodes/{node}", {"node": "node-1"}),
        ("GET", "/api/v1/events", {}),
    ]:
        seen.append(json.dumps((await api.call(method, template, **extra)).body))
    assert not any(SECRET in text for text in seen)
    assert not any(SECRET in repr(event) for event in logged)


@pytest_twisted.ensureDeferred
async def test_clusters_are_listed(api, engine, moments):
    """Registered clusters are listed with their node counts and connection state."""
    from pserv.region.store.clusters import register_cluster

    with engine.begin() as connection:
        register_cluster(connection, "rack-1", moments())
    await enrol(api)
    listed = await api.call("GET", "/api/v1/clusters")
    assert [(c["name"], c["connected"], c["node_count"]) for c in listed.body["items"]] == [("rack-1", False, 1)]


@pytest_twisted.ensureDeferred
async def test_the_event_stream_refuses_in_json_before_it_starts(api):
    """The event stream answers a missing token and an unknown node as JSON errors (tests/region/test_stream.py streams)."""
    refused = await api.call("GET", "/api/v1/events/stream", token=None)
    missing = await api.call("GET", "/api/v1/events/stream", params={"node": "nobody"})
    assert (refused.status, missing.status, missing.body["field"]) == (401, 404, "node")


def test_every_documented_operation_was_exercised():
    """Every path and method in the OpenAPI document was called by the tests above."""
    assert operations() - EXERCISED == set()


class FailingClusters(ConnectedClusters):
    """Clusters whose every hand-over fails, with a secret in the error."""

    delivering: list = []

    def deliver(self, action_ids=None):
        self.delivering.append(action_ids)
        return fail(RuntimeError(f"claim failed for password {SECRET}"))


async def _hand_over(api, route):
    """Call one of the four routes that hand actions over to a cluster."""
    if route == "enrol":
        await enrol(api)
        return
    await enrol(api, cluster=None)
    if route == "change":
        await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"cluster": "rack-1"})
    elif route == "power":
        await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    else:
        await api.call("POST", "/api/v1/power", body={"nodes": ["node-1"], "action": "on"})


@pytest.mark.parametrize("clusters", [FailingClusters])
@pytest.mark.parametrize("route", ["enrol", "change", "power", "bulk"])
@pytest_twisted.ensureDeferred
async def test_a_failed_hand_over_is_logged_as_handled(api, engine, logged, clusters, route):
    """A failing deliver() is one handled error naming the actions, no secret, no unhandled Deferred."""
    FailingClusters.delivering = []
    await _hand_over(api, route)
    gc.collect()
    [action_ids] = FailingClusters.delivering
    errors = [e for e in logged if e.get("log_level") in (LogLevel.error, LogLevel.critical) or e.get("isError")]
    assert [e.get("log_format") for e in errors] == [UNDELIVERED]
    assert f"actions {action_ids}" in formatEvent(errors[0]) and "RuntimeError" in formatEvent(errors[0])
    assert not any(SECRET in repr(event) or SECRET in formatEvent(event) for event in logged)
    with engine.connect() as connection:
        from sqlalchemy import text
        statuses = connection.execute(text("SELECT status FROM power_actions")).scalars().all()
    assert statuses == ["pending"]
