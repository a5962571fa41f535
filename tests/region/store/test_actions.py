"""
Tests for pserv.region.store.actions, on SQLite and PostgreSQL.
"""

import pytest
from sqlalchemy import select

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid, NotFound
from pserv.region.store.actions import (
    cancel_action,
    change_node,
    enrol_node,
    expire_stuck,
    get_action,
    list_actions,
    list_node_actions,
    request_bulk,
    request_power,
)
from pserv.region.store.events import list_events
from pserv.region.store.nodes import create_node, delete_node, get_node
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE


def enrol(run, moments, name="node-1", cluster=None):
    body = {"name": name, "power_type": "fake", "power_parameters": {"address": name}, "cluster": cluster}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def test_enrolment_reads_the_power_of_a_node_with_a_cluster(run, moments):
    """A node enrolled on a cluster gets a pending query, so its cluster learns of it; intent is untouched."""
    body = {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}, "cluster": "rack-1"}
    node, reading = run(enrol_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    action = run(get_action, reading)
    assert (action["kind"], action["status"], action["node"]) == ("query", "pending", node["id"])
    assert run(get_node, node["id"])["generation"] == 0


def test_enrolment_without_a_cluster_reads_nothing(run, moments):
    """A node with no cluster has nobody to read it: no action is made."""
    body = {"name": "n", "power_type": "fake", "power_parameters": {"address": "n"}}
    assert run(enrol_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)[1] is None


def test_moving_a_node_reads_it_again_renaming_does_not(run, moments):
    """A change of cluster or power settings makes a query; a rename does not."""
    node = enrol(run, moments, cluster="rack-1")
    assert run(change_node, node["id"], {"name": "renamed"}, moments())[1] is None
    moved, reading = run(change_node, node["id"], {"cluster": "rack-2"}, moments())
    assert moved["cluster"] == "rack-2" and run(get_action, reading)["kind"] == "query"


def test_request_commits_intent(run, moments):
    """A power request sets the desired state, counts the generation up and inserts a pending action."""
    node = enrol(run, moments)
    action, created = run(request_power, "node-1", "cycle", "alice", moments())
    assert created and (action["kind"], action["status"], action["generation"]) == ("cycle", "pending", 1)
    assert action["requested_by"] == "alice" and action["node"] == node["id"]
    node = run(get_node, node["id"])
    assert (node["desired_power_state"], node["generation"]) == ("on", 1)


def test_soft_off_means_off(run, moments):
    """soft_off and off set the desired state to off."""
    enrol(run, moments)
    run(request_power, "node-1", "soft_off", "a", moments())
    assert run(get_node, "node-1")["desired_power_state"] == "off"


def test_query_changes_no_intent(run, moments):
    """A query bumps no generation and leaves the desired state alone."""
    enrol(run, moments)
    run(request_power, "node-1", "on", "a", moments())
    query, created = run(request_power, "node-1", "query", "a", moments())
    node = run(get_node, "node-1")
    assert created and query["generation"] == 1
    assert (node["desired_power_state"], node["generation"]) == ("on", 1)


def test_duplicate_returns_newest_outstanding(run, moments):
    """A duplicate of the newest outstanding action returns it, creating nothing."""
    enrol(run, moments)
    first, _ = run(request_power, "node-1", "off", "a", moments())
    again, created = run(request_power, "node-1", "off", "b", moments())
    assert (again["id"], created) == (first["id"], False)
    assert run(get_node, "node-1")["generation"] == 1


def test_conflict_supersedes_older_pending(run, moments):
    """A conflicting request supersedes the older pending power action, naming itself."""
    enrol(run, moments)
    older, _ = run(request_power, "node-1", "on", "a", moments())
    run(request_power, "node-1", "query", "a", moments())
    newer, _ = run(request_power, "node-1", "off", "a", moments())
    older = run(get_action, older["id"])
    assert (older["status"], older["superseded_by"]) == ("superseded", newer["id"])
    statuses = [a["status"] for a in run(list_node_actions, "node-1", 10, None)[0]]
    assert statuses == ["pending", "pending", "superseded"]


def test_deleting_node_refuses_power(run, moments, engine):
    """A node being deleted refuses power requests with a conflict."""
    enrol(run, moments)
    run(request_power, "node-1", "on", "a", moments())
    with engine.begin() as connection:
        connection.execute(schema.power_actions.update().values(status="running"))
    run(delete_node, "node-1", moments())
    with pytest.raises(Conflict):
        run(request_power, "node-1", "off", "a", moments())


def test_unknown_node(run, moments):
    """A request for a node that does not exist is not found."""
    with pytest.raises(NotFound):
        run(request_power, "ghost", "on", "a", moments())


def test_bulk_by_ids_and_filter(run, moments):
    """Bulk requests make one action per node, by ids or by filter."""
    for n in range(3):
        enrol(run, moments, f"n{n}", cluster="rack")
    first, by_ids, _ = run(request_bulk, ["n0", "n2"], None, "on", "a", moments())
    second, by_filter, _ = run(request_bulk, None, {"cluster": "rack"}, "off", "a", moments())
    assert len(by_ids) == 2 and len(by_filter) == 3 and second > first
    assert all(a["status"] == "pending" and a["kind"] == "off" for a in by_filter)


def test_bulk_is_all_or_nothing(run, moments, engine):
    """One unknown node in a bulk request refuses the whole request and writes nothing."""
    enrol(run, moments, "n0")
    with pytest.raises(NotFound):
        run(request_bulk, ["n0", "ghost"], None, "on", "a", moments())
    with engine.connect() as connection:
        assert connection.execute(select(schema.power_actions)).first() is None
        assert connection.execute(select(schema.power_batches)).first() is None
    with pytest.raises(NotFound) as caught:
        run(request_bulk, None, {"cluster": "nowhere"}, "on", "a", moments())
    assert caught.value.field == "filter"


def test_escalate_after_is_only_for_soft_off(run, moments):
    """A soft_off records escalate_after; any other kind given one is refused naming it, and nothing is written."""
    enrol(run, moments)
    action, _ = run(request_power, "node-1", "soft_off", "a", moments(), escalate_after=60.0)
    assert run(get_action, action["id"])["escalate_after"] == 60.0
    with pytest.raises(Invalid, match="escalate_after: only for soft_off") as refused:
        run(request_bulk, ["node-1"], None, "off", "a", moments(), escalate_after=60.0)
    assert refused.value.field == "escalate_after"
    assert [a["id"] for a in run(list_node_actions, "node-1", 10, None)[0]] == [action["id"]]


def test_cancel_pending(run, moments):
    """Cancelling a pending action ends it at once."""
    enrol(run, moments)
    action, _ = run(request_power, "node-1", "on", "a", moments())
    cancelled, done = run(cancel_action, action["id"], "b", moments())
    assert done and cancelled["status"] == "cancelled" and cancelled["finished_at"]


def test_cancel_in_flight_and_finished(run, moments, engine):
    """Cancelling an action in flight asks it to stop; cancelling a finished one conflicts."""
    enrol(run, moments)
    action, _ = run(request_power, "node-1", "on", "a", moments())
    with engine.begin() as connection:
        connection.execute(schema.power_actions.update().values(status="running"))
    asked, done = run(cancel_action, action["id"], "b", moments())
    assert not done and asked["cancel_requested"] and asked["status"] == "running"
    with engine.begin() as connection:
        connection.execute(schema.power_actions.update().values(status="done"))
    with pytest.raises(Conflict):
        run(cancel_action, action["id"], "b", moments())


def test_stuck_actions_time_out(run, moments):
    """Actions pending longer than the timeout fail with 'timed out'; newer ones stay."""
    enrol(run, moments)
    old, _ = run(request_power, "node-1", "on", "a", moments())
    fresh, _ = run(request_power, "node-1", "query", "a", moments(500))
    assert run(expire_stuck, moments(200), 600) == [old["id"]]
    old = run(get_action, old["id"])
    assert (old["status"], old["error"]) == ("failed", "timed out")
    assert run(get_action, fresh["id"])["status"] == "pending"


def test_a_sent_action_times_out_and_does_not_fail(run, moments):
    """A sent action past the timeout becomes timed_out, not failed, with its event; pending ones still fail."""
    from pserv.region.store.events import list_events
    from pserv.region.store.reports import mark_sent

    enrol(run, moments, cluster="rack-1")
    enrol(run, moments, name="node-2", cluster="rack-1")
    sent, _ = run(request_power, "node-1", "on", "a", moments())
    pending, _ = run(request_power, "node-2", "on", "a", moments())
    run(mark_sent, [sent["id"]], moments())
    assert run(expire_stuck, moments(601), 600) == [sent["id"], pending["id"]]
    shown = run(get_action, sent["id"])
    assert (shown["status"], shown["error"], shown["finished_at"]) == ("timed_out", None, None)
    assert run(get_action, pending["id"])["status"] == "failed"
    kinds = [(e["kind"], e["action"]) for e in run(list_events, None, None, 100, None)[0]]
    assert ("action_timed_out", sent["id"]) in kinds and ("action_failed", pending["id"]) in kinds
    assert run(expire_stuck, moments(601), 600) == []


def test_a_request_after_a_time_out_is_a_new_action(run, moments):
    """Asking again for what a timed-out action asked makes a new action rather than returning the old one."""
    from pserv.region.store.reports import mark_sent

    enrol(run, moments, cluster="rack-1")
    first, _ = run(request_power, "node-1", "on", "a", moments())
    run(mark_sent, [first["id"]], moments())
    run(expire_stuck, moments(601), 600)
    again, created = run(request_power, "node-1", "on", "a", moments())
    assert created and again["id"] != first["id"]
    assert run(get_action, first["id"])["status"] == "timed_out"


def test_actions_page_newest_first(run, moments):
    """A node's actions list newest first and page backwards."""
    enrol(run, moments)
    ids = [run(request_power, "node-1", kind, "a", moments())[0]["id"] for kind in ("on", "off", "on")]
    items, cursor = run(list_node_actions, "node-1", 2, None)
    assert [i["id"] for i in items] == ids[::-1][:2]
    items, cursor = run(list_node_actions, "node-1", 2, cursor)
    assert [i["id"] for i in items] == [ids[0]] and cursor is None


def test_a_reason_is_kept_and_said_in_the_event(run, moments):
    """A request's reason is on its action and ends its power_requested event; without one, both are as before."""
    enrol(run, moments)
    action, _ = run(request_power, "node-1", "on", "alice", moments(), reason="rack move")
    plain, _ = run(request_power, "node-1", "off", "bob", moments())
    assert (run(get_action, action["id"])["reason"], plain["reason"]) == ("rack move", None)
    messages = [e["message"] for e in run(list_events, "node-1", None, 10, None)[0] if e["kind"] == "power_requested"]
    assert messages == ["on requested by alice: rack move", "off requested by bob"]


def test_a_reason_never_breaks_the_event_line(run, moments):
    """Runs of spaces in a reason become one, and a blank reason adds nothing: the message keeps its one shape."""
    enrol(run, moments)
    run(request_power, "node-1", "on", "alice", moments(), reason="  rack \u3000 move  ")
    run(request_power, "node-1", "off", "bob", moments(), reason="   ")
    messages = [e["message"] for e in run(list_events, "node-1", None, 10, None)[0] if e["kind"] == "power_requested"]
    assert messages == ["on requested by alice: rack move", "off requested by bob"]


@pytest.mark.parametrize("reason", ["", "x" * 501, "two\nlines", "nul\x00", "tab\there", "nel\x85", "ls\u2028", 7])
def test_a_bad_reason_is_refused_and_writes_nothing(run, moments, engine, reason):
    """A reason empty, over 500 characters, with a control character or line separator, or not text, is refused."""
    enrol(run, moments)
    for work, args in [(request_power, ("node-1",)), (request_bulk, (["node-1"], None))]:
        with pytest.raises(Invalid) as refused:
            run(work, *args, "on", "a", moments(), reason=reason)
        assert refused.value.field == "reason"
    with engine.connect() as connection:
        assert connection.execute(select(schema.power_actions)).first() is None
        assert connection.execute(select(schema.power_batches)).first() is None


def test_a_reason_of_500_characters_is_kept(run, moments):
    """The longest reason, 500 characters of any script, is kept whole."""
    enrol(run, moments)
    action, _ = run(request_power, "node-1", "on", "a", moments(), reason="é" * 500)
    assert run(get_action, action["id"])["reason"] == "é" * 500


def test_list_actions_by_ids(run, moments):
    """Actions listed by ids come in id order, once each; ids with no action (or past the columns) are left out."""
    enrol(run, moments)
    first, _ = run(request_power, "node-1", "on", "a", moments())
    second, _ = run(request_power, "node-1", "off", "a", moments())
    listed = run(list_actions, [second["id"], 999999, first["id"], second["id"], 2**40])
    assert [a["id"] for a in listed] == [first["id"], second["id"]]
    assert listed[0] == run(get_action, first["id"]) and run(list_actions, [123456]) == []


def enrol_typed(run, moments, name, power_type, power_parameters):
    body = {"name": name, "power_type": power_type, "power_parameters": power_parameters}
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def test_a_boot_device_is_kept_and_is_part_of_the_intent(run, moments):
    """An on with a boot device keeps it; the same request coalesces, another boot device supersedes it."""
    enrol(run, moments)
    first, made = run(request_power, "node-1", "on", "a", moments(), boot_device="pxe",
                      power_types=POWER_TYPES_WITH_FAKE)
    assert made and (first["boot_device"], first["boot_persistent"]) == ("pxe", False)
    same, made_again = run(request_power, "node-1", "on", "b", moments(), boot_device="pxe",
                           power_types=POWER_TYPES_WITH_FAKE)
    assert (made_again, same["id"]) == (False, first["id"])
    other, made_other = run(request_power, "node-1", "on", "c", moments(), boot_device="pxe", boot_persistent=True,
                            power_types=POWER_TYPES_WITH_FAKE)
    assert made_other and other["boot_persistent"] is True
    assert run(get_action, first["id"])["status"] == "superseded"
    plain, made_plain = run(request_power, "node-1", "on", "d", moments())
    assert made_plain and plain["boot_device"] is None
    assert run(get_action, other["id"])["status"] == "superseded"


@pytest.mark.parametrize("kind, options, field, error", [
    ("off", {"boot_device": "pxe"}, "boot_device", "boot_device: only for on or cycle, not off"),
    ("query", {"boot_device": "pxe"}, "boot_device", "boot_device: only for on or cycle, not query"),
    ("on", {"boot_device": "floppy"}, "boot_device", "boot_device: must be one of pxe, disk, cdrom, bios"),
    ("on", {"boot_persistent": True}, "boot_persistent", "boot_persistent: only with boot_device"),
])
def test_a_bad_boot_device_is_refused_naming_it(run, moments, engine, kind, options, field, error):
    """A boot device for a kind that does not boot, an unknown one, or persistence alone is refused; nothing is written."""
    enrol(run, moments)
    with pytest.raises(Invalid) as refused:
        run(request_power, "node-1", kind, "a", moments(), power_types=POWER_TYPES_WITH_FAKE, **options)
    assert (str(refused.value), refused.value.field) == (error, field)
    with engine.connect() as connection:
        assert connection.execute(select(schema.power_actions)).all() == []


def test_a_power_type_that_cannot_set_a_boot_device_is_refused(run, moments, engine):
    """An on with a boot device for a Wake-on-LAN node, alone or in bulk, is a conflict naming boot_device; nothing is written."""
    enrol(run, moments)
    enrol_typed(run, moments, "wol-1", "wol", {"mac": "aa:bb:cc:dd:ee:ff"})
    with pytest.raises(Conflict, match="boot_device: power type wol cannot set a boot device") as refused:
        run(request_power, "wol-1", "on", "a", moments(), boot_device="pxe", power_types=POWER_TYPES_WITH_FAKE)
    assert refused.value.field == "boot_device"
    with pytest.raises(Conflict, match="power type wol cannot set a boot device"):
        run(request_bulk, ["node-1", "wol-1"], None, "cycle", "a", moments(), boot_device="pxe",
            power_types=POWER_TYPES_WITH_FAKE)
    with engine.connect() as connection:
        assert connection.execute(select(schema.power_actions)).all() == []


def test_a_bulk_request_takes_a_boot_device(run, moments):
    """A bulk cycle with a boot device gives each node's action that boot device; the same again coalesces."""
    enrol(run, moments)
    enrol(run, moments, name="node-2")
    _, made, _ = run(request_bulk, ["node-1", "node-2"], None, "cycle", "a", moments(), boot_device="cdrom",
                  boot_persistent=True, power_types=POWER_TYPES_WITH_FAKE)
    assert [(a["boot_device"], a["boot_persistent"]) for a in made] == [("cdrom", True)] * 2
    _, again, _ = run(request_bulk, ["node-1", "node-2"], None, "cycle", "b", moments(), boot_device="cdrom",
                   boot_persistent=True, power_types=POWER_TYPES_WITH_FAKE)
    assert [a["id"] for a in again] == [a["id"] for a in made]


def test_the_boot_device_is_said_in_the_request_s_event(run, moments):
    """The power_requested event of a request with a boot device names it, alone or in bulk, before the reason."""
    enrol(run, moments)
    enrol(run, moments, name="node-2")
    run(request_power, "node-1", "cycle", "alice", moments(), boot_device="pxe", reason="reinstall",
        power_types=POWER_TYPES_WITH_FAKE)
    run(request_bulk, ["node-2"], None, "on", "bob", moments(), boot_device="disk", boot_persistent=True,
        power_types=POWER_TYPES_WITH_FAKE)
    messages = [e["message"] for e in run(list_events, None, None, 100, None)[0] if e["kind"] == "power_requested"]
    assert set(messages) == {"cycle requested by alice, boot device pxe (next boot only): reinstall",
                             "on requested by bob, boot device disk (persistent)"}
