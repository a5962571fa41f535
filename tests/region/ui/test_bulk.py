"""
Tests for pserv.region.ui.bulk over real HTTP on loopback, on SQLite and
PostgreSQL: the dry run's counts for a selection and for a filter, the
confirmation making one batch, the batch's progress page and its actions'
fragment, and the refusals (nothing selected, a viewer, no CSRF token, a
bad reason, a filter that changed meanwhile), none of which asks for anything.
"""

from datetime import datetime, timezone

import pytest
import pytest_twisted
from sqlalchemy import func, select, update

from pserv.region import schema
from pserv.region.errors import Invalid
from pserv.region.roles import Role
from pserv.region.store.actions import request_bulk, request_power
from pserv.region.store.batches import get_batch
from pserv.region.ui.bulk import Selection, said, selection
from tests.region.ui.pages import add_node, get, observe, parse, post


def rows(served, table):
    """How many rows ``table`` holds."""
    return served.database.run_now(lambda c: c.execute(select(func.count()).select_from(table)).scalar())


def nothing_asked(served):
    """No action and no batch were made."""
    return rows(served, schema.power_actions) == 0 and rows(served, schema.power_batches) == 0


@pytest.fixture
def three(served):
    """Three nodes on rack-1 (on, off, never read) and one on rack-2 (off)."""
    nodes = [add_node(served, "n-on"), add_node(served, "n-off"), add_node(served, "n-new"),
             add_node(served, "other", cluster="rack-2")]
    observe(served, nodes[0]["id"], "on", 10)
    observe(served, nodes[1]["id"], "off", 10)
    observe(served, nodes[3]["id"], "off", 10)
    return nodes


def set_status(served, action_id, status, **values):
    table = schema.power_actions
    served.database.run_now(lambda c: c.execute(
        update(table).where(table.c.id == action_id).values(status=status, **values)))


def counts(page):
    """The dry run's counts as the preview shows them."""
    return {d.attrs["data-preview"]: int(d.text()) for d in page.one("section", id="preview").all("dd")}


@pytest_twisted.ensureDeferred
async def test_the_preview_counts_a_selection_and_writes_nothing(served, three):
    """Two ticked nodes, off: 1 would change, 1 is already off; the confirmation names 2 and warns; nothing is made."""
    session = served.session(Role.OPERATOR)
    ids = [three[0]["id"], three[1]["id"]]
    answer = await post(served, "/power/preview", [("action", "off"), *(("node", str(i)) for i in ids),
                                                   ("filter.cluster", "rack-1")], session)
    assert answer.status == 200
    preview = answer.html.one("section", id="preview")
    assert counts(answer.html) == {"nodes": 2, "change": 1, "unchanged": 1}
    assert preview.one("h1").text() == "Power off 2 nodes?" and preview.one("p", id="preview-names").text() == (
        "n-on, n-off")
    assert "1 node is not off and would be switched off" in preview.text()
    assert "1 is already off (as last read) and would be left as it is" in preview.text()
    assert "destructive" in preview.one("p", id="preview-warning").text()
    form = preview.one("form", action="/power")
    assert form.one("button", type="submit").text() == "Power off 2 nodes"
    assert sorted(int(i.attrs["value"]) for i in form.all("input", name="node")) == ids
    assert form.one("input", name="action").attrs["value"] == "off"
    assert form.one("input", name="csrf_token").attrs["value"] == session.csrf
    assert not form.all("input", name="all_matching")
    assert form.one("label", **{"for": "reason"}) and form.one("input", id="reason")
    assert preview.one("a", class_="button").attrs["href"] == "/nodes?cluster=rack-1"
    assert nothing_asked(served)


