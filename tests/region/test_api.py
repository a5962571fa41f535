"""
Tests for pserv.region.api over real HTTP on loopback, on SQLite and
PostgreSQL; every answer is checked against the OpenAPI contract.
"""

import gc
import json
from pathlib import Path
from urllib.parse import parse_qsl

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
from pserv.region.roles import Role
from pserv.region.store.tokens import create_token, revoke_token
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
async def test_a_cluster_is_drained_and_taken_back(api, engine, moments):
    """PATCH of a cluster's draining shows in the listing, records an event, and a missing cluster is 404."""
    from pserv.region.store.clusters import register_cluster

    with engine.begin() as connection:
        register_cluster(connection, "rack-1", moments(), group="row-a")
    drained = await api.call("PATCH", "/api/v1/clusters/{cluster}", cluster="rack-1", body={"draining": True})
    assert (drained.status, drained.body["draining"], drained.body["group"]) == (200, True, "row-a")
    listed = await api.call("GET", "/api/v1/clusters")
    assert [c["draining"] for c in listed.body["items"]] == [True]
    back = await api.call("PATCH", "/api/v1/clusters/{cluster}", cluster="rack-1", body={"draining": False})
    assert back.body["draining"] is False
    kinds = [e["kind"] for e in (await api.call("GET", "/api/v1/events")).body["items"]]
    assert kinds.count("cluster_draining") == 1 and kinds.count("cluster_undrained") == 1
    missing = await api.call("PATCH", "/api/v1/clusters/{cluster}", cluster="rack-9", body={"draining": True})
    assert (missing.status, missing.body["field"]) == (404, "cluster")
    bad = await api.call("PATCH", "/api/v1/clusters/{cluster}", cluster="rack-1", body={"draining": "yes"})
    assert (bad.status, bad.body["field"]) == (400, "draining")


@pytest_twisted.ensureDeferred
async def test_a_node_of_a_group_takes_no_cluster(api):
    """A node names a group or a cluster, not both (400, or 409 for a node in a group; nothing written); it can leave its group for a cluster."""
    both = await api.call("POST", "/api/v1/nodes", body={**NODE, "group": "row-a", "cluster": "rack-1"})
    assert (both.status, both.body["field"]) == (400, "cluster")
    assert (await api.call("GET", "/api/v1/nodes")).body["items"] == []
    node = await enrol(api, group="row-a", cluster=None)
    assert (node["group"], node["cluster"]) == ("row-a", None)
    moved = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"cluster": "rack-1"})
    assert (moved.status, moved.body["field"]) == (409, "cluster")
    kept = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"name": "node-x", "cluster": None})
    assert (kept.status, kept.body["group"], kept.body["cluster"]) == (200, "row-a", None)
    left = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-x", body={"group": None, "cluster": "rack-1"})
    assert (left.status, left.body["group"], left.body["cluster"]) == (200, None, "rack-1")
    listed = await api.call("GET", "/api/v1/nodes", params={"group": "row-a"})
    assert listed.body["items"] == []


@pytest_twisted.ensureDeferred
async def test_a_power_request_refuses_a_bad_token_before_anything_else_and_writes_nothing(api, engine, moments):
    """A node's power request: an unknown or revoked token is 401 and a viewer's 403, whatever the body or node; nothing is written."""
    await enrol(api)
    with engine.begin() as connection:
        viewer = create_token(connection, "eyes", moments(), Role.VIEWER)
        gone = create_token(connection, "gone", moments(), Role.OPERATOR)
        revoke_token(connection, "gone", moments())

    async def power(node, action, token=api.token):
        return await api.call("POST", "/api/v1/nodes/{node}/power", node=node, body={"action": action}, token=token)

    for token in ("pserv_not-a-token", gone):
        for node, action in (("node-1", "on"), ("node-1", "dance"), ("nobody", "on")):
            refused = await power(node, action, token)
            assert refused.status == 401 and refused.header("WWW-Authenticate").startswith("Bearer")
    for action in ("on", "dance"):
        refused = await power("node-1", action, viewer)
        assert (refused.status, refused.body["error"]) == (
            403, "this needs the operator role; token 'eyes' has the viewer role")
    listed = await api.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")
    assert [a["kind"] for a in listed.body["items"]] == ["query"]
    bad, missing = await power("node-1", "dance"), await power("nobody", "on")
    assert (bad.status, bad.body["field"], missing.status, missing.body["field"]) == (400, "action", 404, "node")
    accepted = await power("node-1", "on")
    assert (accepted.status, accepted.body["requested_by"]) == (202, "admin")


