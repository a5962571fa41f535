"""
Tests for pserv.client.power: ``pserv power ACTION NODE... [--wait]``.
"""

import json

import pytest_twisted

from pserv.client.power import preview_line
from pserv.testing.region_stub import action, page
from tests.client.conftest import run, start


@pytest_twisted.ensureDeferred
async def test_one_node_posts_to_its_power(api, stub, capsys):
    """One node: POST /nodes/{node}/power, soft-off sent as soft_off; 202 prints the action, exit 0."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10, kind="soft_off"))
    assert await run(["power", "soft-off", "n1"], api) == 0
    assert [(r.method, r.path, r.body) for r in stub.requests] == [
        ("POST", "/api/v1/nodes/n1/power", {"action": "soft_off"})]
    out, err = capsys.readouterr()
    assert out.splitlines()[1].split() == ["10", "1", "soft_off", "pending", "-", "-"] and err == ""


@pytest_twisted.ensureDeferred
async def test_soft_off_may_escalate(api, stub, capsys):
    """--escalate-after goes with a soft-off, to one node or in bulk, as escalate_after in seconds."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10, kind="soft_off", escalate_after=60.0))
    stub.on("POST", "/api/v1/power", 202,
            {"batch": 7, "actions": [action(11, 1, kind="soft_off"), action(12, 2, kind="soft_off")], "locked": []})
    assert await run(["power", "soft-off", "n1", "--escalate-after", "60"], api) == 0
    assert await run(["power", "soft-off", "n1", "n2", "--escalate-after", "2.5"], api) == 0
    assert [r.body for r in stub.requests] == [
        {"action": "soft_off", "escalate_after": 60.0},
        {"action": "soft_off", "escalate_after": 2.5, "nodes": ["n1", "n2"]}]


@pytest_twisted.ensureDeferred
async def test_escalate_after_only_with_soft_off(api, stub, capsys):
    """--escalate-after with another action is a usage error, and nothing is requested."""
    assert await run(["power", "off", "n1", "--escalate-after", "5"], api) == 2
    assert stub.requests == [] and "--escalate-after: only with soft-off" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_on_or_cycle_may_name_a_boot_device(api, stub, capsys):
    """--boot-device (and --persistent) go with an on or a cycle, to one node or in bulk, as boot_device and boot_persistent."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10, kind="cycle"))
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(11, 1), action(12, 2)], "locked": []})
    assert await run(["power", "cycle", "n1", "--boot-device", "pxe"], api) == 0
    assert await run(["power", "on", "n1", "n2", "--boot-device", "disk", "--persistent"], api) == 0
    assert [r.body for r in stub.requests] == [
        {"action": "cycle", "boot_device": "pxe", "boot_persistent": False},
        {"action": "on", "boot_device": "disk", "boot_persistent": True, "nodes": ["n1", "n2"]}]


@pytest_twisted.ensureDeferred
async def test_a_boot_device_only_with_on_or_cycle(api, stub, capsys):
    """--boot-device with off, or --persistent without --boot-device: exit 2, one line, nothing asked."""
    assert await run(["power", "off", "n1", "--boot-device", "pxe"], api) == 2
    assert "--boot-device: only with on or cycle" in capsys.readouterr().err
    assert await run(["power", "on", "n1", "--persistent"], api) == 2
    assert "--persistent: only with --boot-device" in capsys.readouterr().err
    assert stub.requests == []


@pytest_twisted.ensureDeferred
async def test_a_power_type_that_cannot_set_a_boot_device_is_one_line_exit_2(api, stub, capsys):
    """The region's 409 for a boot device the node's power type cannot set is one line and exit 2."""
    stub.on("POST", "/api/v1/nodes/n1/power", 409,
            {"error": "boot_device: power type wol cannot set a boot device (node n1)", "field": "boot_device"})
    assert await run(["power", "on", "n1", "--boot-device", "pxe"], api) == 2
    assert capsys.readouterr().err == "pserv: error: boot_device: power type wol cannot set a boot device (node n1)\n"


@pytest_twisted.ensureDeferred
async def test_several_nodes_are_one_bulk_request(api, stub, capsys):
    """Several nodes: one POST /api/v1/power naming each once; --json prints {"batch", "actions"}."""
    result = {"batch": 7, "actions": [action(10, 1), action(11, 2)], "locked": []}
    stub.on("POST", "/api/v1/power", 202, result)
    assert await run(["power", "on", "n1", "n2", "n1", "--json"], api) == 0
    assert [r.body for r in stub.requests] == [{"action": "on", "nodes": ["n1", "n2"]}]
    assert json.loads(capsys.readouterr().out) == result


@pytest_twisted.ensureDeferred
async def test_a_duplicate_is_the_outstanding_action(api, stub, capsys):
    """A 200 (duplicate) says no new action was made and shows the outstanding one; exit 0."""
    stub.on("POST", "/api/v1/nodes/n1/power", 200, action(9, status="sent"))
    assert await run(["power", "on", "n1", "--json"], api) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["id"] == 9
    assert err == "pserv: n1: same as outstanding action 9 (sent); no new action\n"


@pytest_twisted.ensureDeferred
async def test_a_deleting_node_is_a_409_exit_2(api, stub, capsys):
    """The region's 409 is one line and exit 2."""
    stub.on("POST", "/api/v1/nodes/n1/power", 409, {"error": "the node is being deleted"})
    assert await run(["power", "cycle", "n1"], api) == 2
    assert capsys.readouterr().err == "pserv: error: the node is being deleted\n"


