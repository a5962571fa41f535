"""
Tests for pserv.region.admin_api over real HTTP on loopback, on SQLite and
PostgreSQL; every answer is checked against the OpenAPI contract (these
run before tests/region/test_api.py, whose last test checks every
documented operation was called).
"""

import json

import pytest_twisted

from pserv.region.roles import Role

PASSWORD = "s3cret-enough-password"


@pytest_twisted.ensureDeferred
async def test_whoami_names_the_credential(served):
    """whoami says a token's name, role and kind; a session's with its CSRF token."""
    token = served.token(Role.OPERATOR, "ops")
    shown = await served.client(token).call("GET", "/api/v1/whoami")
    assert shown.body == {"name": "ops", "role": "operator", "credential": "token"}
    session = served.session(Role.VIEWER, "vera")
    shown = await served.client(session=session).call("GET", "/api/v1/whoami")
    assert shown.body == {"name": "vera", "role": "viewer", "credential": "session", "csrf_token": session.csrf}
    assert (await served.client().call("GET", "/api/v1/whoami")).status == 401


@pytest_twisted.ensureDeferred
async def test_users_are_created_changed_and_listed(served):
    """An admin creates a user, changes its role, disables it and lists users; no hash is ever shown."""
    admin = served.client(served.token(Role.ADMIN))
    made = await admin.call("POST", "/api/v1/users", body={"name": "bob", "role": "viewer", "password": PASSWORD})
    assert (made.status, made.body["role"], made.header("Location")) == (201, "viewer", "/api/v1/users/bob")
    changed = await admin.call("PATCH", "/api/v1/users/{user}", user="bob", body={"role": "operator"})
    assert changed.body["role"] == "operator"
    disabled = await admin.call("PATCH", "/api/v1/users/{user}", user="bob", body={"disabled": True})
    assert disabled.body["disabled"] is True
    listed = await admin.call("GET", "/api/v1/users", params={"limit": "1"})
    assert [u["name"] for u in listed.body["items"]] == ["bob"] and listed.body["next"] is None
    shown = await admin.call("GET", "/api/v1/users/{user}", user="bob")
    assert shown.body == disabled.body and "argon2" not in json.dumps(shown.body)
    assert (await admin.call("GET", "/api/v1/users/{user}", user="nobody")).status == 404


@pytest_twisted.ensureDeferred
async def test_bad_user_bodies_name_the_field(served):
    """A short password, a bad role, a bad name or a taken one are refused naming the field."""
    admin = served.client(served.token(Role.ADMIN))
    for body, status, field in [
        ({"name": "bob", "role": "viewer", "password": "short"}, 400, "password"),
        ({"name": "bob", "role": "root", "password": PASSWORD}, 400, "role"),
        ({"name": "b b", "role": "viewer", "password": PASSWORD}, 400, "name"),
        ({"name": "bob", "role": "viewer"}, 400, "password"),
    ]:
        refused = await admin.call("POST", "/api/v1/users", body=body)
        assert (refused.status, refused.body.get("field")) == (status, field), body
    await admin.call("POST", "/api/v1/users", body={"name": "bob", "role": "viewer", "password": PASSWORD})
    taken = await admin.call("POST", "/api/v1/users", body={"name": "bob", "role": "admin", "password": PASSWORD})
    assert (taken.status, taken.body["field"]) == (409, "name")
    patched = await admin.call("PATCH", "/api/v1/users/{user}", user="bob", body={"password": "x"})
    assert (patched.status, patched.body["field"]) == (400, "password")


