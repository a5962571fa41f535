"""
Browser tests of the add-node form (pserv/region/ui/node_form.py,
templates/node_form.html): the form an IPMI node's settings generate, a
refused setting shown next to its field with nothing added, then the
corrected form adding the node.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.browsing import DEMO_CLUSTER, fill_ipmi_form, login, submit_node_form
from tests.browser.screens import shoot

NAME = "spare-1"
BAD_PORT = 70000
PORT_ERROR = '[id="error-power_parameters.port"]'
"""The port's error (its id holds a dot, which ``#...`` would read as a class)."""


def test_a_bad_port_is_shown_next_to_its_field_and_adds_nothing_until_corrected(page, operator, api, spare_bmcs,
                                                                                own_nodes):
    """The IPMI form refuses port 70000 next to the port field, adding nothing; with the BMC's port it adds the node."""
    bmc = spare_bmcs[0]
    own_nodes.append(NAME)
    login(page, operator.name, operator.password)
    page.get_by_role("link", name="Add a node").click()
    page.get_by_label("Power type").select_option("ipmi")
    expect(page).to_have_url(re.compile(r"/nodes/new\?power_type=ipmi$"))
    expect(page.get_by_role("group", name="IPMI settings")).to_be_visible()
    fill_ipmi_form(page, NAME, bmc, port=BAD_PORT)
    port = page.get_by_label("UDP port")
    assert port.evaluate("input => input.validationMessage"), "chromium should find 70000 out of the field's range"
    page.locator("#node-form").evaluate("form => { form.noValidate = true; }")  # so the region judges it
    submit_node_form(page)

    error = page.locator(".field", has=port).locator(PORT_ERROR)
    expect(error).to_have_text(re.compile(r"must be at most 65535"))
    expect(port).to_have_attribute("aria-invalid", "true")
    expect(port).to_have_attribute("aria-describedby", re.compile(r"(^| )error-power_parameters\.port( |$)"))
    expect(page.get_by_role("alert")).to_contain_text("The node was not added")
    expect(port).to_have_value(str(BAD_PORT))
    expect(page.get_by_label("Name (required)")).to_have_value(NAME)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert api.call("GET", f"/api/v1/nodes/{NAME}").status == 404
    shoot(page, "node-form")

    port.fill(str(bmc.port))
    page.get_by_label("Password", exact=True).fill(bmc.password)
    submit_node_form(page)
    expect(page).to_have_url(re.compile(f"/nodes/{NAME}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(NAME)
    node = api.node(NAME)
    assert (node["cluster"], node["power_type"]) == (DEMO_CLUSTER, "ipmi")
    shown = {key: node["power_parameters"][key] for key in ("address", "port", "username", "password")}
    assert shown == {"address": bmc.address, "port": bmc.port, "username": bmc.username, "password": "set"}