@pytest_twisted.ensureDeferred
async def test_timeout_needs_wait(api, stub, capsys):
    """--timeout without --wait is a usage error, and nothing is requested."""
    assert await run(["power", "on", "n1", "--timeout", "5"], api) == 2
    assert stub.requests == [] and "--timeout: only with --wait" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_wait_over_the_network(api, stub, capsys):
    """--wait against the loopback region polls GET /actions?ids= on the reactor until done; exit 0."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10))
    stub.on("GET", "/api/v1/actions", 200, page([action(10, status="done")]))
    assert await run(["power", "on", "n1", "--wait"], api) == 0
    assert [(r.path, r.query) for r in stub.seen("GET")] == [("/api/v1/actions", {"ids": "10"})]
    assert capsys.readouterr().err == "pserv: 0/1 done\npserv: 1/1 done\n"


def test_wait_until_done_exits_0(memory_api, stub, clock, capsys):
    """--wait polls on the clock, one request a round for the actions still outstanding, until all are done; exit 0."""
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(10, 1), action(11, 2)], "locked": []})
    stub.on("GET", "/api/v1/actions", 200, page([action(10, 1, status="running"), action(11, 2, status="done")]))
    stub.on("GET", "/api/v1/actions", 200, page([action(10, 1, status="done")]))
    d = start(["power", "on", "n1", "n2", "--wait"], memory_api, clock)
    clock.advance(0.5)
    assert not d.called
    clock.advance(0.75)
    assert d.result == 0
    assert [r.query for r in stub.seen("GET")] == [{"ids": "10,11"}, {"ids": "10"}]
    out, err = capsys.readouterr()
    assert err.splitlines() == ["pserv: 0/2 done", "pserv: 1/2 done", "pserv: 2/2 done"]
    assert [line.split()[3] for line in out.splitlines()[1:]] == ["done", "done"]


def test_wait_with_a_failure_exits_1(memory_api, stub, clock, capsys):
    """--wait: one failed action makes the exit status 1, and the progress says so."""
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(10, 1), action(11, 2)], "locked": []})
    stub.on("GET", "/api/v1/actions", 200, page([action(10, 1, status="done"), action(11, 2, status="failed")]))
    d = start(["power", "on", "n1", "n2", "--wait"], memory_api, clock)
    clock.advance(0.5)
    assert d.result == 1
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == "pserv: 1/2 done, 1 failed" and "BMC timed out" in out


def test_wait_json_is_the_batch_and_its_final_actions(memory_api, stub, clock, capsys):
    """--wait --json on several nodes prints the batch and the actions as they ended."""
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(10, 1), action(11, 2)], "locked": []})
    stub.on("GET", "/api/v1/actions", 200, page([action(10, 1, status="done"), action(11, 2, status="done")]))
    d = start(["power", "on", "n1", "n2", "--wait", "--json"], memory_api, clock)
    clock.advance(0.5)
    assert d.result == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["batch"] == 7 and [a["status"] for a in shown["actions"]] == ["done", "done"]


def test_wait_timeout_exits_1(memory_api, stub, clock, capsys):
    """--wait --timeout: still running when time is up is exit 1, naming the outstanding action."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10))
    stub.on("GET", "/api/v1/actions", 200, page([action(10, status="running")]))
    d = start(["power", "on", "n1", "--wait", "--timeout", "3"], memory_api, clock)
    clock.pump([0.5, 0.75, 1.125, 0.625])
    assert d.result == 1
    assert len(stub.seen("GET")) == 4 and clock.getDelayedCalls() == []
    assert capsys.readouterr().err.splitlines() == [
        "pserv: 0/1 done", "pserv: timed out after 3 s; still outstanding: action 10"]


