"""
Tests for pserv.client.actions: ``pserv actions show|cancel|list``.
"""

import json

import pytest_twisted

from tests.client.conftest import run
from pserv.testing.region_stub import action, page


@pytest_twisted.ensureDeferred
async def test_show(api, stub, capsys):
    """actions show prints the action's fields; --json prints the API's object."""
    stub.on("GET", "/api/v1/actions/10", 200, action(10, status="done"))
    assert await run(["actions", "show", "10"], api) == 0
    assert await run(["actions", "show", "10", "--json"], api) == 0
    out = capsys.readouterr().out
    assert "status:           done" in out
    assert json.loads(out[out.index("{"):]) == action(10, status="done")


@pytest_twisted.ensureDeferred
async def test_cancel_in_flight_says_when_it_stops(api, stub, capsys):
    """actions cancel on an action in flight (202) says the cluster stops it at its safe point; exit 0."""
    stub.on("POST", "/api/v1/actions/10/cancel", 202, action(10, status="running", cancel_requested=True))
    assert await run(["actions", "cancel", "10"], api) == 0
    out, err = capsys.readouterr()
    assert "next safe point" in err and "cancel_requested: yes" in out


@pytest_twisted.ensureDeferred
async def test_cancel_an_ended_action_is_409_exit_2(api, stub, capsys):
    """Cancelling an action that has ended is the region's 409: one line, exit 2."""
    stub.on("POST", "/api/v1/actions/10/cancel", 409, {"error": "the action has already ended"})
    assert await run(["actions", "cancel", "10"], api) == 2
    assert capsys.readouterr().err == "pserv: error: the action has already ended\n"


@pytest_twisted.ensureDeferred
async def test_list_a_nodes_actions(api, stub, capsys):
    """actions list NODE prints the node's actions as a table."""
    stub.on("GET", "/api/v1/nodes/n1/actions", 200, page([action(11), action(10, status="done")]))
    assert await run(["actions", "list", "n1", "--limit", "2"], api) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["ID", "11", "10"]
    assert stub.requests[0].query == {"limit": "2"}
