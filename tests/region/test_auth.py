"""
Tests for pserv.region.auth, on SQLite and PostgreSQL.
"""

import io

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.task import Clock
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.auth import (
    SESSION, TOKEN, Credential, CredentialCheck, Forbidden, TokenCheck, Unauthorized, check_csrf, check_role,
    form_fields, form_values, requester,
)
from pserv.region.db import Database
from pserv.region.roles import Role
from pserv.region.store.sessions import create_session, csrf_token
from pserv.region.store.tokens import create_token, revoke_token
from pserv.region.store.users import change_user, create_user


class Request(DummyRequest):
    """A DummyRequest with cookies and a body."""

    def __init__(self, method=b"GET", headers=None, cookies=None, body=b""):
        super().__init__([b""])
        self.method = method
        for name, value in (headers or {}).items():
            self.requestHeaders.setRawHeaders(name, [value])
        self.cookies = cookies or {}
        self.content = io.BytesIO(body)

    def getCookie(self, name):
        return self.cookies.get(name)


def bearer(token, method=b"GET"):
    return Request(method, {b"authorization": f"Bearer {token}".encode()})


@pytest.fixture
def check(engine):
    database = Database(engine, reactor)
    clock = Clock()
    clock.advance(1_800_000_000)
    yield CredentialCheck(database, clock)
    database.stop()


@pytest_twisted.ensureDeferred
async def test_a_revoked_token_is_refused_at_the_next_request(check, moments):
    """A token works, and after its revocation the very next request is refused: no cache outlives it."""
    token = check.database.run_now(create_token, "ops", moments(), Role.OPERATOR)
    credential = await check.credential(bearer(token))
    assert (credential.name, credential.role, credential.kind, credential.csrf_token) == (
        "ops", Role.OPERATOR, TOKEN, None)
    check.database.run_now(revoke_token, "ops", moments())
    with pytest.raises(Unauthorized):
        await check.credential(bearer(token))


@pytest_twisted.ensureDeferred
async def test_bad_tokens_refused(check):
    """A missing, malformed or unknown token is refused."""
    for request in (Request(), bearer(""), Request(headers={b"authorization": b"Basic x"}), bearer("pserv_nope")):
        with pytest.raises(Unauthorized):
            await check.credential(request)


@pytest_twisted.ensureDeferred
async def test_a_session_cookie_is_a_credential_until_its_user_is_disabled(check, moments):
    """A session cookie names its user with a CSRF token; disabling the user refuses it at once."""
    user = check.database.run_now(create_user, "alice", "$argon2id$h", Role.ADMIN, moments())
    session = check.database.run_now(create_session, user["id"], "alice", "127.0.0.1", check.now())
    credential = await check.credential(Request(cookies={b"pserv_session": session.encode()}))
    assert (credential.name, credential.kind, credential.csrf_token) == ("alice", SESSION, csrf_token(session))
    assert session not in repr(credential)
    check.database.run_now(change_user, "alice", {"disabled": True}, moments())
    with pytest.raises(Unauthorized):
        await check.credential(Request(cookies={b"pserv_session": session.encode()}))


@pytest_twisted.ensureDeferred
async def test_a_session_expires_on_the_clock(check, moments):
    """A session is refused once the injected clock passes its lifetime."""
    user = check.database.run_now(create_user, "alice", "$argon2id$h", Role.ADMIN, moments())
    session = check.database.run_now(create_session, user["id"], "alice", "127.0.0.1", check.now(), lifetime=60)
    request = Request(cookies={b"pserv_session": session.encode()})
    assert (await check.credential(request)).name == "alice"
    check.clock.advance(60)
    with pytest.raises(Unauthorized):
        await check.credential(request)


@pytest_twisted.ensureDeferred
async def test_admit_checks_the_role_the_table_asks_for(check, moments):
    """A viewer token may list nodes but not ask for power: 403 naming the role needed."""
    token = check.database.run_now(create_token, "eyes", moments(), Role.VIEWER)
    assert (await check.admit(bearer(token), "/api/v1/nodes")).role == Role.VIEWER
    with pytest.raises(Forbidden) as refused:
        await check.admit(bearer(token, b"POST"), "/api/v1/nodes/<node>/power")
    assert refused.value.message == "this needs the operator role; token 'eyes' has the viewer role"
    assert await check.admit(Request(), "/api/v1/openapi.json") is None


