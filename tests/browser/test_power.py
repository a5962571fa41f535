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
from tests.browser.screens import shoot

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


def test_a_cycle_with_a_boot_device_from_the_node_page(page, operator, api):
    """The power form of an IPMI node offers a boot device: a cycle with PXE is asked with it, and its row says so."""
    login(page, operator.name, operator.password)
    page.goto("/nodes/ipmi-4")
    power = page.locator("#power")
    expect(power.get_by_label("Boot device (on and cycle)")).to_be_visible()
    power.get_by_label("Boot device (on and cycle)").select_option("pxe")
    asked = accept_dialogs(page)
    with page.expect_navigation():
        power.get_by_role("button", name="Cycle", exact=True).click()
    [cycle] = [a for a in api.actions("ipmi-4") if a["kind"] == "cycle"][:1]
    assert (cycle["boot_device"], cycle["boot_persistent"]) == ("pxe", False) and len(asked) <= 1
    row = page.locator(f'#actions tr[data-action="{cycle["id"]}"]')
    expect(row.locator('[data-field="boot"]')).to_have_text("boot pxe")
    expect(row).to_have_attribute("data-status", "done")
    page.get_by_label("Boot device (on and cycle)").select_option("pxe")
    page.locator("#power").evaluate("section => section.scrollIntoView()")  # the form and the actions below it
    shoot(page, "node-boot-device")


def test_an_off_ignores_the_boot_device_chosen(page, operator, api):
    """The boot device goes with on and cycle only: an off asked with one chosen carries none."""
    login(page, operator.name, operator.password)
    page.goto("/nodes/ipmi-4")
    power = page.locator("#power")
    power.get_by_label("Boot device (on and cycle)").select_option("disk")
    accept_dialogs(page)
    with page.expect_navigation():
        power.get_by_role("button", name="Off", exact=True).click()
    [off] = [a for a in api.actions("ipmi-4") if a["kind"] == "off"][:1]
    assert off["boot_device"] is None
    expect(page.locator(f'#actions tr[data-action="{off["id"]}"]')).to_have_attribute("data-status", "done")


def test_a_node_that_cannot_set_a_boot_device_is_offered_none(page, operator, api):
    """A PDU outlet's power form offers no boot device."""
    login(page, operator.name, operator.password)
    outlet = next(n["name"] for n in api.get("/api/v1/nodes")["items"] if n["power_type"] == "snmp_pdu")
    page.goto(f"/nodes/{outlet}")
    expect(page.locator("#power")).to_be_visible()
    expect(page.locator("#power select#boot_device")).to_have_count(0)