@pytest_twisted.ensureDeferred
async def test_the_event_stream_refuses_in_json_before_it_starts(api):
    """The event stream answers a missing token and an unknown node as JSON errors (tests/region/test_stream.py streams)."""
    refused = await api.call("GET", "/api/v1/events/stream", token=None)
    missing = await api.call("GET", "/api/v1/events/stream", params={"node": "nobody"})
    assert (refused.status, missing.status, missing.body["field"]) == (401, 404, "node")


def row_counts(engine):
    """How many rows every table holds."""
    from sqlalchemy import func, select

    from pserv.region import schema

    with engine.connect() as connection:
        return {t.name: connection.execute(select(func.count()).select_from(t)).scalar()
                for t in schema.metadata.sorted_tables}


def observe(engine, name, state):
    """Set a node's observed power state, as its cluster's read would."""
    from pserv.region import schema

    with engine.begin() as connection:
        connection.execute(schema.nodes.update().where(schema.nodes.c.name == name).values(power_state=state))


@pytest_twisted.ensureDeferred
async def test_a_reason_is_kept_and_told(api):
    """A reason goes with one node's request and a bulk one: on the actions, and in the power_requested events."""
    await enrol(api)
    await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    one = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                         body={"action": "on", "reason": "rack move"})
    assert (one.status, one.body["reason"]) == (202, "rack move")
    bulk = await api.call("POST", "/api/v1/power", body={"action": "off", "nodes": ["node-1", "node-2"],
                                                         "reason": "maintenance window"})
    assert [a["reason"] for a in bulk.body["actions"]] == ["maintenance window"] * 2
    plain = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-2", body={"action": "cycle"})
    assert plain.body["reason"] is None
    shown = await api.call("GET", "/api/v1/actions/{action}", action=one.body["id"])
    assert shown.body["reason"] == "rack move"
    events = (await api.call("GET", "/api/v1/events", params={"node": "node-1"})).body["items"]
    assert [e["message"] for e in events if e["kind"] == "power_requested"][1:] == [
        "on requested by admin: rack move", "off requested by admin: maintenance window"]


@pytest_twisted.ensureDeferred
async def test_a_bulk_request_is_a_batch_to_follow(api, engine):
    """A bulk request answers its batch; GET /batches/{batch} counts its actions by status until all are final."""
    from sqlalchemy import text

    await enrol(api)
    await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    bulk = await api.call("POST", "/api/v1/power", body={"action": "cycle", "filter": {"q": "NODE"}, "reason": "why"})
    assert bulk.status == 202 and len(bulk.body["actions"]) == 2
    batch = await api.call("GET", "/api/v1/batches/{batch}", batch=bulk.body["batch"])
    assert batch.status == 200 and batch.body["counts"]["pending"] == 2 and not batch.body["finished"]
    assert (batch.body["action"], batch.body["requested_by"], batch.body["reason"], batch.body["size"]) == (
        "cycle", "admin", "why", 2)
    with engine.begin() as connection:
        connection.execute(text("UPDATE power_actions SET status = 'done' WHERE kind = 'cycle'"))
    batch = await api.call("GET", "/api/v1/batches/{batch}", batch=bulk.body["batch"])
    assert batch.body["counts"]["done"] == 2 and batch.body["finished"]
    for missing in (bulk.body["batch"] + 1, 2**31):
        answer = await api.call("GET", "/api/v1/batches/{batch}", batch=missing)
        assert (answer.status, answer.body["field"]) == (404, "batch")


@pytest.mark.parametrize("action, change, unchanged", [("on", 1, 2), ("soft_off", 2, 1), ("cycle", 3, 0),
                                                       ("query", 0, 3)])