def test_wait_names_an_action_the_region_timed_out(memory_api, stub, clock, capsys):
    """--wait goes on waiting for a timed_out action, counts it in the progress, and says its cluster may still act."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10))
    stub.on("GET", "/api/v1/actions", 200, page([action(10, status="timed_out")]))
    d = start(["power", "on", "n1", "--wait", "--timeout", "3"], memory_api, clock)
    clock.pump([0.5, 0.75, 1.125, 0.625])
    assert d.result == 1 and len(stub.seen("GET")) == 4
    assert capsys.readouterr().err.splitlines() == [
        "pserv: 0/1 done", "pserv: 0/1 done, 1 timed_out",
        "pserv: timed out after 3 s; still outstanding: action 10",
        "pserv: action 10 timed out at the region: its cluster may still carry it out, "
        "and pserv actions show 10 then shows how it ended"]


@pytest_twisted.ensureDeferred
async def test_a_reason_goes_with_the_request(api, stub, capsys):
    """--reason is sent as reason, to one node or in bulk."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10, reason="rack move"))
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(11, 1), action(12, 2)], "locked": []})
    assert await run(["power", "on", "n1", "--reason", "rack move"], api) == 0
    assert await run(["power", "off", "n1", "n2", "--reason", "maintenance window"], api) == 0
    assert [r.body for r in stub.requests] == [
        {"action": "on", "reason": "rack move"},
        {"action": "off", "reason": "maintenance window", "nodes": ["n1", "n2"]}]


@pytest_twisted.ensureDeferred
async def test_a_bad_reason_is_the_regions_400_exit_2(api, stub, capsys):
    """A reason the region refuses is its 400, one line naming reason, exit 2."""
    stub.on("POST", "/api/v1/nodes/n1/power", 400,
            {"error": "reason: must be 1 to 500 characters, one line, no control characters", "field": "reason"})
    assert await run(["power", "on", "n1", "--reason", "x" * 501], api) == 2
    assert capsys.readouterr().err == (
        "pserv: error: reason: must be 1 to 500 characters, one line, no control characters\n")


@pytest_twisted.ensureDeferred
async def test_a_dry_run_prints_the_counts_and_asks_nothing(api, stub, capsys):
    """--dry-run sends the bulk request's dry run (for one node too) and prints its counts; --json the answer."""
    preview = {"dry_run": True, "action": "off", "nodes": 3, "change": 2, "unchanged": 1, "locked": 0}
    stub.on("POST", "/api/v1/power", 200, preview)
    assert await run(["power", "off", "n1", "n2", "n3", "--dry-run", "--reason", "why"], api) == 0
    assert capsys.readouterr().out == "dry run: off of 3 nodes: 2 would change, 1 already off\n"
    assert await run(["power", "off", "n1", "--dry-run", "--json"], api) == 0
    assert json.loads(capsys.readouterr().out) == preview
    assert [r.body for r in stub.requests] == [
        {"action": "off", "reason": "why", "nodes": ["n1", "n2", "n3"], "dry_run": True},
        {"action": "off", "nodes": ["n1"], "dry_run": True}]


