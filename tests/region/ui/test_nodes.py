"""
Tests for pserv.region.ui.nodes over real HTTP on loopback, on SQLite and
PostgreSQL: the nodes page for each role, ages and staleness, filters,
search, sorting, pages, and the rows fragment.
"""

import pytest
import pytest_twisted

from pserv.region.roles import Role
from pserv.region.store.actions import request_power
from pserv.region.permissions import PERMISSIONS
from pserv.region.store.events import list_events
from pserv.region.ui.nodes import BULK_ROUTE, node_ids
from pserv.region.errors import Invalid
from tests.region.ui.pages import add_node, get, observe, parse

BUTTONS = {"on", "off", "cycle", "soft_off", "query"}


def names(answer):
    return [row.one("th", data_field="name").one("a").text() for row in answer.html.all("tr", data_node=True)]


@pytest_twisted.ensureDeferred
async def test_a_viewer_sees_the_nodes_and_no_button(served):
    """A viewer gets the table, one row per node with its fields, and no checkbox, power button or add link."""
    node = add_node(served, "node-1")
    observe(served, node["id"], "on", 120)
    answer = await get(served, "/nodes", served.session(Role.VIEWER))
    assert answer.status == 200 and answer.html.one("main")
    row = answer.html.one("table", id="nodes").one("tr", data_node=str(node["id"]))
    assert row.one("td", data_field="power_state").text() == "on · 2 min ago"
    assert row.one("th", data_field="name").one("a").attrs["href"] == "/nodes/node-1"
    assert row.one("td", data_field="cluster").text() == "rack-1"
    assert not answer.html.all("input", type="checkbox") and not answer.html.all("button", name="action")
    assert not answer.html.all("a", href="/nodes/new")


@pytest_twisted.ensureDeferred
async def test_an_operator_gets_checkboxes_and_the_bulk_buttons(served):
    """An operator's rows have checkboxes in the bulk form, which has a button per action and 'all matching'."""
    node = add_node(served, "node-1")
    answer = await get(served, "/nodes", served.session(Role.OPERATOR))
    bulk = answer.html.one("form", id="bulk")
    assert (bulk.attrs["method"], bulk.attrs["action"]) == ("post", "/power/preview")
    assert {b.attrs["value"] for b in bulk.all("button", name="action")} == BUTTONS
    assert bulk.one("input", name="node").attrs["value"] == str(node["id"])
    assert bulk.one("input", name="all_matching").attrs["value"] == "1"
    assert bulk.one("input", name="csrf_token").attrs["value"]
    assert answer.html.one("a", href="/nodes/new")
    for box in answer.html.all("input", type="checkbox"):
        assert answer.html.one("label", **{"for": box.attrs["id"]})


@pytest_twisted.ensureDeferred
async def test_an_old_or_missing_observation_is_marked_stale_in_words(served):
    """Over ten minutes old, or never read, the observed state says 'stale' beside a marker; fresher does not."""
    fresh, old, never = add_node(served, "fresh"), add_node(served, "old"), add_node(served, "never")
    observe(served, fresh["id"], "on", 599)
    observe(served, old["id"], "off", 601)
    page = (await get(served, "/nodes", served.session(Role.VIEWER))).html
    cell = {n["name"]: page.one("tr", data_node=str(n["id"])).one("td", data_field="power_state").text()
            for n in (fresh, old, never)}
    assert cell == {"fresh": "on · 9 min ago", "old": "off · 10 min ago ⚠ stale",
                    "never": "unknown · never read ⚠ stale"}
    assert "data-stale" in page.one("tr", data_node=str(old["id"])).attrs


