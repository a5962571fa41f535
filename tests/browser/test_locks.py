"""
Browser tests of a node's lock from its page (pserv/region/ui/node.py,
templates/node_lock.html): locking with a reason, the power buttons that
switch it off held back, an off from a page opened before the lock
refused clearly, and unlocking after the confirmation the script asks.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import accept_dialogs, login
from tests.browser.screens import shoot

NAME = "locked-1"
REASON = "firmware update until Friday"


def test_a_locked_node_refuses_an_off_until_an_operator_unlocks_it(page, context, operator, api, silent_bmc,
                                                                    own_nodes):
    """Lock (with a reason) shows who and why, disables off, refuses a stale page's off with 409; Unlock ends it."""
    own_nodes.append(NAME)
    api.add_node(NAME, "ipmi", {"address": "127.0.0.1", "port": silent_bmc, "username": "admin", "password": "quiet"})
    login(page, operator.name, operator.password)
    stale = context.new_page()
    stale.goto(f"/nodes/{NAME}")
    page.goto(f"/nodes/{NAME}")
    asked = accept_dialogs(page)

    page.locator("#lock").get_by_label("Why lock it").fill(REASON)
    with page.expect_navigation():
        page.locator("#lock").get_by_role("button", name="Lock", exact=True).click()
    expect(page.locator("#lock-state")).to_have_attribute("data-locked", "true")
    expect(page.locator("#lock-state")).to_contain_text(f"Locked by {operator.name}")
    expect(page.locator('#lock-state [data-field="lock_reason"]')).to_have_text(REASON)
    for name in ("Off", "Cycle", "Soft off"):
        expect(page.locator("#power").get_by_role("button", name=name, exact=True)).to_be_disabled()
    expect(page.locator("#power").get_by_role("button", name="On", exact=True)).to_be_enabled()
    page.evaluate("() => window.scrollTo(0, 150)")  # the lock and the power buttons held back, together
    shoot(page, "node-locked")
    assert api.node(NAME)["locked_by"] == operator.name

    stale.on("dialog", lambda dialog: dialog.accept())
    with stale.expect_navigation():
        stale.locator("#power").get_by_role("button", name="Off", exact=True).click()
    expect(stale.locator("#power-refused")).to_contain_text(f"node {NAME} is locked by {operator.name}: {REASON}")
    stale.evaluate("() => window.scrollTo(0, 150)")
    shoot(stale, "node-lock-refused")
    assert [a for a in api.actions(NAME) if a["kind"] == "off"] == []

    with page.expect_navigation():
        page.locator("#lock").get_by_role("button", name="Unlock", exact=True).click()
    assert asked == [f"Unlock {NAME}? It can then be switched off."]
    expect(page.locator("#lock-state")).to_have_attribute("data-locked", "false")
    expect(page.locator("#power").get_by_role("button", name="Off", exact=True)).to_be_enabled()
    assert api.node(NAME)["locked"] is False
