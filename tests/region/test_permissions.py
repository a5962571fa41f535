"""
Tests for pserv.region.permissions: the table covers every route, the
docs show it, and a walk over the real API and pages, for every role with
a token and with a session (and with neither), finds each route doing
what the table says: allowed is never 403, refused is 403 naming the role,
and nothing is ever a 500.
"""

import json
from pathlib import Path
from urllib.parse import urlencode

import pytest
import pytest_twisted
import treq

from pserv.region.api import RegionAPI
from pserv.region.endpoints import check_routes
from pserv.region.permissions import PERMISSIONS, PUBLIC, Unlisted, allowed, markdown_table, needed, template, unlisted
from pserv.region.roles import Role
from pserv.region.routes import Routes
from pserv.region.store.actions import request_bulk, request_power
from pserv.region.store.clusters import register_cluster
from pserv.region.store.nodes import create_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.region.contract import DOCUMENT

DOC = Path(__file__).parents[2] / "docs" / "api.md"
NODE = {"name": "node-1", "power_type": "fake", "power_parameters": {"address": "bmc-1"}}
PATH = {"node": "node-1", "action": None, "batch": None, "user": "someone", "name": "spare",
        "cluster": "rack-1"}
BODIES = {
    ("POST", "/api/v1/nodes"): {**NODE, "name": "node-2"},
    ("PATCH", "/api/v1/nodes/<node>"): {"cluster": "rack-2"},
    ("POST", "/api/v1/nodes/<node>/power"): {"action": "off"},
    ("POST", "/api/v1/power"): {"action": "on", "nodes": ["node-1"]},
    ("POST", "/api/v1/users"): {"name": "new-user", "role": "viewer", "password": "a-good-password"},
    ("PATCH", "/api/v1/users/<user>"): {"role": "operator"},
    ("PATCH", "/api/v1/clusters/<cluster>"): {"draining": True},
    ("POST", "/api/v1/tokens"): {"name": "new-token", "role": "viewer"},
}
FORMS = {("POST", "/login"): {"name": "someone", "password": "a-good-password"}}
STREAMS = {("GET", "/api/v1/events/stream")}
"""Routes that answer a stream, open until the client goes: opened, then closed."""


def test_every_route_is_in_the_table_and_every_entry_is_a_route():
    """The region's routes and the permission table hold the same (method, route) pairs."""
    routes = {(method, url) for method, url, _ in RegionAPI.app.routes()}
    assert unlisted(routes) == []
    assert set(PERMISSIONS) - routes == set()


def test_a_route_missing_from_the_table_stops_the_region():
    """A route the table does not list, or a guarded one that checks nothing, is refused before serving."""
    class Extra:
        app = Routes()

        @app.route("/api/v1/secret", methods=["GET"])
        def secret(self, request):
            return b""

    with pytest.raises(Unlisted):
        check_routes(Extra.app)

    class Unchecked:
        app = Routes()

        @app.route("/api/v1/nodes", methods=["GET"])
        def nodes(self, request):
            return b""

    with pytest.raises(Unlisted, match="checks no credential"):
        check_routes(Unchecked.app)


def test_every_documented_operation_is_in_the_table():
    """Each operation of the OpenAPI document is a route of the table."""
    listed = {(m, template(r)) for m, r in PERMISSIONS}
    documented = {(m.upper(), p) for p, item in DOCUMENT["paths"].items() for m in item if m != "parameters"}
    assert documented - listed == set()


def test_roles_are_ordered():
    """An admin may do what an operator may, who may do what a viewer may; HEAD is checked as GET."""
    assert allowed(Role.ADMIN, "POST", "/api/v1/power") and not allowed(Role.VIEWER, "POST", "/api/v1/power")
    assert allowed(None, "GET", "/api/v1/openapi.json") and not allowed(None, "GET", "/api/v1/nodes")
    assert needed("HEAD", "/api/v1/nodes") is Role.VIEWER
    with pytest.raises(Unlisted):
        needed("GET", "/nowhere")


def test_docs_show_the_table():
    """docs/api.md holds the roles and the permission table exactly as the code has them."""
    assert markdown_table() in DOC.read_text()


ROUTES = sorted(PERMISSIONS)


async def _seed(served):
    """A node with an action, a cluster, a user and a token to act on, and credentials of every role."""
    db, now = served.database, served.api.now()
    db.run_now(register_cluster, "rack-1", now)
    db.run_now(create_node, NODE, now, power_types=POWER_TYPES_WITH_FAKE)
    action, _ = db.run_now(request_power, "node-1", "on", "seed", now)
    batch, _, _ = db.run_now(request_bulk, ["node-1"], None, "on", "seed", now)
    served.user("someone", Role.VIEWER, "a-good-password")
    served.token(Role.VIEWER, "spare")
    path = {**PATH, "action": action["id"], "batch": batch}
    credentials = [("nobody", None, None)]
    for role in Role:
        credentials.append((f"{role.value} token", role, served.client(served.token(role))))
        credentials.append((f"{role.value} session", role, served.client(session=served.session(role))))
    return path, credentials