@pytest_twisted.ensureDeferred
async def test_the_preview_counts_every_node_a_filter_matches(served, three):
    """'All matching' with the filter's hidden fields counts every node it matches, on every page, and carries it."""
    session = served.session(Role.OPERATOR)
    answer = await post(served, "/power/preview", {"action": "on", "all_matching": "1", "filter.cluster": "rack-1",
                                                   "node": str(three[3]["id"])}, session)
    assert answer.status == 200 and counts(answer.html) == {"nodes": 3, "change": 2, "unchanged": 1}
    preview = answer.html.one("section", id="preview")
    assert "Every node matching this filter" in preview.text() and "cluster rack-1" in preview.text()
    assert preview.one("p", id="preview-names").text() == "n-on, n-off, n-new"
    form = preview.one("form", action="/power")
    assert form.one("button", type="submit").text() == "Power on 3 nodes"
    assert form.one("input", name="all_matching").attrs["value"] == "1"
    assert form.one("input", name="filter.cluster").attrs["value"] == "rack-1"
    assert form.one("input", name="expected").attrs["value"] == "3"
    assert not form.all("input", name="node") and not preview.all("p", id="preview-warning")
    cycle = await post(served, "/power/preview", {"action": "cycle", "all_matching": "1"}, session)
    assert counts(cycle.html) == {"nodes": 4, "change": 4, "unchanged": 0}
    assert cycle.html.one("button", type="submit", id="confirm").text() == "Power-cycle 4 nodes"
    query = await post(served, "/power/preview", {"action": "query", "node": str(three[0]["id"])}, session)
    assert counts(query.html) == {"nodes": 1, "change": 0, "unchanged": 1}
    assert query.html.one("button", id="confirm").text() == "Read the power of 1 node"
    assert nothing_asked(served)


@pytest_twisted.ensureDeferred
async def test_the_preview_names_the_first_nodes_and_counts_the_rest(served, three, monkeypatch):
    """Past the first few names, the preview says how many more nodes there are."""
    monkeypatch.setattr("pserv.region.ui.bulk.NAMED", 2)
    answer = await post(served, "/power/preview", {"action": "query", "all_matching": "1"},
                        served.session(Role.OPERATOR))
    assert answer.html.one("p", id="preview-names").text() == "n-on, n-off and 2 more"


@pytest_twisted.ensureDeferred
async def test_nothing_selected_says_so_with_a_link_back(served, three):
    """No node ticked and not 'all matching': a 400 page saying nothing was asked, linking back to the same filter."""
    answer = await post(served, "/power/preview", {"action": "off", "filter.q": "n-"}, served.session(Role.OPERATOR))
    assert answer.status == 400
    preview = answer.html.one("section", id="preview")
    assert "no node is selected" in preview.one("p", id="error-node").text()
    assert preview.one("a", class_="button").attrs["href"] == "/nodes?q=n-"
    assert not preview.all("form")
    assert nothing_asked(served)


@pytest_twisted.ensureDeferred
async def test_confirming_makes_one_batch_and_goes_to_its_progress(served, three):
    """The confirmed form asks once for its nodes, with the reason, as one batch, and answers 303 to its page."""
    session = served.session(Role.OPERATOR)
    ids = [str(three[0]["id"]), str(three[2]["id"])]
    answer = await post(served, "/power", [("action", "off"), ("reason", "  rack 7 rewiring "),
                                           *(("node", i) for i in ids)], session)
    assert rows(served, schema.power_batches) == 1
    [batch_id] = served.database.run_now(lambda c: c.execute(select(schema.power_batches.c.id)).scalars().all())
    assert (answer.status, answer.header("location")) == (303, f"/batches/{batch_id}")
    batch = served.database.run_now(get_batch, batch_id)
    assert (batch["action"], batch["requested_by"], batch["reason"], batch["size"]) == (
        "off", "operator-user", "rack 7 rewiring", 2)
    assert rows(served, schema.power_actions) == 2


@pytest_twisted.ensureDeferred
async def test_a_bulk_cycle_may_set_a_boot_device(served, three):
    """A cycle's confirmation offers a boot device (an off's none); confirmed with pxe, each node's action carries it."""
    session = served.session(Role.OPERATOR)
    ids = [str(three[0]["id"]), str(three[1]["id"])]
    cycle = await post(served, "/power/preview", [("action", "cycle"), *(("node", i) for i in ids)], session)
    assert cycle.html.one("select", name="boot_device")
    off = await post(served, "/power/preview", [("action", "off"), *(("node", i) for i in ids)], session)
    assert off.html.all("select", name="boot_device") == []
    answer = await post(served, "/power", [("action", "cycle"), ("boot_device", "pxe"), *(("node", i) for i in ids)],
                        session)
    assert answer.status == 303
    table = schema.power_actions
    booted = served.database.run_now(lambda c: c.execute(select(table.c.boot_device)).scalars().all())
    assert booted == ["pxe", "pxe"]


