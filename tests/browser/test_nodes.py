"""
Browser tests of the nodes page (pserv/region/ui/nodes.py,
templates/nodes.html) and of a node's page (pserv/region/ui/node.py):
the demo's nodes as the page lists them, and a node switched on from its
page showing on in the nodes page's row, live, without a reload.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import add_ipmi_node, expect_live, login, without_reload
from tests.browser.screens import shoot

NAME = "spare-2"
REASON = "browser test: switched on"


def power_state(page, node_id):
    """The observed power cell of node ``node_id``'s row of the nodes table."""
    return page.locator(f'#nodes tr[data-node="{node_id}"] td[data-field="power_state"]')


def test_the_nodes_page_lists_every_node_with_its_power(page, operator, api):
    """The nodes page lists the demo's nodes by name, each with the power the region last observed."""
    login(page, operator.name, operator.password)
    expect(page).to_have_title("Nodes · pserv")
    nodes = api.get("/api/v1/nodes")["items"]
    api.wait_for_actions(api.power("query", [node["name"] for node in nodes]))  # each read just now
    nodes = sorted(api.get("/api/v1/nodes")["items"], key=lambda node: node["name"])
    assert [n["name"] for n in nodes if n["power_type"] == "ipmi"] == ["ipmi-1", "ipmi-2", "ipmi-3", "ipmi-4"]
    page.reload()

    expect(page.locator("#nodes tbody [data-field=name] a")).to_have_text([node["name"] for node in nodes])
    for node in nodes:
        expect(power_state(page, node["id"])).to_have_attribute("data-state", node["power_state"])
        expect(power_state(page, node["id"])).not_to_contain_text("never read")
    expect(page.locator("#summary")).to_contain_text(f"{len(nodes)} nodes")
    expect_live(page)
    shoot(page, "nodes")


def test_a_node_switched_on_shows_on_in_an_open_nodes_page_without_a_reload(context, operator, api, spare_bmcs,
                                                                          own_nodes):
    """A node added through the form and switched on from its page turns on in the open nodes page, not reloaded."""
    listing, node_page = context.new_page(), context.new_page()
    own_nodes.append(NAME)
    login(node_page, operator.name, operator.password)
    add_ipmi_node(node_page, NAME, spare_bmcs[1])
    node = api.node(NAME)
    listing.goto("/nodes")
    observed = power_state(listing, node["id"])
    expect(observed).not_to_have_attribute("data-state", "on")
    expect(listing.locator("#live")).to_have_attribute("data-state", "live")  # it follows the events

    with without_reload(listing):
        node_page.locator("#power").get_by_label("Reason").fill(REASON)
        with node_page.expect_navigation():
            node_page.locator("#power").get_by_role("button", name="On", exact=True).click()
        expect(observed).to_have_attribute("data-state", "on")
        expect(listing.locator(f'#nodes tr[data-node="{node["id"]}"] [data-field="desired_power_state"]')
               ).to_have_text("on")
    assert api.node(NAME)["power_state"] == "on"

    [on] = api.wait_for_actions([action for action in api.actions(NAME) if action["kind"] == "on"])
    assert (on["status"], on["requested_by"], on["reason"]) == ("done", operator.name, REASON)
    node_page.reload()
    expect(node_page.locator("#actions tr[data-action]")).to_have_count(2)  # the query at enrolment, and on
    for row in node_page.locator("#actions tr[data-action]").all():
        expect(row).to_have_attribute("data-status", "done")
    expect(node_page.locator(f'#actions tr[data-action="{on["id"]}"] [data-field=reason]')).to_have_text(REASON)
    expect(node_page.locator('#state [data-field="power_state"]')).to_contain_text("on")
    expect_live(node_page)
    shoot(node_page, "node")
