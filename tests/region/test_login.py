"""
Tests for pserv.region.login over real HTTP on loopback, on SQLite and
PostgreSQL: logging in and out of the UI, the cookie, CSRF on logout,
and the failed-login limit on an injected clock.
"""

import json
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
import pytest_twisted
import treq

from pserv.region.login import local_path
from pserv.region.roles import Role
from pserv.region.store.logins import LIMIT, WINDOW

PASSWORD = "a-good-password"
FORM = {"Content-Type": ["application/x-www-form-urlencoded"]}


async def post(served, path, fields, headers=None):
    response = await treq.post(served.base + path, data=urlencode(fields).encode(),
                               headers={**FORM, **(headers or {})}, allow_redirects=False)
    return response, await response.text()


async def log_in(served, name="alice", password=PASSWORD, **more):
    return await post(served, "/login", {"name": name, "password": password, **more})


def cookie_of(response):
    [header] = response.headers.getRawHeaders("set-cookie")
    return header, SimpleCookie(header)["pserv_session"].value


@pytest_twisted.ensureDeferred
async def test_the_login_form_is_a_labelled_page(served):
    """GET /login is an HTML form with labelled name and password fields and the page's safety headers."""
    response = await treq.get(served.base + "/login?next=/nodes")
    text = await response.text()
    assert response.code == 200 and response.headers.getRawHeaders("content-type") == ["text/html; charset=utf-8"]
    assert '<label for="name">' in text and 'type="password"' in text and 'value="/nodes"' in text
    assert response.headers.getRawHeaders("x-frame-options") == ["DENY"]


@pytest_twisted.ensureDeferred
async def test_login_sets_a_strict_http_only_cookie_and_whoami_knows_it(served):
    """A good login redirects to next with an HttpOnly, SameSite=Strict cookie (not Secure over plain HTTP)."""
    served.user("alice", Role.OPERATOR, PASSWORD)
    response, _ = await log_in(served, next="/nodes?page=2")
    assert (response.code, response.headers.getRawHeaders("location")) == (303, ["/nodes?page=2"])
    header, session = cookie_of(response)
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/" in header
    assert "Secure" not in header and "Max-Age=3600" in header
    whoami = await treq.get(served.base + "/api/v1/whoami", headers={"Cookie": [f"pserv_session={session}"]})
    assert json.loads(await whoami.text())["name"] == "alice"


@pytest_twisted.ensureDeferred
async def test_logout_needs_the_csrf_token_then_ends_the_session(served):
    """POST /logout without the CSRF token is refused and the session lives; with it, the session ends."""
    served.user("alice", Role.VIEWER, PASSWORD)
    response, _ = await log_in(served)
    _, session = cookie_of(response)
    cookie = {"Cookie": [f"pserv_session={session}"]}
    whoami = json.loads(await (await treq.get(served.base + "/api/v1/whoami", headers=cookie)).text())
    refused, text = await post(served, "/logout", {}, cookie)
    assert refused.code == 403 and "CSRF" in text
    assert (await treq.get(served.base + "/api/v1/whoami", headers=cookie)).code == 200
    done, _ = await post(served, "/logout", {"csrf_token": whoami["csrf_token"]}, cookie)
    assert (done.code, done.headers.getRawHeaders("location")) == (303, ["/login"])
    assert "Max-Age=0" in done.headers.getRawHeaders("set-cookie")[0]
    assert (await treq.get(served.base + "/api/v1/whoami", headers=cookie)).code == 401


@pytest_twisted.ensureDeferred
async def test_a_failed_login_is_an_event_without_the_password(served, logged):
    """A wrong password is 401 with the form again; its event names the user, never the password."""
    served.user("alice", Role.VIEWER, PASSWORD)
    response, text = await log_in(served, password="wrong-password-123")
    assert response.code == 401 and "Wrong name or password." in text and "wrong-password-123" not in text
    assert response.headers.getRawHeaders("set-cookie") is None
    admin = served.client(served.token(Role.ADMIN))
    events = (await admin.call("GET", "/api/v1/events")).body["items"]
    failed = [e for e in events if e["kind"] == "login_failed"]
    assert len(failed) == 1 and failed[0]["message"] == "login as 'alice' from 127.0.0.1 failed"
    assert not any("wrong-password-123" in json.dumps(e) for e in events)
    assert not any("wrong-password-123" in repr(e) or PASSWORD in repr(e) for e in logged)