class HungUp(Exception):
    """The test closes a stream it has seen open."""


def _hang_up(data: bytes) -> None:
    raise HungUp()


async def _stream(client, served, route) -> tuple:
    """Open a stream as ``client``: once it is open, hang up (treq closes the connection when its collector raises)."""
    headers = dict(client.headers) if client else {}
    if client and client.token:
        headers["Authorization"] = [f"Bearer {client.token}"]
    response = await treq.get(served.base + template(route), headers=headers, unbuffered=True)
    kind = response.headers.getRawHeaders("content-type", [None])[0]
    if response.code != 200:
        return response.code, kind, json.loads(await response.content())
    with pytest.raises(HungUp):
        await treq.collect(response, _hang_up)
    return response.code, kind, None


async def _call(client, served, method, route, path):
    """Call ``method route`` as ``client`` (None: no credential): (status, content type, body)."""
    url = template(route).format(**path)
    if (method, route) in STREAMS:
        return await _stream(client, served, route)
    if url.startswith("/api/"):
        client = client or served.client()
        params = {"ids": str(path["action"])} if route == "/api/v1/actions" else None
        answer = await client.call(method, template(route), body=BODIES.get((method, route)), params=params, **path)
        return answer.status, answer.header("Content-Type"), answer.body
    headers = dict(client.headers) if client else {}
    if client and client.token:
        headers["Authorization"] = [f"Bearer {client.token}"]
    data = None
    if method == "POST":
        fields = {**FORMS.get((method, route), {})}
        if "X-CSRF-Token" in headers:
            fields["csrf_token"] = headers.pop("X-CSRF-Token")[0]
        headers["Content-Type"] = ["application/x-www-form-urlencoded"]
        data = urlencode(fields).encode()
    response = await treq.request(method, served.base + url, headers=headers, data=data, allow_redirects=False)
    return response.code, response.headers.getRawHeaders("content-type", [None])[0], await response.text()


@pytest.mark.parametrize("method, route", ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
@pytest_twisted.ensureDeferred
async def test_the_table_holds_over_the_real_api(served, method, route):
    """For every role, as token and as session: allowed is never 403, refused is 403 naming the role, never 500."""
    path, credentials = await _seed(served)
    least = PERMISSIONS[(method, route)]
    for label, role, client in credentials:
        status, kind, body = await _call(client, served, method, route, path)
        assert status != 500, (label, status, body)
        if least is PUBLIC or (role is not None and role.allows(least)):
            assert status not in (401, 403), (label, status, body)
        elif role is None:
            assert status in (401, 303), (label, status, body)
        else:
            assert status == 403, (label, status, body)
            text = body["error"] if kind == "application/json" else body
            assert f"needs the {least.value} role" in text, (label, body)


@pytest_twisted.ensureDeferred
async def test_a_session_post_without_the_csrf_token_is_refused_and_changes_nothing(served):
    """An admin's session asking for power without its CSRF token gets 403 and no action or intent changes."""
    path, _ = await _seed(served)
    session = served.session(Role.ADMIN, "root")
    before = (await served.client(session=session).call("GET", "/api/v1/nodes/{node}/actions", node="node-1")).body
    forged = served.client(session=session, csrf=False)
    for method, route in [("POST", "/api/v1/nodes/<node>/power"), ("PATCH", "/api/v1/nodes/<node>"),
                          ("DELETE", "/api/v1/nodes/<node>"), ("POST", "/api/v1/tokens")]:
        answer = await forged.call(method, template(route), body=BODIES.get((method, route)), **path)
        assert answer.status == 403 and "CSRF" in answer.body["error"], (method, route, answer)
    after = served.client(session=session)
    assert (await after.call("GET", "/api/v1/nodes/{node}/actions", node="node-1")).body == before
    node = (await after.call("GET", "/api/v1/nodes/{node}", node="node-1")).body
    assert (node["cluster"], node["lifecycle"]) == (None, "ready")
    assert [t["name"] for t in (await after.call("GET", "/api/v1/tokens")).body["items"]] == [
        "spare", "viewer-token", "operator-token", "admin-token"]


def test_the_document_says_each_guarded_operation_may_be_refused():
    """Every operation but the public ones documents a 403 answer."""
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            public = path == "/api/v1/openapi.json"
            assert ("403" in operation["responses"]) != public, (method, path)
    assert json.dumps(DOCUMENT)