@pytest_twisted.ensureDeferred
async def test_a_dry_run_counts_and_changes_nothing(api, engine, action, change, unchanged):
    """dry_run answers 200 with the counts; every table holds the same rows after it, and no intent moved."""
    for n, state in enumerate(["on", "on", "off"]):
        await enrol(api, name=f"n{n}", power_parameters={"address": f"bmc-{n}"})
        observe(engine, f"n{n}", state)
    before, nodes_before = row_counts(engine), (await api.call("GET", "/api/v1/nodes")).body
    preview = await api.call("POST", "/api/v1/power", body={"action": action, "filter": {"cluster": "rack-1"},
                                                            "dry_run": True, "reason": "just looking"})
    assert (preview.status, preview.body) == (200, {"dry_run": True, "action": action, "nodes": 3,
                                                    "change": change, "unchanged": unchanged, "locked": 0})
    assert row_counts(engine) == before and (await api.call("GET", "/api/v1/nodes")).body == nodes_before
    real = await api.call("POST", "/api/v1/power", body={"action": action, "nodes": ["n0"], "dry_run": False})
    assert real.status == 202 and row_counts(engine)["power_batches"] == 1


@pytest_twisted.ensureDeferred
async def test_a_dry_run_refuses_what_the_request_would(api, engine):
    """A dry run naming a missing node is 404, one matching nothing 404 naming filter; nothing is written."""
    await enrol(api)
    before = row_counts(engine)
    missing = await api.call("POST", "/api/v1/power",
                             body={"action": "on", "nodes": ["node-1", "ghost"], "dry_run": True})
    nothing = await api.call("POST", "/api/v1/power", body={"action": "on", "filter": {"power_type": "wol"},
                                                            "dry_run": True})
    assert (missing.status, nothing.status, nothing.body["field"]) == (404, 404, "filter")
    assert row_counts(engine) == before


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/nodes/node-1/power", {"action": "on", "reason": "x" * 501}, "reason"),
    ("/api/v1/nodes/node-1/power", {"action": "on", "reason": ""}, "reason"),
    ("/api/v1/nodes/node-1/power", {"action": "on", "reason": "one\ntwo"}, "reason"),
    ("/api/v1/nodes/node-1/power", {"action": "on", "reason": "nul\u0000"}, "reason"),
    ("/api/v1/nodes/node-1/power", {"action": "on", "reason": 5}, "reason"),
    ("/api/v1/power", {"action": "on", "nodes": ["node-1"], "reason": "x" * 501}, "reason"),
    ("/api/v1/power", {"action": "on", "nodes": ["node-1"], "dry_run": "true"}, "dry_run"),
    ("/api/v1/power", {"action": "on", "nodes": ["node-1"], "dry_run": 1}, "dry_run"),
    ("/api/v1/power", {"action": "on", "filter": {"q": "x" * 64}}, "filter.q"),
    ("/api/v1/power", {"action": "on", "filter": {"power_type": "IPMI"}}, "filter.power_type"),
])
@pytest_twisted.ensureDeferred
async def test_bad_power_fields_are_400_naming_them(api, engine, path, body, field):
    """A bad reason, dry_run or filter is a 400 naming the field, and nothing is written."""
    await enrol(api, cluster=None)
    before = row_counts(engine)
    response = await treq.post(api.base + path, json=body, headers={"Authorization": f"Bearer {api.token}"})
    assert response.code == 400 and json.loads(await response.content())["field"] == field
    assert row_counts(engine) == before


@pytest_twisted.ensureDeferred
async def test_actions_by_ids(api):
    """GET /actions?ids= lists those actions in id order, once each, leaving out ids with no action."""
    await enrol(api, cluster=None)
    first = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})).body
    second = (await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})).body
    ids = f"{second['id']},99999,{first['id']},{second['id']}"
    listed = await api.call("GET", "/api/v1/actions", params={"ids": ids})
    assert listed.status == 200 and listed.body["next"] is None
    assert [a["id"] for a in listed.body["items"]] == [first["id"], second["id"]]
    assert listed.body["items"][1] == (await api.call("GET", "/api/v1/actions/{action}", action=second["id"])).body
    assert (await api.call("GET", "/api/v1/actions", params={"ids": "424242"})).body["items"] == []


@pytest.mark.parametrize("params, reason", [
    ({}, "ids: is required"),
    ({"ids": ""}, "ids: must be 1 to 500 action ids, separated by commas"),
    ({"ids": "1,two"}, "ids: must be 1 to 500 action ids, separated by commas"),
    ({"ids": ",".join(["1"] * 501)}, "ids: must hold at most 500"),
    ({"ids": "1,0"}, "ids.1: must be at least 1"),
    ({"ids": str(2**31)}, "ids.0: must be at most 2147483647"),
])
@pytest_twisted.ensureDeferred
async def test_bad_ids_are_400_naming_ids(api, params, reason):
    """ids missing, not numbers, over 500 of them, or out of bounds is a 400 naming ids."""
    answer = await api.call("GET", "/api/v1/actions", params=params)
    assert (answer.status, answer.body) == (400, {"error": reason, "field": "ids"})


