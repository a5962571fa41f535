"""
Browser tests of the UI's sessions (pserv/region/login.py, auth.py,
sessions.py): logging in and out through the form, the CSRF token a
session's writes need, and the roles the API holds a session and a token
to.  Asserted on the header every page has (who is signed in, the
log-out button), not on a page's content.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import csrf_token, expect_signed_in, log_out, log_out_button, login
from tests.browser.screens import shoot

SESSION_COOKIE = "pserv_session"
NODE = "ipmi-1"


def session_cookies(context):
    return [cookie for cookie in context.cookies() if cookie["name"] == SESSION_COOKIE]


def test_logging_in_through_the_form_shows_who_is_signed_in(page, operator):
    """A user logs in at /login with name and password, and every page then says who is signed in."""
    page.goto("/login")
    shoot(page, "login")
    login(page, operator.name, operator.password)
    expect_signed_in(page, operator.name, "operator")
    assert len(session_cookies(page.context)) == 1
    whoami = page.context.request.get("/api/v1/whoami")
    assert whoami.status == 200
    assert {k: whoami.json()[k] for k in ("name", "role", "credential")} == {
        "name": operator.name, "role": "operator", "credential": "session"}


def test_a_wrong_password_shows_the_error_and_starts_no_session(page, viewer):
    """A wrong password leaves the browser on the login form with the error, no cookie and no session."""
    page.goto("/login")
    page.get_by_label("Name").fill(viewer.name)
    page.get_by_label("Password").fill(viewer.password + "-wrong")
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    expect(page.get_by_label("Name")).to_have_value(viewer.name)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(log_out_button(page)).to_have_count(0)
    shoot(page, "login-refused")
    assert session_cookies(page.context) == []
    assert page.context.request.get("/api/v1/whoami").status == 401


def test_logging_out_ends_the_session(page, viewer):
    """After logging out, the session is gone: the old cookie sent again leads to /login."""
    login(page, viewer.name, viewer.password)
    [cookie] = session_cookies(page.context)
    log_out(page)
    assert page.url.endswith("/login")
    assert session_cookies(page.context) == []
    page.context.add_cookies([cookie])
    page.goto("/")
    assert page.url.endswith("/login?next=%2F")
    expect(log_out_button(page)).to_have_count(0)
    assert page.context.request.get("/api/v1/whoami").status == 401


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(page, operator, api):
    """With the session cookie but no CSRF token, a power request and a log-out are refused with 403."""
    login(page, operator.name, operator.password)
    request = page.context.request
    node = api.node(NODE)
    before = api.actions(NODE)

    refused = request.post(f"/api/v1/nodes/{node['id']}/power", data={"action": "on"})
    assert refused.status == 403
    assert refused.headers["content-type"].startswith("application/json")
    assert "CSRF token" in refused.json()["error"]
    logout = request.post("/logout", form={"next": "/"})
    assert logout.status == 403

    assert api.actions(NODE) == before
    assert api.node(NODE)["desired_power_state"] == node["desired_power_state"]
    assert request.get("/api/v1/whoami").json()["name"] == operator.name
    page.reload()
    expect_signed_in(page, operator.name, "operator")
    accepted = request.post(f"/api/v1/nodes/{node['id']}/power", data={"action": "query"},
                            headers={"X-CSRF-Token": csrf_token(page)})
    assert accepted.status in (200, 202), accepted.text()


def test_a_viewer_is_refused_power_by_the_api(page, viewer, api):
    """A viewer may not ask for power, with its session (and CSRF token) or with a viewer token: 403."""
    login(page, viewer.name, viewer.password)
    node = api.node(NODE)
    before = api.actions(NODE)
    path = f"/api/v1/nodes/{node['id']}/power"

    by_session = page.context.request.post(path, data={"action": "on"}, headers={"X-CSRF-Token": csrf_token(page)})
    assert by_session.status == 403
    assert "needs the operator role" in by_session.json()["error"]
    by_token = api.call("POST", path, {"action": "on"}, token=api.add_token("viewer"))
    assert by_token.status == 403
    assert "needs the operator role" in by_token.body["error"]

    assert api.actions(NODE) == before
    assert api.node(NODE)["desired_power_state"] == node["desired_power_state"]