@pytest_twisted.ensureDeferred
async def test_failed_logins_for_a_user_are_limited_until_the_window_passes(served):
    """After five failures even the right password is 429 with Retry-After, until the clock passes the window."""
    served.user("alice", Role.VIEWER, PASSWORD)
    for _ in range(LIMIT):
        served.clock.advance(1)
        assert (await log_in(served, password="not-the-password"))[0].code == 401
    throttled, text = await log_in(served)
    assert throttled.code == 429 and "Too many failed logins" in text
    assert throttled.headers.getRawHeaders("retry-after") == [str(int(WINDOW - LIMIT + 1))]
    served.clock.advance(WINDOW)
    assert (await log_in(served))[0].code == 303


@pytest_twisted.ensureDeferred
async def test_failed_logins_from_an_address_are_limited_for_every_name(served):
    """Five failures from one address, each for another name, throttle a good login from there too."""
    served.user("alice", Role.VIEWER, PASSWORD)
    for n in range(LIMIT):
        await log_in(served, name=f"guess-{n}")
    assert (await log_in(served))[0].code == 429


@pytest_twisted.ensureDeferred
async def test_a_disabled_user_cannot_log_in(served):
    """The right password of a disabled user is refused like a wrong one."""
    served.user("alice", Role.VIEWER, PASSWORD)
    admin = served.client(served.token(Role.ADMIN))
    await admin.call("PATCH", "/api/v1/users/{user}", user="alice", body={"disabled": True})
    response, text = await log_in(served)
    assert response.code == 401 and "Wrong name or password." in text


@pytest_twisted.ensureDeferred
async def test_an_expired_session_goes_back_to_the_login_page(served):
    """Once the clock passes the session's lifetime, the nodes page redirects to /login?next=/nodes."""
    served.user("alice", Role.VIEWER, PASSWORD)
    _, session = cookie_of((await log_in(served))[0])
    cookie = {"Cookie": [f"pserv_session={session}"]}
    nodes = await treq.get(served.base + "/nodes", headers=cookie, allow_redirects=False)
    assert nodes.code == 200 and "Signed in as <strong>alice</strong>" in await nodes.text()
    served.clock.advance(3600)
    nodes = await treq.get(served.base + "/nodes", headers=cookie, allow_redirects=False)
    assert (nodes.code, nodes.headers.getRawHeaders("location")) == (303, ["/login?next=%2Fnodes"])


@pytest_twisted.ensureDeferred
async def test_the_way_in_goes_to_the_nodes(served):
    """GET / redirects a signed-in user to /nodes, and anyone else to the login page."""
    cookie = served.session(Role.VIEWER).headers(csrf=False)
    home = await treq.get(served.base + "/", headers=cookie, allow_redirects=False)
    assert (home.code, home.headers.getRawHeaders("location")) == (303, ["/nodes"])
    nobody = await treq.get(served.base + "/", allow_redirects=False)
    assert nobody.headers.getRawHeaders("location") == ["/login?next=%2F"]


@pytest.mark.parametrize("given, kept", [
    ("/nodes?x=1", "/nodes?x=1"), ("", "/"), (None, "/"), ("https://evil.example/", "/"),
    ("//evil.example/", "/"), ("/\\evil.example", "/"), ("nodes", "/"), ("/a\r\nSet-Cookie: x", "/"),
])
def test_next_is_only_ever_a_local_path(given, kept):
    """The page after login is a path on this site; anything else goes home."""
    assert local_path(given) == kept
