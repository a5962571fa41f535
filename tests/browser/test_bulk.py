"""
Browser tests of bulk power (pserv/region/ui/nodes.py's bulk form, the
preview at POST /power/preview, POST /power, the progress at GET
/batches/<id>): nodes chosen by their checkboxes, the dry run's counts
and a confirmation naming them, and the batch's progress as it happens.

The batch mixes two IPMI nodes, cycled within a second, with a PDU
outlet, whose cycle stays off for its five-second ``cycle_delay``: the
progress page is caught with two done and one still running.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.browsing import expect_live, login, without_reload
from tests.browser.screens import shoot

NODES = ["ipmi-2", "ipmi-3", "pdu-outlet-1"]
REASON = "browser test: bulk cycle"


def count(section, name):
    """The ``<output data-count=NAME>`` of ``section`` (the batch's progress)."""
    return section.locator(f'output[data-count="{name}"]')


def test_a_bulk_cycle_shows_its_dry_run_then_its_progress_live(page, operator, api):
    """Three nodes cycled from /nodes: the dry run says 3 change, the confirm names 3, the progress ends at 3 done."""
    assert api.call("GET", "/api/v1/nodes/pdu-outlet-1").status == 200, "the demo has no PDU (is snmpd installed?)"
    login(page, operator.name, operator.password)
    page.goto("/nodes")
    for name in NODES:
        page.get_by_label(f"Select {name}", exact=True).check()
    with page.expect_navigation():
        page.locator("#bulk").get_by_role("button", name="Cycle", exact=True).click()

    preview = page.locator("#preview")
    expect(preview.locator("[data-preview=nodes]")).to_have_text("3")
    expect(preview.locator("[data-preview=change]")).to_have_text("3")
    expect(preview.locator("[data-preview=unchanged]")).to_have_text("0")
    expect(preview).to_contain_text(", ".join(NODES))
    assert not [action for name in NODES for action in api.actions(name) if action["kind"] == "cycle"], (
        "the preview asked for power")
    preview.get_by_label("Reason").fill(REASON)
    confirm = preview.get_by_role("button", name=re.compile(r"\b3 nodes$"))
    with page.expect_navigation():
        confirm.click()

    expect(page).to_have_url(re.compile(r"/batches/\d+$"))
    progress = page.locator("#progress")
    batch = int(progress.get_attribute("data-batch"))
    with without_reload(page):
        expect(count(progress, "done")).to_have_text("2")
        expect(count(progress, "running")).to_have_text("1")
        expect(progress.locator("[data-field=reason]")).to_have_text(REASON)
        expect_live(page)
        shoot(page, "bulk-progress")
        expect(count(progress, "done")).to_have_text("3")
        expect(progress).to_have_attribute("data-finished", "true")
    shown = api.get(f"/api/v1/batches/{batch}")
    assert {key: shown[key] for key in ("action", "size", "finished", "requested_by", "reason")} == {
        "action": "cycle", "size": 3, "finished": True, "requested_by": operator.name, "reason": REASON}
    assert shown["counts"]["done"] == 3
    assert {api.node(name)["power_state"] for name in NODES} == {"on"}