@pytest_twisted.ensureDeferred
async def test_the_action_in_play_and_the_last_error_are_shown(served):
    """A row shows its newest outstanding action's kind and status, what else is queued, and a read error."""
    node = add_node(served, "node-1")
    served.database.run_now(request_power, "node-1", "off", "alice", served.api.now())
    observe(served, node["id"], "error", 30, "BMC did not answer")
    row = (await get(served, "/nodes", served.session(Role.VIEWER))).html.one("tr", data_node=str(node["id"]))
    action = row.one("td", data_field="action")
    assert action.text() == "off · pending" and action.one("span", data_status="pending")
    assert row.one("td", data_field="error").text() == "read: BMC did not answer"


@pytest_twisted.ensureDeferred
async def test_filters_and_search_narrow_the_list(served):
    """cluster, power_type, power_state, desired_power_state and q each narrow the list; the count says so."""
    for n in range(4):
        node = add_node(served, f"node-{n}", cluster="rack-1" if n % 2 else "rack-2")
        observe(served, node["id"], "on" if n < 2 else "off", 10)
    add_node(served, "other-9", power_type="manual", cluster=None, instructions="press it")
    session = served.session(Role.VIEWER)
    assert names(await get(served, "/nodes?cluster=rack-1", session)) == ["node-1", "node-3"]
    assert names(await get(served, "/nodes?power_type=manual", session)) == ["other-9"]
    assert names(await get(served, "/nodes?power_state=off&cluster=rack-2", session)) == ["node-2"]
    assert names(await get(served, "/nodes?desired_power_state=unknown&q=NODE-3", session)) == ["node-3"]
    answer = await get(served, "/nodes?q=node", session)
    assert answer.html.one("p", id="summary").text() == "4 nodes match · page 1 of 1"
    empty = await get(served, "/nodes?cluster=nowhere", session)
    assert "No node matches this filter." in empty.html.one("main").text()


@pytest_twisted.ensureDeferred
async def test_sorting_goes_both_ways(served):
    """sort=power_state orders by it (ties by name); a '-' first reverses it; the header says which."""
    for name, state in [("b", "on"), ("a", "off"), ("c", "on")]:
        observe(served, add_node(served, name)["id"], state, 10)
    session = served.session(Role.VIEWER)
    assert names(await get(served, "/nodes", session)) == ["a", "b", "c"]
    assert names(await get(served, "/nodes?sort=-name", session)) == ["c", "b", "a"]
    answer = await get(served, "/nodes?sort=power_state", session)
    assert names(answer) == ["a", "b", "c"]
    header = answer.html.one("th", aria_sort="ascending")
    assert header.one("a", aria_current="true").attrs["href"] == "/nodes?sort=-power_state"
    assert names(await get(served, "/nodes?sort=-power_state", session)) == ["b", "c", "a"]


@pytest_twisted.ensureDeferred
async def test_observed_time_sorts_never_read_as_the_oldest(served):
    """sort=observed puts the never-read nodes first and the newest readings last; -observed the reverse."""
    observe(served, add_node(served, "new")["id"], "on", 5)
    observe(served, add_node(served, "old")["id"], "on", 500)
    add_node(served, "never")
    session = served.session(Role.VIEWER)
    assert names(await get(served, "/nodes?sort=observed", session)) == ["never", "old", "new"]
    assert names(await get(served, "/nodes?sort=-observed", session)) == ["new", "old", "never"]


@pytest_twisted.ensureDeferred
async def test_pages_of_fifty_with_links_that_keep_the_filter(served):
    """120 nodes are three pages of 50; page links keep the filter and sort; a page past the last is the last."""
    for n in range(120):
        add_node(served, f"node-{n:03d}")
    session = served.session(Role.VIEWER)
    first = await get(served, "/nodes?cluster=rack-1&sort=-name", session)
    assert len(names(first)) == 50 and names(first)[0] == "node-119"
    assert first.html.one("p", id="summary").text() == "120 nodes match · page 1 of 3"
    assert first.html.one("a", rel="next").attrs["href"] == "/nodes?cluster=rack-1&sort=-name&page=2"
    last = await get(served, "/nodes?cluster=rack-1&sort=-name&page=9", session)
    assert names(last)[-1] == "node-000" and len(names(last)) == 20
    assert "page 3 of 3" in last.html.one("p", id="summary").text()