def test_preview_lines():
    """A cycle's and a query's counts say unchanged; on, off and soft_off say already in their state."""
    def line(action, nodes, change):
        return preview_line({"dry_run": True, "action": action, "nodes": nodes, "change": change,
                             "unchanged": nodes - change})
    assert line("cycle", 2, 2) == "dry run: cycle of 2 nodes: 2 would change, 0 unchanged"
    assert line("query", 1, 0) == "dry run: query of 1 node: 0 would change, 1 unchanged"
    assert line("soft_off", 4, 1) == "dry run: soft_off of 4 nodes: 1 would change, 3 already off"
    assert line("on", 4, 4) == "dry run: on of 4 nodes: 4 would change, 0 already on"
    locked = {"dry_run": True, "action": "off", "nodes": 3, "change": 1, "unchanged": 1, "locked": 1}
    assert preview_line(locked) == "dry run: off of 3 nodes: 1 would change, 1 already off, 1 locked (left alone)"


@pytest_twisted.ensureDeferred
async def test_dry_run_is_not_for_wait(api, stub, capsys):
    """--dry-run with --wait is a usage error, and nothing is requested."""
    assert await run(["power", "on", "n1", "n2", "--dry-run", "--wait"], api) == 2
    assert stub.requests == [] and "--dry-run: not with --wait" in capsys.readouterr().err


@pytest_twisted.ensureDeferred
async def test_not_before_is_sent_as_given(api, stub, capsys):
    """--not-before goes in the request's body as not_before, to one node or in bulk, as typed."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10, kind="off", not_before="2026-12-04T21:00:00.000Z"))
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(11, 1), action(12, 2)], "locked": []})
    assert await run(["power", "off", "n1", "--not-before", "2026-12-04T22:00:00+01:00"], api) == 0
    assert await run(["power", "on", "n1", "n2", "--not-before", "2026-12-04T21:00:00Z"], api) == 0
    assert [r.body for r in stub.requests] == [
        {"action": "off", "not_before": "2026-12-04T22:00:00+01:00"},
        {"action": "on", "not_before": "2026-12-04T21:00:00Z", "nodes": ["n1", "n2"]}]


@pytest_twisted.ensureDeferred
async def test_a_bad_not_before_is_a_usage_error(api, stub, capsys):
    """A --not-before that is not RFC 3339 with an offset exits 2 with one line, asking nothing."""
    assert await run(["power", "off", "n1", "--not-before", "tonight"], api) == 2
    assert await run(["power", "off", "n1", "--not-before", "2026-12-04T22:00:00"], api) == 2
    err = capsys.readouterr().err
    assert stub.requests == [] and err.count("--not-before: an RFC 3339 time") == 2 and "Traceback" not in err


@pytest_twisted.ensureDeferred
async def test_a_bulk_off_names_the_locked_nodes_left_alone(api, stub, capsys):
    """The locked nodes a bulk off left alone are named on stderr, with who and why; --json has them too."""
    locked = [{"node": 2, "name": "n2", "locked_by": "alice", "lock_reason": "firmware"}]
    stub.on("POST", "/api/v1/power", 202, {"batch": 7, "actions": [action(11, 1, kind="off")], "locked": locked})
    assert await run(["power", "off", "n1", "n2"], api) == 0
    assert "n2: locked by alice: firmware; left alone" in capsys.readouterr().err
    assert await run(["power", "off", "n1", "n2", "--json"], api) == 0
    assert json.loads(capsys.readouterr().out)["locked"] == locked
