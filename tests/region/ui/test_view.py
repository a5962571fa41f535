"""
Tests for pserv.region.ui.view, and, over real HTTP, that no page ever
shows a secret.
"""

import pytest
import pytest_twisted
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.errors import Invalid
from pserv.region.roles import Role
from pserv.region.store.actions import request_power
from pserv.region.ui.view import arg, link, whole_number
from tests.region.ui.pages import add_node, get, post

SECRET = "s3cret-never-shown"


def test_arguments():
    """arg() is the last value, stripped, empty if absent; refused if not UTF-8."""
    request = DummyRequest([b""])
    request.args = {b"q": [b"a", b" b "], b"bad": [b"\xff"]}
    assert (arg(request, "q"), arg(request, "none")) == ("b", "")
    with pytest.raises(Invalid, match="bad: must be UTF-8"):
        arg(request, "bad")


def test_whole_numbers_and_links():
    """whole_number() takes 1 and up, or the default when empty; link() drops empty arguments."""
    assert whole_number("", "page", 1) == 1 and whole_number("12", "page") == 12
    for bad in ("0", "-1", "1.5", "x", "1" * 10):
        with pytest.raises(Invalid, match="page: "):
            whole_number(bad, "page")
    assert link("/nodes", {"q": "a b", "sort": None}, page=2) == "/nodes?q=a+b&page=2"
    assert link("/nodes", {"q": ""}) == "/nodes"


@pytest_twisted.ensureDeferred
async def test_no_page_shows_a_secret(served):
    """An admin walking every page, and a refused form, never meets a node's secret, a password or a session id."""
    add_node(served, "node-1", address="bmc-1", password=SECRET)
    add_node(served, "node-2", "ipmi", address="10.0.0.2", password=SECRET, kg=SECRET)
    served.database.run_now(request_power, "node-1", "on", "alice", served.api.now())
    admin = served.session(Role.ADMIN)
    pages = ["/nodes", "/nodes/rows?ids=1,2,3,4,5,6,7,8,9", "/nodes/node-1", "/nodes/node-2", "/nodes/node-2/edit",
             "/nodes/new?power_type=ipmi", "/clusters", "/users", "/tokens"]
    texts = [(await get(served, path, admin)).text for path in pages]
    refused = await post(served, "/nodes/node-2/edit", {"power_type": "ipmi", "name": "node-2",
                                                         "power_parameters.address": "bad address!",
                                                         "power_parameters.password": SECRET}, admin)
    assert refused.status == 400
    for text in texts + [refused.text]:
        assert SECRET not in text and admin.cookie not in text and "a-good-password" not in text