@pytest_twisted.ensureDeferred
async def test_bad_arguments_are_a_400_page_naming_them(served):
    """An unknown sort or a page that is not a whole number is a 400 page saying which argument."""
    session = served.session(Role.VIEWER)
    for path, named in [("/nodes?sort=colour", "sort"), ("/nodes?page=0", "page"), ("/nodes?page=x", "page"),
                        ("/nodes/rows?ids=1,x", "ids"), ("/nodes/rows", "ids")]:
        answer = await get(served, path, session)
        assert answer.status == 400 and "text/html" in answer.header("content-type"), path
        assert answer.html.one("p", role="alert").text().startswith(f"{named}:"), path


@pytest_twisted.ensureDeferred
async def test_rows_are_the_same_rows_the_page_shows(served):
    """GET /nodes/rows?ids= renders exactly those nodes' rows of the page, in the order asked, skipping unknown ids."""
    one, two = add_node(served, "node-1"), add_node(served, "node-2")
    observe(served, two["id"], "on", 30)
    session = served.session(Role.OPERATOR)
    page = (await get(served, "/nodes", session)).html
    answer = await get(served, f"/nodes/rows?ids={two['id']},999,{one['id']}", session)
    assert answer.status == 200 and answer.header("content-type") == "text/html; charset=utf-8"
    rows = parse(answer.text).all("tr", data_node=True)
    assert [r.attrs["data-node"] for r in rows] == [str(two["id"]), str(one["id"])]
    for row in rows:
        assert row == page.one("tr", data_node=row.attrs["data-node"])


@pytest_twisted.ensureDeferred
async def test_the_page_is_live_from_its_newest_event(served):
    """<main> names the stream after the newest event the page shows and the rows' path; the indicator starts off."""
    add_node(served, "node-1")
    served.database.run_now(request_power, "node-1", "on", "alice", served.api.now())
    session = served.session(Role.VIEWER)
    [newest] = [e["id"] for e in served.database.run_now(list_events, None, None, 1, None, order="desc")[0]]
    page = (await get(served, "/nodes", session)).html
    main = page.one("main")
    assert (main.attrs["data-live"], main.attrs["data-last-event"], main.attrs["data-refresh"]) == (
        "nodes", str(newest), "/nodes/rows")
    assert main.attrs["data-stream"] == f"/api/v1/events/stream?after={newest}&coalesce=node"
    live = page.one("span", id="live")
    assert live.attrs["data-state"] == "off" and "hidden" in live.attrs and live.attrs["role"] == "status"
    assert "hidden" in page.one("p", id="list-changed").attrs
    assert BULK_ROUTE == ("POST", "/power") and PERMISSIONS[BULK_ROUTE] is Role.OPERATOR


def test_node_ids():
    """ids= is 1 to 500 whole numbers separated by commas."""
    assert node_ids("3, 1,2,") == [3, 1, 2]
    for bad in ["", "1,-2", "a", ",".join(["1"] * 501)]:
        with pytest.raises(Invalid):
            node_ids(bad)


@pytest_twisted.ensureDeferred
async def test_a_locked_node_is_marked_in_the_list(served):
    """A locked node's row carries a lock marker naming who and why; an unlocked one none."""
    from pserv.region.store.locks import lock_node

    locked, free = add_node(served, "node-1"), add_node(served, "node-2")
    served.database.run_now(lock_node, "node-1", "alice", "firmware update", served.api.now())
    table = (await get(served, "/nodes", served.session(Role.VIEWER))).html.one("table", id="nodes")
    marker = table.one("tr", data_node=str(locked["id"])).one("span", data_field="locked")
    assert marker.attrs["title"] == "locked by alice: firmware update"
    assert not table.one("tr", data_node=str(free["id"])).all("span", data_field="locked")