@pytest_twisted.ensureDeferred
async def test_a_bulk_request_may_be_scheduled_and_a_bad_time_is_shown_next_to_its_field(served, three):
    """The confirmation takes a not-before time: each action carries it; a time that is none is a 400 preview at the field, nothing asked."""
    session = served.session(Role.OPERATOR)
    ids = [str(three[0]["id"]), str(three[1]["id"])]
    bad = await post(served, "/power", [("action", "off"), ("not_before", "tomorrow"), *(("node", i) for i in ids)],
                     session)
    assert bad.status == 400 and nothing_asked(served)
    field = bad.html.one("input", id="not_before")
    assert field.attrs["aria-invalid"] == "true" and field.attrs["value"] == "tomorrow"
    later = datetime.fromtimestamp(served.clock.seconds() + 3600, timezone.utc)
    answer = await post(served, "/power", [("action", "off"), ("not_before", later.isoformat()),
                                           *(("node", i) for i in ids)], session)
    assert answer.status == 303
    table = schema.power_actions
    held = served.database.run_now(lambda c: c.execute(select(table.c.not_before)).scalars().all())
    assert held == [later.replace(tzinfo=None)] * 2


@pytest_twisted.ensureDeferred
async def test_confirming_a_filter_asks_for_every_node_it_matches(served, three):
    """'All matching' confirmed with the count it showed asks for every node the filter matches."""
    answer = await post(served, "/power", {"action": "on", "all_matching": "1", "filter.cluster": "rack-1",
                                           "expected": "3"}, served.session(Role.OPERATOR))
    assert answer.status == 303 and rows(served, schema.power_actions) == 3


@pytest_twisted.ensureDeferred
async def test_a_filter_that_matches_more_by_now_asks_nothing(served, three):
    """If the filter matches another count of nodes than the preview showed, the preview comes back (409) with it."""
    answer = await post(served, "/power", {"action": "off", "all_matching": "1", "filter.cluster": "rack-1",
                                           "expected": "2", "reason": "rack move"}, served.session(Role.OPERATOR))
    assert answer.status == 409 and nothing_asked(served)
    preview = answer.html.one("section", id="preview")
    assert "now matches 3 nodes, not 2" in preview.one("p", role="alert").text()
    assert preview.one("input", name="expected").attrs["value"] == "3"
    assert preview.one("input", id="reason").attrs["value"] == "rack move"


@pytest.mark.parametrize("reason", ["x" * 501, "two\nlines"])
@pytest_twisted.ensureDeferred
async def test_a_bad_reason_is_shown_next_to_its_field(served, three, reason):
    """A reason the store refuses is a 400 preview with the error at the reason field; nothing is asked."""
    answer = await post(served, "/power", {"action": "off", "node": str(three[0]["id"]), "reason": reason},
                        served.session(Role.OPERATOR))
    assert answer.status == 400 and nothing_asked(served)
    field = answer.html.one("input", id="reason")
    assert field.attrs["aria-invalid"] == "true" and "error-reason" in field.attrs["aria-describedby"]
    assert answer.html.one("p", id="error-reason").text().startswith("reason:")
    assert answer.html.one("button", id="confirm").text() == "Power off 1 node"


@pytest_twisted.ensureDeferred
async def test_a_bad_action_or_node_is_a_400_naming_it(served, three):
    """An unknown action, or a node id that is none, is refused naming the field; a missing node is a 404."""
    session = served.session(Role.OPERATOR)
    for path in ("/power/preview", "/power"):
        action = await post(served, path, {"action": "explode", "node": str(three[0]["id"])}, session)
        assert action.status == 400 and action.html.one("p", role="alert").text().startswith("action:")
        node = await post(served, path, {"action": "on", "node": "n-on"}, session)
        assert node.status == 400 and node.html.one("p", role="alert").text().startswith("node:")
        missing = await post(served, path, {"action": "on", "node": "999999"}, session)
        assert missing.status == 404
    assert nothing_asked(served)