@pytest_twisted.ensureDeferred
async def test_events_newest_first(api):
    """order=desc lists the newest event first, and its next page goes on before the last one shown."""
    await enrol(api)
    for action in ("on", "off", "cycle"):
        await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": action})
    oldest_first = (await api.call("GET", "/api/v1/events")).body["items"]
    page = await api.call("GET", "/api/v1/events", params={"order": "desc", "limit": "2"})
    assert "before=" in page.body["next"] and "order=desc" in page.body["next"]
    seen = [e["id"] for e in page.body["items"]]
    while page.body["next"]:
        path, query = page.body["next"].split("?")
        page = await api.call("GET", path, params=dict(parse_qsl(query)))
        seen += [e["id"] for e in page.body["items"]]
    assert seen == [e["id"] for e in reversed(oldest_first)]
    bad = await api.call("GET", "/api/v1/events", params={"order": "newest"})
    assert (bad.status, bad.body["field"]) == (400, "order")


@pytest_twisted.ensureDeferred
async def test_nodes_by_part_of_the_name_and_power_type(api):
    """q finds nodes by part of the name, case ignored; power_type by their driver; an empty filter is none."""
    await enrol(api, name="rack7-n1")
    await enrol(api, name="other", power_type="wol", power_parameters={"mac": "52:54:00:12:34:56"})
    async def names(**params):
        return [n["name"] for n in (await api.call("GET", "/api/v1/nodes", params=params)).body["items"]]
    assert await names(q="RACK7") == ["rack7-n1"] and await names(q="%") == [] and await names(q="_") == []
    assert await names(power_type="wol") == ["other"] and await names(power_type="ipmi") == []
    assert await names(q="", power_type="") == ["rack7-n1", "other"]


@pytest_twisted.ensureDeferred
async def test_a_node_carries_its_version_as_etag(api):
    """GET and PATCH answer the node's version as ETag; a change counts it up, a power request does not."""
    node = await enrol(api)
    got = await api.call("GET", "/api/v1/nodes/{node}", node="node-1")
    assert (node["version"], got.header("ETag")) == (1, '"1"')
    await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    changed = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"drift_policy": "enforce"},
                             headers={"If-Match": ['"1"']})
    assert (changed.status, changed.body["version"], changed.header("ETag")) == (200, 2, '"2"')


@pytest_twisted.ensureDeferred
async def test_a_change_from_a_stale_version_is_412(api, engine):
    """PATCH with If-Match of a version the node has left is 412 naming If-Match, and changes nothing."""
    await enrol(api)
    await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"drift_policy": "enforce"})
    before = row_counts(engine), (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body
    stale = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"name": "renamed"},
                           headers={"If-Match": ['"1"']})
    assert (stale.status, stale.body) == (412, {
        "error": "node node-1 changed since version 1 was read (now 2)", "field": "If-Match"})
    assert (row_counts(engine), (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body) == before
    anyway = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"name": "renamed"},
                            headers={"If-Match": ["*"]})
    assert (anyway.status, anyway.body["version"]) == (200, 3)
    unquoted = await api.call("PATCH", "/api/v1/nodes/{node}", node="renamed", body={"name": "again"},
                              headers={"If-Match": ["3"]})
    assert (unquoted.status, unquoted.body["version"]) == (200, 4)


