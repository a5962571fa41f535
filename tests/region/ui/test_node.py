"""
Tests for pserv.region.ui.node over real HTTP on loopback, on SQLite and
PostgreSQL: a node's page for each role, its settings without secrets,
its actions and events, and its power and cancel buttons.
"""

import pytest
import pytest_twisted

from pserv.power.types import POWER_TYPES
from pserv.region.roles import Role
from pserv.region.store.actions import list_node_actions, request_power
from pserv.region.store.events import list_events
from pserv.region.ui.node import shown_settings
from tests.region.ui.pages import add_node, get, parse, post

SECRET = "s3cret-bmc-password"


def actions_of(served, node="node-1"):
    return served.database.run_now(list_node_actions, node, 50, None)[0]


@pytest_twisted.ensureDeferred
async def test_a_viewer_sees_the_node_and_no_button(served):
    """A viewer sees the settings (a secret only as 'set'), the actions and the events, and no form at all."""
    add_node(served, "node-1", address="bmc-1", password=SECRET)
    served.database.run_now(request_power, "node-1", "on", "alice", served.api.now())
    answer = await get(served, "/nodes/node-1", served.session(Role.VIEWER))
    assert answer.status == 200 and SECRET not in answer.text
    page = answer.html
    settings = {row.one("th").text(): row.one("td").text() for row in page.one("section", id="settings").all("tr")}
    assert settings == {"BMC name": "bmc-1", "Username": "admin", "Password": "set", "Latency (s)": "none",
                        "Minimum seconds between calls to this BMC": "none", "Calls in flight at once to this BMC": "none"}
    [action] = page.one("section", id="actions").all("tr", data_action=True)
    assert action.attrs["data-status"] == "pending" and "alice" in action.text()
    events = [row.text() for row in page.one("section", id="events").all("tr", data_event=True)]
    assert "on requested by alice" in events[0] and "enrolled" in events[-1]
    assert not page.all("form", method="post") or page.all("form", method="post")[0].attrs["action"] == "/logout"
    assert not page.all("section", id="power")


@pytest_twisted.ensureDeferred
async def test_an_operator_asks_for_power_with_a_button(served):
    """An operator's power button posts action=off to /nodes/<node>/power: an action is made, and back to the page."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    page = (await get(served, "/nodes/node-1", session)).html
    power = page.one("section", id="power")
    assert {b.attrs["value"] for b in power.all("button", name="action")} == {"on", "off", "cycle", "soft_off", "query"}
    assert power.one("button", value="off").attrs["data-confirm"] == "Switch node-1 off now?"
    assert power.one("input", name="reason") and power.one("label", **{"for": "reason"})
    answer = await post(served, "/nodes/node-1/power", {"action": "off", "reason": "rewiring"}, session)
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    [action] = actions_of(served)
    assert (action["kind"], action["requested_by"]) == ("off", "operator-user")


@pytest_twisted.ensureDeferred
async def test_the_reason_is_kept_and_shown(served):
    """The power form's reason (trimmed) is stored with the action, and its row says who, why, when and how it ended."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    await post(served, "/nodes/node-1/power", {"action": "cycle", "reason": "  kernel update  "}, session)
    await post(served, "/nodes/node-1/power", {"action": "query", "reason": ""}, session)
    query, cycle = actions_of(served)
    assert (cycle["reason"], query["reason"]) == ("kernel update", None)
    page = (await get(served, "/nodes/node-1", session)).html
    row = page.one("section", id="actions").one("tr", data_action=str(cycle["id"]))
    assert row.one("td", data_field="reason").text() == "kernel update" and "operator-user" in row.text()
    assert row.one("time").attrs["datetime"] == cycle["requested_at"] and "in play" in row.text()
    other = page.one("section", id="actions").one("tr", data_action=str(query["id"]))
    assert other.one("td", data_field="reason").text() == "none given"
    headings = [th.text() for th in page.one("section", id="actions").one("thead").all("th")]
    assert headings == ["Action", "Kind", "Asked by", "Why", "Asked", "Took", "Status", "How it ended"]


