"""
Browser tests of what each role is shown (pserv/region/permissions.py
through the pages): a viewer gets no power buttons where an operator does.
That the API refuses a viewer's power request is in test_session.py.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.browsing import login

NODE = "ipmi-1"


def power_controls(page):
    """The power controls of the page open: buttons that ask for power or cancel, and node checkboxes."""
    return page.locator('button[name="action"], input[name="node"], form[action$="/cancel"]')


def test_a_viewer_sees_no_power_buttons(page, viewer):
    """A viewer's nodes page has no checkboxes, bulk buttons or add link; a node's page no power or edit."""
    login(page, viewer.name, viewer.password)
    page.goto("/nodes")
    expect(page.locator("#nodes tbody tr").first).to_be_visible()
    expect(page.locator("#bulk fieldset")).to_have_count(0)
    expect(power_controls(page)).to_have_count(0)
    expect(page.get_by_role("link", name="Add a node")).to_have_count(0)

    page.goto(f"/nodes/{NODE}")
    expect(page.get_by_role("heading", level=1)).to_have_text(NODE)
    expect(page.locator("#power")).to_have_count(0)
    expect(power_controls(page)).to_have_count(0)
    expect(page.get_by_role("link", name="Edit")).to_have_count(0)


def test_an_operator_sees_the_power_buttons_the_viewer_does_not(page, operator):
    """The same pages show an operator the checkboxes, bulk and power buttons (the viewer's test looks aright)."""
    login(page, operator.name, operator.password)
    page.goto("/nodes")
    expect(page.locator("#bulk fieldset")).to_be_visible()
    expect(page.get_by_label(f"Select {NODE}", exact=True)).to_be_visible()
    expect(page.locator('#bulk button[name="action"]')).to_have_count(5)

    page.goto(f"/nodes/{NODE}")
    expect(page.locator('#power button[name="action"]')).to_have_text(["On", "Off", "Cycle", "Soft off", "Query"])
    expect(page.get_by_role("link", name="Edit")).to_be_visible()