def test_a_bearer_token_is_left_to_the_work_only_when_it_is_one_to_look_up(check):
    """token_check: a check for a guarded route's bearer token; none for a public route, no header or a malformed one."""
    found = check.token_check(bearer("pserv_x", b"POST"), "/api/v1/nodes/<node>/power")
    assert found == TokenCheck("pserv_x", Role.OPERATOR) and "pserv_x" not in repr(found)
    assert check.token_check(bearer("pserv_x"), "/api/v1/openapi.json") is None
    for request in (Request(b"POST"), bearer("", b"POST"), Request(b"POST", {b"authorization": b"Basic x"})):
        assert check.token_check(request, "/api/v1/nodes/<node>/power") is None


def test_a_token_checked_in_the_work_s_transaction_is_refused_as_admit_refuses_it(check, moments):
    """TokenCheck: the token's credential if its role allows; 403 naming the roles if not; 401 once revoked."""
    token = check.database.run_now(create_token, "ops", moments(), Role.OPERATOR)
    assert check.database.run_now(TokenCheck(token, Role.OPERATOR)) == Credential("ops", Role.OPERATOR, TOKEN)
    with pytest.raises(Forbidden, match="this needs the admin role; token 'ops' has the operator role"):
        check.database.run_now(TokenCheck(token, Role.ADMIN))
    check.database.run_now(revoke_token, "ops", moments())
    with pytest.raises(Unauthorized, match="the bearer token is not valid"):
        check.database.run_now(TokenCheck(token, Role.OPERATOR))


def test_the_requester_is_a_name_given_or_the_token_s_once_checked(check, moments):
    """requester: a name as it is; a token check's credential name, made in the connection given."""
    token = check.database.run_now(create_token, "ops", moments(), Role.OPERATOR)
    assert check.database.run_now(requester, "alice") == "alice"
    assert check.database.run_now(requester, TokenCheck(token, Role.VIEWER)) == "ops"
    with pytest.raises(Unauthorized):
        check.database.run_now(requester, TokenCheck("pserv_nope", Role.VIEWER))


def test_check_role_passes_a_credential_whose_role_allows():
    """check_role returns the credential for its role and below, and refuses above it."""
    credential = Credential("ops", Role.OPERATOR, TOKEN)
    assert check_role(credential, Role.VIEWER) is credential and check_role(credential, Role.OPERATOR) is credential
    with pytest.raises(Forbidden):
        check_role(credential, Role.ADMIN)


def _session_credential(session="s3ss10n-id"):
    from pserv.region.auth import Credential

    return Credential("alice", Role.ADMIN, SESSION, csrf_token(session))


@pytest.mark.parametrize("method", [b"POST", b"PATCH", b"PUT", b"DELETE"])
def test_a_state_changing_session_request_needs_the_csrf_token(method):
    """With a session, each state-changing method is refused without the token, and with a wrong one."""
    credential = _session_credential()
    with pytest.raises(Forbidden):
        check_csrf(Request(method), credential)
    with pytest.raises(Forbidden):
        check_csrf(Request(method, {b"x-csrf-token": b"0" * 64}), credential)
    check_csrf(Request(method, {b"x-csrf-token": credential.csrf_token.encode()}), credential)


def test_csrf_token_in_a_form_field_and_none_needed_for_reads_or_tokens():
    """The token may come as the csrf_token form field; GET and bearer tokens need none."""
    from pserv.region.auth import Credential

    credential = _session_credential()
    form = Request(b"POST", {b"content-type": b"application/x-www-form-urlencoded"},
                   body=f"name=x&csrf_token={credential.csrf_token}".encode())
    check_csrf(form, credential)
    check_csrf(Request(b"GET"), credential)
    check_csrf(Request(b"POST"), Credential("ci", Role.ADMIN, TOKEN))


def test_form_fields_read_only_urlencoded_bodies():
    """Form fields come from an urlencoded body only, the last of each name, and the body stays readable."""
    form = Request(b"POST", {b"content-type": b"application/x-www-form-urlencoded; charset=utf-8"},
                   body=b"a=1&a=2&b=")
    assert form_fields(form) == {"a": "2", "b": ""} and form.content.read() == b"a=1&a=2&b="
    assert form_fields(Request(b"POST", {b"content-type": b"application/json"}, body=b"a=1")) == {}
    assert form_fields(Request(b"POST", {b"content-type": b"application/x-www-form-urlencoded"}, body=b"\xff=1")) == {}


def test_form_values_keep_every_value_of_a_name():
    """A name sent many times (a checkbox in many rows) keeps all its values, in order; another body has none."""
    form = Request(b"POST", {b"content-type": b"application/x-www-form-urlencoded"}, body=b"node=3&node=1&b=")
    assert form_values(form) == {"node": ["3", "1"], "b": [""]}
    assert form_values(Request(b"POST", {b"content-type": b"text/plain"}, body=b"node=3")) == {}