@pytest_twisted.ensureDeferred
async def test_the_power_form_offers_a_boot_device_for_on_and_cycle(served):
    """A node that can set a boot device is offered one; a cycle asked with it carries it, an off does not, and the row says it."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    power = (await get(served, "/nodes/node-1", session)).html.one("section", id="power")
    assert [o.attrs["value"] for o in power.one("select", name="boot_device").all("option")] == [
        "", "pxe", "disk", "cdrom", "bios"]
    await post(served, "/nodes/node-1/power", {"action": "off", "boot_device": "pxe"}, session)
    await post(served, "/nodes/node-1/power", {"action": "cycle", "boot_device": "pxe", "boot_persistent": "on"},
               session)
    off, cycle = sorted(actions_of(served), key=lambda a: a["id"])
    assert (off["boot_device"], cycle["boot_device"], cycle["boot_persistent"]) == (None, "pxe", True)
    page = (await get(served, "/nodes/node-1", session)).html
    row = page.one("section", id="actions").one("tr", data_action=str(cycle["id"]))
    assert row.one("span", data_field="boot").text() == "boot pxe, every boot"


@pytest_twisted.ensureDeferred
async def test_a_node_that_cannot_set_a_boot_device_is_offered_none_and_refused_one(served):
    """A Wake-on-LAN node's form has no boot device; one posted anyway is shown next to the field (409), nothing asked."""
    add_node(served, "wol-1", power_type="wol", mac="aa:bb:cc:dd:ee:ff")
    session = served.session(Role.OPERATOR)
    power = (await get(served, "/nodes/wol-1", session)).html.one("section", id="power")
    assert power.all("select", name="boot_device") == []
    answer = await post(served, "/nodes/wol-1/power", {"action": "on", "boot_device": "pxe"}, session)
    assert answer.status == 409 and actions_of(served, "wol-1") == []
    assert "cannot set a boot device" in answer.html.one("section", id="power").one("p", role="alert").text()