@pytest.mark.parametrize("value", ['W/"1"', '"1", "2"', '"1', "yesterday"])
@pytest_twisted.ensureDeferred
async def test_a_malformed_if_match_is_400(api, value):
    """An If-Match that is not one version (quoted, or not) nor * is a 400 naming If-Match; nothing changes."""
    await enrol(api)
    answer = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"name": "renamed"},
                            headers={"If-Match": [value]})
    assert (answer.status, answer.body["field"]) == (400, "If-Match")
    assert (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body["version"] == 1


@pytest_twisted.ensureDeferred
async def test_a_locked_node_refuses_an_off_and_says_who_and_why(api, engine):
    """A lock (200, shown on the node) makes an off 409 naming action, with nothing written; on still works; unlock."""
    await enrol(api)
    locked = await api.call("POST", "/api/v1/nodes/{node}/lock", node="node-1", body={"reason": "firmware update"})
    assert locked.status == 200 and (locked.body["locked"], locked.body["locked_by"]) == (True, "admin")
    refused = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "off"})
    assert (refused.status, refused.body) == (409, {"error": "node node-1 is locked by admin: firmware update",
                                                    "field": "action"})
    with engine.connect() as connection:
        from sqlalchemy import text
        assert connection.execute(text("SELECT count(*) FROM power_actions WHERE kind = 'off'")).scalar() == 0
    on = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "on"})
    assert on.status == 202
    again = await api.call("POST", "/api/v1/nodes/{node}/lock", node="node-1", body={"reason": "again"})
    assert (again.status, again.body["field"]) == (409, "node")
    unlocked = await api.call("POST", "/api/v1/nodes/{node}/unlock", node="node-1")
    assert unlocked.status == 200 and (unlocked.body["locked"], unlocked.body["lock_reason"]) == (False, None)
    twice = await api.call("POST", "/api/v1/nodes/{node}/unlock", node="node-1")
    assert (twice.status, twice.body["field"]) == (409, "node")


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "a\nb"}, {"reason": 1}])
@pytest_twisted.ensureDeferred
async def test_a_lock_without_a_good_reason_is_400_naming_it(api, body):
    """A lock needs a reason of 1 to 200 characters on one line: else 400 naming reason, and no lock."""
    await enrol(api)
    refused = await api.call("POST", "/api/v1/nodes/{node}/lock", node="node-1", body=body)
    assert (refused.status, refused.body["field"]) == (400, "reason")
    assert not (await api.call("GET", "/api/v1/nodes/{node}", node="node-1")).body["locked"]


@pytest_twisted.ensureDeferred
async def test_a_bulk_off_acts_on_the_unlocked_nodes_and_names_the_locked(api):
    """A bulk off makes actions for the unlocked nodes only and answers the locked ones; all locked: 409."""
    first = await enrol(api)
    second = await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    await api.call("POST", "/api/v1/nodes/{node}/lock", node="node-2", body={"reason": "firmware update"})
    answer = await api.call("POST", "/api/v1/power", body={"action": "off", "filter": {"cluster": "rack-1"}})
    assert answer.status == 202 and [a["node"] for a in answer.body["actions"]] == [first["id"]]
    assert answer.body["locked"] == [{"node": second["id"], "name": "node-2", "locked_by": "admin",
                                      "lock_reason": "firmware update"}]
    only = await api.call("POST", "/api/v1/power", body={"action": "cycle", "nodes": ["node-2"]})
    assert (only.status, only.body["field"]) == (409, "action")


@pytest_twisted.ensureDeferred
async def test_a_scheduled_request_is_committed_with_its_time(api):
    """A power request with not_before (any offset) answers 202 with the action pending until then, in UTC."""
    await enrol(api)
    from datetime import datetime, timedelta, timezone

    at = (datetime.now(timezone(timedelta(hours=2))) + timedelta(hours=1)).replace(microsecond=0)
    answer = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                            body={"action": "off", "not_before": at.isoformat()})
    assert answer.status == 202 and answer.body["status"] == "pending"
    assert answer.body["not_before"] == at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    past = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                          body={"action": "on", "not_before": "2001-01-01T00:00:00Z"})
    assert past.status == 202 and past.body["not_before"] is None


@pytest.mark.parametrize("not_before", ["tomorrow", "2026-11-22T12:00:00", "2999-01-01T00:00:00Z", 5])
@pytest_twisted.ensureDeferred
async def test_a_bad_not_before_is_400_naming_it(api, not_before):
    """An unreadable not_before, one without an offset, or one more than 30 days ahead: 400 naming it."""
    await enrol(api)
    for path, extra in (("/api/v1/nodes/{node}/power", {}), ("/api/v1/power", {"nodes": ["node-1"]})):
        answer = await api.call("POST", path, node="node-1", body={"action": "off", "not_before": not_before, **extra})
        assert (answer.status, answer.body["field"]) == (400, "not_before")


def test_every_documented_operation_was_exercised():
    """Every path and method in the OpenAPI document was called by the tests above."""
    assert operations() - EXERCISED == set()


class FailingClusters(ConnectedClusters):
    """Clusters, one connected, whose every hand-over fails, with a secret in the error."""

    delivering: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections["rack-1"] = None  # connected: hand-overs are claimed (none is without a cluster)

    def deliver(self, action_ids=None, tell=()):
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