@pytest.mark.parametrize("path", ["/power/preview", "/power"])
@pytest_twisted.ensureDeferred
async def test_a_viewer_or_a_forged_form_is_refused(served, three, path):
    """A viewer gets 403 naming the operator role; an operator's form without the CSRF token gets 403; nothing asked."""
    fields = {"action": "off", "node": str(three[0]["id"])}
    viewer = await post(served, path, fields, served.session(Role.VIEWER))
    assert viewer.status == 403 and "needs the operator role" in viewer.html.one("main").text()
    forged = await post(served, path, fields, served.session(Role.OPERATOR), csrf=False)
    assert forged.status == 403 and "CSRF" in forged.html.one("main").text()
    nobody = await post(served, path, fields)
    assert (nobody.status, nobody.header("location")) == (303, "/login")
    assert nothing_asked(served)


@pytest_twisted.ensureDeferred
async def test_the_progress_page_counts_the_batch(served, three):
    """The batch's page shows its action, who, why, when, size, each count, and its actions with their nodes."""
    now = served.api.now()
    batch_id, made, _ = served.database.run_now(request_bulk, None, {"cluster": "rack-1"}, "off", "alice", now,
                                             reason="rack move")
    set_status(served, made[0]["id"], "done", power_state="off", finished_at=now)
    set_status(served, made[1]["id"], "failed", error="BMC unreachable", finished_at=now)
    answer = await get(served, f"/batches/{batch_id}", served.session(Role.VIEWER))
    assert answer.status == 200
    progress = answer.html.one("section", id="progress")
    assert progress.attrs["data-batch"] == str(batch_id) and progress.attrs["data-finished"] == "false"
    shown = {o.attrs["data-count"]: int(o.text()) for o in progress.all("output")}
    assert shown == {"pending": 1, "running": 0, "done": 1, "failed": 1, "superseded": 0, "cancelled": 0,
                     "timed_out": 0}
    assert progress.one("progress").attrs["value"] == "2" and progress.one("progress").attrs["max"] == "3"
    facts = progress.one("dl").text()
    assert "alice" in facts and "rack move" in facts and "UTC" in facts
    assert answer.html.one("h1").text() == f"Batch {batch_id}: power off 3 nodes"
    listed = answer.html.one("section", id="actions").all("tr", data_action=True)
    assert [(r.attrs["data-action"], r.attrs["data-status"]) for r in listed] == [
        (str(made[0]["id"]), "done"), (str(made[1]["id"]), "failed"), (str(made[2]["id"]), "pending")]
    assert listed[0].one("a").attrs["href"] == "/nodes/n-on" and "BMC unreachable" in listed[1].text()
    assert answer.html.one("a", id="refresh").attrs["href"] == f"/batches/{batch_id}"
    main = answer.html.one("main")
    assert main.attrs["data-live"] == "batch" and main.attrs["data-refresh"] == f"/batches/{batch_id}/actions"
    assert answer.html.one("span", id="live").attrs["data-state"] == "off"
    assert not answer.html.all("form", method="post") or all(
        f.attrs["action"] == "/logout" for f in answer.html.all("form", method="post"))


@pytest_twisted.ensureDeferred
async def test_superseded_and_joined_actions_are_said_as_what_they_are(served, three):
    """A superseded action and one the request joined are shown as such, not as errors; a finished batch says so."""
    now = served.api.now()
    outstanding, _ = served.database.run_now(request_power, "n-off", "on", "bob", now)
    served.clock.advance(5)
    batch_id, made, _ = served.database.run_now(request_bulk, ["n-on", "n-off"], None, "on", "alice", served.api.now())
    served.database.run_now(request_power, "n-on", "off", "carol", served.api.now())
    session = served.session(Role.VIEWER)
    page = (await get(served, f"/batches/{batch_id}", session)).html
    superseded = page.one("tr", data_action=str(made[0]["id"]))
    joined = page.one("tr", data_action=str(outstanding["id"]))
    assert superseded.attrs["data-status"] == "superseded" and "a newer request took its place" in superseded.text()
    assert not superseded.all(class_="error-text")
    assert "data-coalesced" in joined.attrs and "already in play (asked by bob" in joined.text()
    assert not joined.all(class_="error-text")
    set_status(served, outstanding["id"], "cancelled")
    finished = (await get(served, f"/batches/{batch_id}", session)).html
    assert finished.one("section", id="progress").attrs["data-finished"] == "true"
    assert finished.one("p", id="batch-state").text() == "Every action has ended: 2 of 2."


