"""
Tests for pserv.client.whoami: ``pserv whoami``.
"""

import json

import pytest_twisted

from tests.client.conftest import run


@pytest_twisted.ensureDeferred
async def test_whoami_prints_name_and_role(api, stub, capsys):
    """whoami prints the token's name, role and credential; --json prints the API's object."""
    shown = {"name": "ops", "role": "operator", "credential": "token"}
    stub.on("GET", "/api/v1/whoami", 200, shown)
    assert await run(["whoami"], api) == 0
    assert await run(["whoami", "--json"], api) == 0
    out = capsys.readouterr().out
    assert "name:       ops\nrole:       operator\ncredential: token\n" in out
    assert json.loads(out[out.index("{"):]) == shown


@pytest_twisted.ensureDeferred
async def test_whoami_with_a_revoked_token_is_exit_1(api, stub, capsys):
    """A token the region refuses is one line and exit 1, pointing at pserv login."""
    stub.on("GET", "/api/v1/whoami", 401, {"error": "the bearer token is not valid"})
    assert await run(["whoami"], api) == 1
    assert capsys.readouterr().err == "pserv: error: the bearer token is not valid: run pserv login URL TOKEN\n"
