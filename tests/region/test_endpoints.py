"""
Tests for pserv.region.endpoints: JSON endpoints and HTML pages admitted
through the permission table, over real HTTP, on SQLite and PostgreSQL.
"""

import json

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.web.server import Site

from pserv.region import permissions
from pserv.region.auth import CredentialCheck, requester
from pserv.region.endpoints import credential_of, endpoint, endpoint_in_transaction, page, streaming
from pserv.region.errors import Invalid
from pserv.region.html import render
from pserv.region.roles import Role
from pserv.region.routes import Routes


class Pages:
    app = Routes()

    def __init__(self, access):
        self.access = access

    @app.route("/test/admin-page", methods=["GET"])
    @page
    async def admin_page(self, request, credential):
        return render(request, "error.html", title="ok", message=credential.name)

    @app.route("/test/broken", methods=["GET"])
    @endpoint
    async def broken(self, request, who):
        raise RuntimeError(f"a secret-looking failure for {credential_of(request).name}")

    @app.route("/test/in-transaction", methods=["POST"])
    @endpoint_in_transaction
    async def in_transaction(self, request, who):
        if request.args.get(b"bad"):
            raise Invalid("bad: refused before the work", "bad")
        name = await self.access.database.run(requester, who)
        return 200, {"who": name, "checked_in_work": not isinstance(who, str)}

    @app.route("/test/stream", methods=["GET"])
    @streaming
    async def stream(self, request, who):
        if request.args.get(b"bad"):
            raise Invalid("bad: refused before the stream", "bad")
        return Lines(who, failing=bool(request.args.get(b"fail")))


class Lines:
    """A stream that writes a line and ends (or fails once started)."""

    content_type = b"text/plain"

    def __init__(self, who, failing):
        self.who, self.failing = who, failing

    async def run(self, request):
        request.write(f"hello {self.who}\n".encode())
        if self.failing:
            raise RuntimeError("the stream broke")


@pytest_twisted.async_yield_fixture
async def pages(served, monkeypatch):
    monkeypatch.setitem(permissions.PERMISSIONS, ("GET", "/test/admin-page"), Role.ADMIN)
    monkeypatch.setitem(permissions.PERMISSIONS, ("GET", "/test/broken"), Role.VIEWER)
    monkeypatch.setitem(permissions.PERMISSIONS, ("GET", "/test/stream"), Role.VIEWER)
    monkeypatch.setitem(permissions.PERMISSIONS, ("POST", "/test/in-transaction"), Role.OPERATOR)
    port = reactor.listenTCP(0, Site(Pages(CredentialCheck(served.database, served.clock)).app.resource()),
                             interface="127.0.0.1")
    yield f"http://127.0.0.1:{port.getHost().port}"
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_a_page_refused_for_its_role_is_a_clear_403_page(served, pages):
    """A viewer's session asking for an admin page gets a 403 HTML page naming the role; an admin gets the page."""
    viewer = served.session(Role.VIEWER)
    response = await treq.get(pages + "/test/admin-page", headers=viewer.headers())
    text = await response.text()
    assert response.code == 403 and "text/html" in response.headers.getRawHeaders("content-type")[0]
    assert "this needs the admin role; session &#39;viewer-user&#39; has the viewer role" in text
    admin = served.session(Role.ADMIN)
    assert (await treq.get(pages + "/test/admin-page", headers=admin.headers())).code == 200


@pytest_twisted.ensureDeferred
async def test_a_page_without_a_credential_redirects_to_login_and_back(pages):
    """A page asked for without a session redirects to the login form, which returns to it."""
    response = await treq.get(pages + "/test/admin-page?x=1", allow_redirects=False)
    assert (response.code, response.headers.getRawHeaders("location")) == (
        303, ["/login?next=%2Ftest%2Fadmin-page%3Fx%3D1"])


@pytest_twisted.ensureDeferred
async def test_a_form_posted_without_a_session_goes_to_the_login_page_only(served):
    """A POST to a page without a session redirects to /login without a next page to repeat it on."""
    response = await treq.post(served.base + "/logout", data=b"", allow_redirects=False)
    assert (response.code, response.headers.getRawHeaders("location")) == (303, ["/login"])


@pytest_twisted.ensureDeferred
async def test_head_is_admitted_as_get(served):
    """A HEAD request is checked as the GET it stands for: no credential is 401, a viewer's token 200."""
    assert (await treq.head(served.base + "/api/v1/nodes")).code == 401
    token = served.token(Role.VIEWER)
    assert (await treq.head(served.base + "/api/v1/nodes", headers={"Authorization": [f"Bearer {token}"]})).code == 200