@pytest_twisted.ensureDeferred
async def test_a_token_is_shown_once_and_revoked_at_once(served):
    """A new token is in its creation's answer only; once revoked, its next request is 401."""
    admin = served.client(served.token(Role.ADMIN))
    made = await admin.call("POST", "/api/v1/tokens", body={"name": "ci", "role": "viewer"})
    assert made.status == 201 and made.body["token"].startswith("pserv_")
    ci = served.client(made.body["token"])
    assert (await ci.call("GET", "/api/v1/whoami")).body["role"] == "viewer"
    listed = await admin.call("GET", "/api/v1/tokens", params={"limit": "1"})
    assert listed.body["next"] and made.body["token"] not in json.dumps(listed.body)
    page2 = await admin.call("GET", "/api/v1/tokens", params={"after": str(listed.body["items"][0]["id"])})
    assert [t["name"] for t in page2.body["items"]] == ["ci"]
    assert (await admin.call("DELETE", "/api/v1/tokens/{name}", name="ci")).status == 204
    assert (await ci.call("GET", "/api/v1/whoami")).status == 401
    assert (await admin.call("DELETE", "/api/v1/tokens/{name}", name="ci")).status == 404
    taken = await admin.call("POST", "/api/v1/tokens", body={"name": "admin-token", "role": "viewer"})
    assert taken.status == 409
    no_role = await admin.call("POST", "/api/v1/tokens", body={"name": "x"})
    assert (no_role.status, no_role.body["field"]) == (400, "role")


@pytest_twisted.ensureDeferred
async def test_a_token_cannot_revoke_itself(served):
    """Revoking the token a request bears is 409 naming it, and the token still works: an admin never locks itself out."""
    admin = served.client(served.token(Role.ADMIN, "ops-admin"))
    refused = await admin.call("DELETE", "/api/v1/tokens/{name}", name="ops-admin")
    assert (refused.status, refused.body["field"]) == (409, "name")
    assert (await admin.call("GET", "/api/v1/whoami")).status == 200


@pytest_twisted.ensureDeferred
async def test_disabling_a_user_refuses_its_session_at_once(served):
    """A user's session works until an admin disables the user; the very next request is 401."""
    session = served.session(Role.OPERATOR, "olga")
    olga = served.client(session=session)
    assert (await olga.call("GET", "/api/v1/nodes")).status == 200
    admin = served.client(served.token(Role.ADMIN))
    await admin.call("PATCH", "/api/v1/users/{user}", user="olga", body={"disabled": True})
    assert (await olga.call("GET", "/api/v1/nodes")).status == 401


@pytest_twisted.ensureDeferred
async def test_a_role_change_applies_at_the_next_request(served):
    """A session demoted to viewer is refused power at its next request."""
    session = served.session(Role.OPERATOR, "olga")
    olga = served.client(session=session)
    admin = served.client(served.token(Role.ADMIN))
    await admin.call("PATCH", "/api/v1/users/{user}", user="olga", body={"role": "viewer"})
    refused = await olga.call("POST", "/api/v1/power", body={"action": "on", "nodes": ["x"]})
    assert refused.status == 403 and "operator role" in refused.body["error"]


@pytest_twisted.ensureDeferred
async def test_passwords_and_tokens_never_leave(served, logged):
    """A user's password and a new token appear in no event, log line or other answer."""
    admin = served.client(served.token(Role.ADMIN))
    await admin.call("POST", "/api/v1/users", body={"name": "bob", "role": "viewer", "password": PASSWORD})
    await admin.call("PATCH", "/api/v1/users/{user}", user="bob", body={"password": PASSWORD + "2"})
    token = (await admin.call("POST", "/api/v1/tokens", body={"name": "ci", "role": "viewer"})).body["token"]
    seen = [json.dumps((await admin.call(method, path)).body) for method, path in [
        ("GET", "/api/v1/users"), ("GET", "/api/v1/tokens"), ("GET", "/api/v1/events")]]
    events = json.loads(seen[-1])["items"]
    assert [e["kind"] for e in events][-3:] == ["user_created", "user_changed", "token_created"]
    assert not any(secret in text for secret in (PASSWORD, token, "argon2") for text in seen)
    assert not any(PASSWORD in repr(e) or token in repr(e) for e in logged)