@pytest.mark.parametrize("reason", ["x" * 501, "tab\there"])
@pytest_twisted.ensureDeferred
async def test_a_bad_reason_is_shown_next_to_its_field(served, reason):
    """A reason the store would refuse is a 400 node page with the error at its field, the text kept; no action."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    answer = await post(served, "/nodes/node-1/power", {"action": "off", "reason": reason}, session)
    assert answer.status == 400 and actions_of(served) == []
    field = answer.html.one("section", id="power").one("input", id="reason")
    assert field.attrs["value"] == reason and field.attrs["aria-invalid"] == "true"
    assert answer.html.one("p", id="error-reason").text().startswith("reason:")


@pytest_twisted.ensureDeferred
async def test_power_without_the_csrf_token_or_the_role_changes_nothing(served):
    """Without the CSRF token, or as a viewer, the power POST is a 403 page and no action is made."""
    add_node(served, "node-1")
    forged = await post(served, "/nodes/node-1/power", {"action": "off"}, served.session(Role.OPERATOR), csrf=False)
    assert forged.status == 403 and "CSRF" in forged.html.one("main").text()
    viewer = await post(served, "/nodes/node-1/power", {"action": "off"}, served.session(Role.VIEWER))
    assert viewer.status == 403 and "needs the operator role" in viewer.html.one("main").text()
    assert actions_of(served) == []


@pytest_twisted.ensureDeferred
async def test_an_unknown_action_is_a_400_page(served):
    """action=explode is refused naming the field, and nothing is made."""
    add_node(served, "node-1")
    answer = await post(served, "/nodes/node-1/power", {"action": "explode"}, served.session(Role.OPERATOR))
    assert answer.status == 400 and answer.html.one("p", role="alert").text().startswith("action:")
    assert actions_of(served) == []


@pytest_twisted.ensureDeferred
async def test_cancel_ends_the_action_in_play(served):
    """The cancel button of the action in play posts to /actions/<id>/cancel: cancelled, and back to the node."""
    add_node(served, "node-1")
    action, _ = served.database.run_now(request_power, "node-1", "off", "alice", served.api.now())
    session = served.session(Role.OPERATOR)
    page = (await get(served, "/nodes/node-1", session)).html
    form = page.one("section", id="state").one("form", action=f"/actions/{action['id']}/cancel")
    assert form.one("input", name="next").attrs["value"] == "/nodes/node-1"
    answer = await post(served, f"/actions/{action['id']}/cancel", {"next": "/nodes/node-1"}, session)
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    assert actions_of(served)[0]["status"] == "cancelled"
    again = await post(served, f"/actions/{action['id']}/cancel", {}, session)
    assert again.status == 409 and "already ended" in again.html.one("main").text()


@pytest_twisted.ensureDeferred
async def test_superseded_is_shown_as_what_it_is(served):
    """An action a newer request replaced says 'superseded by action N', styled as neither done nor failed."""
    add_node(served, "node-1")
    first, _ = served.database.run_now(request_power, "node-1", "off", "alice", served.api.now())
    second, _ = served.database.run_now(request_power, "node-1", "on", "bob", served.api.now())
    page = (await get(served, "/nodes/node-1", served.session(Role.VIEWER))).html
    row = page.one("tr", data_action=str(first["id"]))
    assert row.attrs["data-status"] == "superseded"
    assert f"superseded by action {second['id']}" in row.text() and not row.all(class_="error-text")


@pytest_twisted.ensureDeferred
async def test_an_unknown_node_is_a_404_page(served):
    """A node that does not exist is an HTML 404 page saying so."""
    answer = await get(served, "/nodes/nowhere", served.session(Role.VIEWER))
    assert answer.status == 404 and "text/html" in answer.header("content-type")
    assert answer.html.one("h1").text() == "Not found" and "no node 'nowhere'" in answer.html.one("main").text()


@pytest_twisted.ensureDeferred
async def test_events_and_actions_come_in_pages_newest_first(served):
    """Past 20 actions, the page links to older ones, and that page continues where the first ended."""
    add_node(served, "node-1")
    for n in range(25):
        served.database.run_now(request_power, "node-1", "on" if n % 2 else "off", "alice", served.api.now())
    session = served.session(Role.VIEWER)
    first = (await get(served, "/nodes/node-1", session)).html
    ids = [int(r.attrs["data-action"]) for r in first.all("tr", data_action=True)]
    assert len(ids) == 20 and ids == sorted(ids, reverse=True)
    older = first.one("section", id="actions").one("a").attrs["href"]
    rest = (await get(served, older.split("#")[0], session)).html
    every = [a["id"] for a in actions_of(served)]
    assert ids == every[:20] and [int(r.attrs["data-action"]) for r in rest.all("tr", data_action=True)] == every[20:]


@pytest_twisted.ensureDeferred
async def test_the_page_is_live_and_its_panels_are_its_parts(served):
    """The page names its stream after its newest event; /panels renders its facts, actions and events alone."""
    node = add_node(served, "node-1")
    served.database.run_now(request_power, "node-1", "on", "alice", served.api.now())
    session = served.session(Role.OPERATOR)
    page = (await get(served, "/nodes/node-1?events_before=999", session)).html
    [newest] = [e["id"] for e in served.database.run_now(list_events, None, None, 1, None, order="desc")[0]]
    main = page.one("main")
    assert (main.attrs["data-live"], main.attrs["data-node-id"], main.attrs["data-last-event"]) == (
        "node", str(node["id"]), str(newest))
    assert main.attrs["data-refresh"] == f"/nodes/{node['id']}/panels?events_before=999"
    assert main.attrs["data-stream"] == f"/api/v1/events/stream?after={newest}&coalesce=node&node={node['id']}"
    assert page.one("span", id="live").attrs["data-state"] == "off"
    answer = await get(served, main.attrs["data-refresh"], session)
    assert answer.status == 200 and answer.header("content-type") == "text/html; charset=utf-8"
    panels = parse(answer.text)
    for part in ("facts", "actions", "events"):
        assert panels.one(id=part) == page.one(id=part), part
    assert not panels.all("main") and not panels.all("section", id="power")
    assert (await get(served, "/nodes/gone/panels", session)).status == 404


def test_shown_settings_never_hold_a_secret():
    """A secret shows as set or not set; a setting left out shows its default, marked as such."""
    shown = shown_settings(POWER_TYPES.describe(), "ipmi", {"address": "10.0.0.1", "password": "set"})
    by_name = {s["name"]: s for s in shown}
    assert by_name["password"]["value"] == "set" and by_name["kg"]["value"] == "not set"
    assert (by_name["port"]["value"], by_name["port"]["default"]) == (623, True)
    assert shown_settings(POWER_TYPES.describe(), "gone", {"x": 1})[0]["value"] == 1


@pytest_twisted.ensureDeferred
async def test_an_operator_locks_a_node_and_its_page_says_who_why_and_when(served):
    """The Lock form (a reason needed) locks the node: the page shows who, why and when, and an Unlock button."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    lock = (await get(served, "/nodes/node-1", session)).html.one("section", id="lock")
    assert lock.one("input", name="lock_reason").attrs.get("required") is not None
    answer = await post(served, "/nodes/node-1/lock", {"lock_reason": "  firmware update "}, session)
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    page = (await get(served, "/nodes/node-1", session)).html
    state = page.one("p", id="lock-state")
    assert state.attrs["data-locked"] == "true" and state.one("strong").text() == "operator-user"
    assert state.one("span", data_field="lock_reason").text() == "firmware update" and state.one("time")
    assert page.one("button", id="unlock") and page.one("span", id="locked-tag")
    events = [e["kind"] for e in served.database.run_now(list_events, "node-1", None, 50, None)[0]]
    assert "node_locked" in events