@pytest_twisted.ensureDeferred
async def test_an_endpoint_without_a_credential_says_how_to_give_one(pages):
    """An endpoint asked for without a credential is a JSON 401 with WWW-Authenticate: Bearer."""
    response = await treq.get(pages + "/test/broken")
    assert response.code == 401 and response.headers.getRawHeaders("www-authenticate") == ['Bearer realm="pserv"']
    assert json.loads(await response.text())["error"].startswith("a bearer token or a session is required")


@pytest_twisted.ensureDeferred
async def test_an_endpoint_that_fails_is_a_logged_500(served, pages, logged):
    """A handler that raises is logged and answered a JSON 500 that tells nothing of the failure."""
    token = served.token(Role.VIEWER)
    response = await treq.get(pages + "/test/broken", headers={"Authorization": [f"Bearer {token}"]})
    assert (response.code, json.loads(await response.text())) == (500, {"error": "internal error; see the region's log"})
    assert any("secret-looking failure" in repr(e) for e in logged)
    assert not any(token in repr(e) for e in logged)


@pytest_twisted.ensureDeferred
async def test_a_stream_is_admitted_then_written_as_it_comes(served, pages, logged):
    """A streaming route refuses in JSON before it starts; then it is 200 with its headers, and a failure is logged and ends it."""
    refused = await treq.get(pages + "/test/stream")
    assert refused.code == 401 and json.loads(await refused.text())["error"]
    token = {"Authorization": [f"Bearer {served.token(Role.VIEWER)}"]}
    bad = await treq.get(pages + "/test/stream?bad=1", headers=token)
    assert (bad.code, json.loads(await bad.text())) == (400, {"error": "bad: refused before the stream", "field": "bad"})
    good = await treq.get(pages + "/test/stream", headers=token)
    assert (good.code, await good.text()) == (200, "hello viewer-token\n")
    assert [good.headers.getRawHeaders(h)[0] for h in ("content-type", "cache-control", "x-accel-buffering")] == [
        "text/plain", "no-store", "no"]
    failed = await treq.get(pages + "/test/stream?fail=1", headers=token)
    assert (failed.code, await failed.text()) == (200, "hello viewer-token\n")
    assert any("the stream failed" in str(e.get("log_format")) for e in logged)


async def _post(url, token=None, headers=None):
    headers = dict(headers or {}, **({"Authorization": [f"Bearer {token}"]} if token else {}))
    response = await treq.post(url, data=b"", headers=headers)
    return response.code, json.loads(await response.text()), response.headers.getRawHeaders("www-authenticate")


@pytest_twisted.ensureDeferred
async def test_an_endpoint_in_a_transaction_has_its_token_checked_by_its_work(served, pages):
    """A bearer token reaches the handler unchecked, and its work's check names it; a session is admitted before."""
    token = served.token(Role.OPERATOR)
    assert await _post(pages + "/test/in-transaction", token) == (
        200, {"who": "operator-token", "checked_in_work": True}, None)
    admin = served.session(Role.ADMIN)
    code, body, _ = await _post(pages + "/test/in-transaction", headers=admin.headers(csrf=True))
    assert (code, body) == (200, {"who": "admin-user", "checked_in_work": False})


@pytest_twisted.ensureDeferred
async def test_an_endpoint_in_a_transaction_refuses_a_bad_token_before_a_bad_request(served, pages):
    """401 and 403 come before the handler's own refusal, whether the work's check or a check after it says so."""
    url = pages + "/test/in-transaction"
    bearer_realm = ['Bearer realm="pserv"']
    assert (await _post(url, "pserv_nope"))[::2] == (401, bearer_realm)
    assert (await _post(url + "?bad=1", "pserv_nope"))[::2] == (401, bearer_realm)
    assert (await _post(url))[::2] == (401, bearer_realm)
    viewer = served.token(Role.VIEWER)
    for path in ("", "?bad=1"):
        code, body, _ = await _post(url + path, viewer)
        assert (code, body["error"]) == (403, "this needs the operator role; token 'viewer-token' has the viewer role")
    operator = served.token(Role.OPERATOR)
    assert await _post(url + "?bad=1", operator) == (400, {"error": "bad: refused before the work", "field": "bad"}, None)


def test_a_handler_name_collision_is_not_silent():
    """Each wrapped handler keeps its own name, so Klein's endpoint names stay distinct."""
    assert Pages.admin_page.__name__ == "admin_page" and Pages.broken.__name__ == "broken"
    with pytest.raises(AttributeError):
        Pages.admin_page.__wrapped__.admits