@pytest_twisted.ensureDeferred
async def test_the_actions_fragment_is_the_pages_list(served, three):
    """GET /batches/<id>/actions is just the page's list of actions; an unknown batch is a 404 page."""
    batch_id, _, _ = served.database.run_now(request_bulk, ["n-on"], None, "on", "alice", served.api.now())
    session = served.session(Role.VIEWER)
    page = (await get(served, f"/batches/{batch_id}", session)).html
    answer = await get(served, f"/batches/{batch_id}/actions", session)
    assert answer.status == 200 and answer.header("content-type") == "text/html; charset=utf-8"
    fragment = parse(answer.text)
    assert fragment.one("section", id="actions") == page.one("section", id="actions")
    assert not fragment.all("main") and not fragment.all("section", id="progress")
    assert (await get(served, "/batches/999", session)).status == 404
    assert (await get(served, "/batches/999/actions", session)).status == 404


def test_a_selection_is_read_from_the_form_and_carried_on():
    """Ticked ids (sorted, once each) or 'all matching' with the filter; either way carried in hidden fields."""
    ticked = selection({"node": ["3", " 1", "3", ""], "filter.cluster": ["rack-1"], "filter.q": [""]})
    assert ticked == Selection([1, 3], False, {"cluster": "rack-1"})
    assert ticked.named == ([1, 3], None) and ticked.body("off") == {"action": "off", "nodes": [1, 3]}
    assert ticked.fields() == [("filter.cluster", "rack-1"), ("node", "1"), ("node", "3")]
    every = selection({"all_matching": ["1"], "node": ["2"], "filter.power_state": ["on"]})
    assert every.named == (None, {"power_state": "on"}) and every.body("on") == {
        "action": "on", "filter": {"power_state": "on"}}
    assert every.fields() == [("filter.power_state", "on"), ("all_matching", "1")]
    assert every.back == "/nodes?power_state=on" and selection({}).empty
    for bad in (["n-1"], ["-1"], ["1"] * 501):
        with pytest.raises(Invalid):
            selection({"node": bad})


def test_an_action_on_nodes_is_said_in_words():
    """Each action is said with its count, as its button says it or within a sentence."""
    assert [said(kind, 2) for kind in ("on", "off", "cycle", "soft_off", "query")] == [
        "Power on 2 nodes", "Power off 2 nodes", "Power-cycle 2 nodes", "Shut down 2 nodes",
        "Read the power of 2 nodes"]
    assert said("off", 1, False) == "power off 1 node"


@pytest_twisted.ensureDeferred
async def test_the_preview_counts_the_locked_nodes_and_the_batch_leaves_them_alone(served, three):
    """A locked node is counted as locked (in neither change nor unchanged), said, and left out of the batch."""
    from pserv.region.store.locks import lock_node

    served.database.run_now(lock_node, "n-on", "alice", "firmware update", served.api.now())
    session = served.session(Role.OPERATOR)
    fields = {"action": "off", "all_matching": "1", "filter.cluster": "rack-1"}
    answer = await post(served, "/power/preview", fields, session)
    assert counts(answer.html) == {"nodes": 3, "change": 1, "unchanged": 1, "locked": 1}
    assert "1 node is locked" in answer.html.one("p", id="preview-locked").text()
    done = await post(served, "/power", {**fields, "expected": "3"}, session)
    assert done.status == 303
    assert sorted(a["node_id"] for a in rows_of_actions(served)) == sorted([three[1]["id"], three[2]["id"]])


@pytest_twisted.ensureDeferred
async def test_a_bulk_off_of_locked_nodes_only_is_a_409_preview(served, three):
    """When every node chosen is locked, nothing is asked: the preview again, 409, saying so."""
    from pserv.region.store.locks import lock_node

    served.database.run_now(lock_node, "n-on", "alice", "firmware update", served.api.now())
    session = served.session(Role.OPERATOR)
    answer = await post(served, "/power", {"action": "cycle", "node": str(three[0]["id"])}, session)
    assert answer.status == 409 and "locked by alice" in answer.html.one("p", id="error-action").text()
    assert nothing_asked(served)


def rows_of_actions(served):
    table = schema.power_actions
    return [dict(row._mapping) for row in served.database.run_now(lambda c: c.execute(select(table)).all())]
