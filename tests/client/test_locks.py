"""
Tests for pserv.client.locks: ``pserv lock NODE --reason TEXT`` and ``pserv unlock NODE``.
"""

import json

import pytest
import pytest_twisted

from pserv.scripts.pserv import build_client_parser as build_parser

from pserv.testing.region_stub import node
from tests.client.conftest import run


@pytest_twisted.ensureDeferred
async def test_lock_posts_the_reason_and_says_who(api, stub, capsys):
    """pserv lock posts {"reason"} to the node's lock and prints who locked it and why; exit 0."""
    stub.on("POST", "/api/v1/nodes/n1/lock", 200, node(locked=True, locked_by="ops", lock_reason="firmware",
                                                         locked_at="2026-11-22T12:00:00.000Z"))
    assert await run(["lock", "n1", "--reason", "firmware"], api) == 0
    assert [(r.method, r.path, r.body) for r in stub.requests] == [("POST", "/api/v1/nodes/n1/lock",
                                                                    {"reason": "firmware"})]
    assert capsys.readouterr().out == "n1: locked by ops: firmware\n"


def test_lock_needs_a_reason(capsys):
    """pserv lock without --reason is a usage error: exit 2, one line naming --reason."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["lock", "n1"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--reason" in err and len(err.strip().splitlines()) == 1


@pytest_twisted.ensureDeferred
async def test_a_refused_lock_exits_2_with_the_regions_reason(api, stub, capsys):
    """The region's 409 (already locked) exits 2 with its error on one line."""
    stub.on("POST", "/api/v1/nodes/n1/lock", 409, {"error": "node n1 is already locked by ops: firmware",
                                                    "field": "node"})
    assert await run(["lock", "n1", "--reason", "again"], api) == 2
    err = capsys.readouterr().err
    assert "already locked by ops" in err and len(err.strip().splitlines()) == 1


@pytest_twisted.ensureDeferred
async def test_unlock_posts_and_says_so(api, stub, capsys):
    """pserv unlock posts to the node's unlock and prints that it is unlocked; --json prints the node."""
    stub.on("POST", "/api/v1/nodes/n1/unlock", 200, node())
    assert await run(["unlock", "n1"], api) == 0
    assert capsys.readouterr().out == "n1: unlocked\n"
    assert await run(["unlock", "n1", "--json"], api) == 0
    assert json.loads(capsys.readouterr().out)["locked"] is False