def test_no_part_of_the_region_hides_anothers_method():
    """The API's, the operations' and the pages' mixins share no method name, so none silently hides another."""
    from pserv.region.api import RegionAPI

    owners = {}
    for part in RegionAPI.__mro__[1:]:
        for name, value in vars(part).items():
            if callable(value) and not name.startswith("__"):
                owners.setdefault(name, []).append(part.__name__)
    mine = set(vars(RegionAPI))
    assert {name: parts for name, parts in owners.items() if len(parts) > 1 or name in mine} == {}


@pytest_twisted.ensureDeferred
async def test_an_on_or_cycle_may_name_a_boot_device(api):
    """boot_device and boot_persistent go with an on or a cycle, single or bulk; the action shows them; another one is a new request."""
    await enrol(api)
    await enrol(api, name="node-2", power_parameters={"address": "bmc-2"})
    one = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1", body={"action": "cycle", "boot_device": "pxe"})
    assert (one.status, one.body["boot_device"], one.body["boot_persistent"]) == (202, "pxe", False)
    same = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                          body={"action": "cycle", "boot_device": "pxe", "boot_persistent": False})
    assert (same.status, same.body["id"]) == (200, one.body["id"])
    other = await api.call("POST", "/api/v1/nodes/{node}/power", node="node-1",
                           body={"action": "cycle", "boot_device": "disk", "boot_persistent": True})
    assert (other.status, other.body["boot_device"], other.body["boot_persistent"]) == (202, "disk", True)
    bulk = await api.call("POST", "/api/v1/power",
                          body={"action": "on", "boot_device": "cdrom", "nodes": ["node-1", "node-2"]})
    assert bulk.status == 202 and [a["boot_device"] for a in bulk.body["actions"]] == ["cdrom", "cdrom"]


@pytest.mark.parametrize("body, field, error", [
    ({"action": "off", "boot_device": "pxe"}, "boot_device", "boot_device: only for on or cycle"),
    ({"action": "query", "boot_device": "pxe"}, "boot_device", "boot_device: only for on or cycle"),
    ({"action": "on", "boot_device": "floppy"}, "boot_device", "boot_device: must be one of"),
    ({"action": "on", "boot_device": None}, "boot_device", "boot_device: must be one of"),
    ({"action": "on", "boot_device": "pxe", "boot_persistent": "yes"}, "boot_persistent", "boot_persistent: must be"),
    ({"action": "on", "boot_persistent": True}, "boot_device", "boot_device: is required with boot_persistent"),
])
@pytest.mark.parametrize("path", ["/api/v1/nodes/node-1/power", "/api/v1/power"])
@pytest_twisted.ensureDeferred
async def test_a_bad_boot_device_is_400_naming_it(api, body, field, error, path):
    """A boot device for another action than on or cycle, an unknown one, or boot_persistent alone is a 400 naming the field."""
    await enrol(api, cluster=None)
    if path == "/api/v1/power":
        body = {**body, "nodes": ["node-1"]}
    response = await treq.post(api.base + path, json=body, headers={"Authorization": f"Bearer {api.token}"})
    answer = json.loads(await response.content())
    assert response.code == 400 and answer["field"] == field and answer["error"].startswith(error), answer


@pytest.mark.parametrize("path", ["/api/v1/nodes/wol-1/power", "/api/v1/power"])
@pytest_twisted.ensureDeferred
async def test_a_boot_device_for_a_power_type_that_cannot_set_one_is_409(api, path):
    """A boot device for a Wake-on-LAN node is a 409 naming boot_device and the power type; nothing is made."""
    await enrol(api, name="wol-1", power_type="wol", power_parameters={"mac": "aa:bb:cc:dd:ee:ff"}, cluster=None)
    body = {"action": "on", "boot_device": "pxe", **({"nodes": ["wol-1"]} if path == "/api/v1/power" else {})}
    response = await treq.post(api.base + path, json=body, headers={"Authorization": f"Bearer {api.token}"})
    answer = json.loads(await response.content())
    assert response.code == 409 and answer["field"] == "boot_device"
    assert "power type wol cannot set a boot device" in answer["error"]
    actions = await api.call("GET", "/api/v1/nodes/{node}/actions", node="wol-1")
    assert actions.body["items"] == []
