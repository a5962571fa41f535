"""
Tests for pserv.region.ui.admin over real HTTP on loopback, on SQLite and
PostgreSQL: the users and tokens pages, for admins only.
"""

import pytest_twisted

from pserv.region.roles import Role
from pserv.region.store.tokens import list_tokens, token_credential
from pserv.region.store.users import get_user
from tests.region.ui.pages import get, post

PASSWORD = "a-long-enough-password"


@pytest_twisted.ensureDeferred
async def test_only_admins_see_the_users_and_tokens(served):
    """An operator gets a 403 page naming the admin role, and the nav links no users or tokens page."""
    operator = served.session(Role.OPERATOR)
    for path in ("/users", "/tokens"):
        answer = await get(served, path, operator)
        assert answer.status == 403 and "needs the admin role" in answer.html.one("main").text()
    nav = (await get(served, "/nodes", operator)).html.one("nav", aria_label="Main")
    assert [a.attrs["href"] for a in nav.all("a")] == ["/nodes", "/clusters"]
    admin = (await get(served, "/nodes", served.session(Role.ADMIN))).html.one("nav", aria_label="Main")
    assert [a.attrs["href"] for a in admin.all("a")] == ["/nodes", "/clusters", "/users", "/tokens"]


@pytest_twisted.ensureDeferred
async def test_an_admin_adds_a_user(served):
    """Adding a user (name, password, role) redirects to the list, which shows it; the password is never shown."""
    admin = served.session(Role.ADMIN)
    answer = await post(served, "/users", {"name": "carol", "password": PASSWORD, "role": "operator"}, admin)
    assert (answer.status, answer.header("location")) == (303, "/users?added=carol")
    assert served.database.run_now(get_user, "carol")["role"] == "operator"
    page = await get(served, "/users?added=carol", admin)
    assert PASSWORD not in page.text and "User carol added." in page.html.one("main").text()
    assert page.html.one("tr", data_user="carol").one("td", data_field="role").text() == "operator"


@pytest_twisted.ensureDeferred
async def test_a_refused_user_is_shown_next_to_its_field(served):
    """A short password is a 400 page with the error by the password field, the name kept, the password not."""
    admin = served.session(Role.ADMIN)
    answer = await post(served, "/users", {"name": "carol", "password": "short", "role": "viewer"}, admin)
    assert answer.status == 400 and "short" not in [i.attrs.get("value") for i in answer.html.all("input")]
    assert answer.html.one("p", id="error-password")
    assert answer.html.one("input", id="name").attrs["value"] == "carol"
    taken = await post(served, "/users", {"name": "admin-user", "password": PASSWORD, "role": "viewer"}, admin)
    assert taken.status == 409 and taken.html.one("p", id="error-name")


@pytest_twisted.ensureDeferred
async def test_an_admin_changes_a_role_and_disables_and_enables(served):
    """POST /users/<user> with role changes it; with disabled=true it disables the user, false enables again."""
    served.user("carol", Role.VIEWER)
    admin = served.session(Role.ADMIN)
    row = (await get(served, "/users", admin)).html.one("tr", data_user="carol")
    assert row.one("button", class_="danger").attrs["data-confirm"].startswith("Disable carol?")
    assert (await post(served, "/users/carol", {"role": "operator"}, admin)).status == 303
    assert (await post(served, "/users/carol", {"disabled": "true"}, admin)).status == 303
    user = served.database.run_now(get_user, "carol")
    assert (user["role"], user["disabled"]) == ("operator", True)
    page = await get(served, "/users", admin)
    assert page.html.one("tr", data_user="carol").one("td", data_field="disabled").text() == "disabled"
    await post(served, "/users/carol", {"disabled": "false"}, admin)
    assert served.database.run_now(get_user, "carol")["disabled"] is False
    missing = await post(served, "/users/nobody", {"role": "viewer"}, admin)
    assert missing.status == 404


@pytest_twisted.ensureDeferred
async def test_a_new_token_is_shown_once(served):
    """Making a token shows it on that page (201) and never again; it works as a bearer token of its role."""
    admin = served.session(Role.ADMIN)
    made = await post(served, "/tokens", {"name": "ci", "role": "operator"}, admin)
    assert made.status == 201
    token = made.html.one("output", id="token").text()
    assert served.database.run_now(token_credential, token) == ("ci", Role.OPERATOR)
    listed = await get(served, "/tokens", admin)
    assert token not in listed.text and listed.html.one("tr", data_token="ci")
    bad = await post(served, "/tokens", {"name": "no spaces", "role": "viewer"}, admin)
    assert bad.status == 400 and bad.html.one("p", id="error-name")


@pytest_twisted.ensureDeferred
async def test_an_admin_revokes_a_token(served):
    """The revoke button deletes the token, and back to the list saying so; without the CSRF token nothing goes."""
    served.token(Role.VIEWER, "spare")
    admin = served.session(Role.ADMIN)
    forged = await post(served, "/tokens/spare/revoke", {}, admin, csrf=False)
    assert forged.status == 403
    answer = await post(served, "/tokens/spare/revoke", {}, admin)
    assert (answer.status, answer.header("location")) == (303, "/tokens?revoked=spare")
    assert [t["name"] for t in served.database.run_now(list_tokens, 10, None)[0]] == []
    assert "Token spare revoked." in (await get(served, "/tokens?revoked=spare", admin)).html.one("main").text()