@pytest_twisted.ensureDeferred
async def test_a_locked_nodes_page_refuses_an_off_clearly(served):
    """On a locked node the off, cycle and soft-off buttons are disabled, and an off posted anyway is a 409 page."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    await post(served, "/nodes/node-1/lock", {"lock_reason": "firmware update"}, session)
    power = (await get(served, "/nodes/node-1", session)).html.one("section", id="power")
    disabled = {b.attrs["value"] for b in power.all("button", name="action") if "disabled" in b.attrs}
    assert disabled == {"off", "cycle", "soft_off"} and "Locked by operator-user" in power.one("p", id="power-locked").text()
    refused = await post(served, "/nodes/node-1/power", {"action": "off"}, session)
    assert refused.status == 409 and actions_of(served) == []
    assert "node node-1 is locked by operator-user: firmware update" in refused.html.one("p", id="power-refused").text()


@pytest_twisted.ensureDeferred
async def test_an_operator_unlocks_a_node(served):
    """Unlock ends the lock (an event), and the page offers the Lock form again; unlocking twice is a 409 page."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    await post(served, "/nodes/node-1/lock", {"lock_reason": "firmware update"}, session)
    answer = await post(served, "/nodes/node-1/unlock", {}, session)
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    page = (await get(served, "/nodes/node-1", session)).html
    assert page.one("p", id="lock-state").attrs["data-locked"] == "false" and page.one("button", id="lock-button")
    again = await post(served, "/nodes/node-1/unlock", {}, session)
    assert again.status == 409 and "not locked" in again.html.one("p", id="lock-refused").text()


@pytest_twisted.ensureDeferred
async def test_a_lock_without_a_reason_is_refused_on_the_page(served):
    """An empty reason is a 400 page with the error at the Lock form; the node stays unlocked."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    answer = await post(served, "/nodes/node-1/lock", {"lock_reason": " "}, session)
    assert answer.status == 400 and "reason" in answer.html.one("p", id="lock-refused").text()
    assert answer.html.one("p", id="lock-state").attrs["data-locked"] == "false"


@pytest_twisted.ensureDeferred
async def test_a_viewer_sees_the_lock_and_no_lock_button(served):
    """A viewer sees who locked the node and why, with neither Lock nor Unlock; posting is 403."""
    add_node(served, "node-1")
    await post(served, "/nodes/node-1/lock", {"lock_reason": "firmware update"}, served.session(Role.OPERATOR))
    viewer = served.session(Role.VIEWER)
    page = (await get(served, "/nodes/node-1", viewer)).html
    assert "firmware update" in page.one("p", id="lock-state").text() and not page.all("button", id="unlock")
    assert (await post(served, "/nodes/node-1/unlock", {}, viewer)).status == 403


@pytest_twisted.ensureDeferred
async def test_the_power_form_schedules_and_the_actions_list_says_so(served):
    """A not-before time in the power form makes a scheduled action, shown as scheduled; a bad one is a 400 at its field."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    bad = await post(served, "/nodes/node-1/power", {"action": "off", "not_before": "tonight"}, session)
    assert bad.status == 400 and bad.html.one("p", id="error-not_before") and actions_of(served) == []
    assert bad.html.one("input", name="not_before").attrs["value"] == "tonight"
    answer = await post(served, "/nodes/node-1/power", {"action": "off", "not_before": "2999-01-01T00:00:00Z"},
                        session)
    assert answer.status == 400 and "30 days" in answer.html.one("p", id="error-not_before").text()
    from datetime import timedelta

    at = (served.api.now() + timedelta(hours=2)).isoformat() + "+00:00"
    answer = await post(served, "/nodes/node-1/power", {"action": "off", "not_before": at}, session)
    assert answer.status == 303
    [action] = actions_of(served)
    assert action["not_before"] is not None and action["status"] == "pending"
    row = (await get(served, "/nodes/node-1", session)).html.one("tr", data_action=str(action["id"]))
    assert "scheduled: not before" in row.one("span", data_field="not_before").text()
