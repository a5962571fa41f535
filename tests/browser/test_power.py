"""
Browser tests of a node's power from its page (pserv/region/ui/node.py,
templates/node.html): asking for an action with its button, and
cancelling one caught in play, after the confirmation the script asks,
also from the part of the page a live refresh put in.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.browsing import accept_dialogs, expect_live, login

NAME = "silent-1"
IN_PLAY = re.compile(r"^(pending|sent|running)$")


def test_cancelling_an_action_in_play_ends_it_cancelled(page, operator, api, silent_bmc, own_nodes):
    """A soft off stuck on a BMC that never answers, cancelled from the refreshed live page, asks, ends cancelled."""
    own_nodes.append(NAME)
    api.add_node(NAME, "ipmi", {"address": "127.0.0.1", "port": silent_bmc, "username": "admin", "password": "quiet"})
    login(page, operator.name, operator.password)
    page.goto(f"/nodes/{NAME}")
    asked = accept_dialogs(page)

    with page.expect_navigation():
        page.locator("#power").get_by_role("button", name="Soft off", exact=True).click()
    [soft_off] = [action for action in api.actions(NAME) if action["kind"] == "soft_off"]
    row = page.locator(f'#actions tr[data-action="{soft_off["id"]}"]')
    expect(row).to_have_attribute("data-status", IN_PLAY)
    expect(page.locator('#state [data-field="action"]')).to_contain_text("soft off · ")
    assert asked == []
    expect_live(page)
    page.evaluate("() => { window.pservActionsBefore = document.getElementById('actions'); }")
    assert api.call("POST", f"/api/v1/nodes/{NAME}/power", {"action": "query"}).status in (200, 202)
    page.wait_for_function("() => document.getElementById('actions') !== window.pservActionsBefore")
    expect(row).to_have_attribute("data-status", IN_PLAY)  # the live page's new part: its buttons ask too

    with page.expect_navigation():
        row.get_by_role("button", name=f"Cancel action {soft_off['id']}").click()
    assert asked == [f"Cancel the soft off action {soft_off['id']}?"]
    expect(row).to_have_attribute("data-status", "cancelled")
    expect(row).to_contain_text("cancelled")
    expect(row.get_by_role("button", name=re.compile("^Cancel"))).to_have_count(0)
    cancelled = api.action(soft_off["id"])
    assert (cancelled["status"], cancelled["cancel_requested"]) == ("cancelled", True)
    assert api.node(NAME)["power_state"] == "unknown"
