"""
Tests for pserv.client.nodes: ``pserv nodes list|show|add|update|delete``.
"""

import json

import pytest
import pytest_twisted

from pserv.client.errors import UsageError
from pserv.scripts.support import parse_settings
from tests.client.conftest import run
from pserv.testing.region_stub import node, page

SECRET = "hunter2-do-not-print"


@pytest_twisted.ensureDeferred
async def test_list_prints_a_table_of_every_page(api, stub, capsys):
    """nodes list follows next and prints one table with the filters sent as query parameters."""
    stub.on("GET", "/api/v1/nodes", 200, page([node(1, "n1")], "/api/v1/nodes?after=1"))
    stub.on("GET", "/api/v1/nodes", 200, page([node(2, "n2", power_state="off")]))
    assert await run(["nodes", "list", "--cluster", "rack-1", "--power-state", "on"], api) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["ID", "NAME", "CLUSTER"] and len(lines) == 3
    assert lines[2].split()[:5] == ["2", "n2", "rack-1", "ipmi", "off"]
    assert stub.requests[0].query == {"cluster": "rack-1", "power_state": "on"}
    assert stub.requests[1].query == {"after": "1"}


@pytest_twisted.ensureDeferred
async def test_list_json_is_the_page_shape(api, stub, capsys):
    """nodes list --json prints {"items", "next"} with the API's node objects; --json may come first."""
    stub.on("GET", "/api/v1/nodes", 200, page([node()]))
    assert await run(["--json", "nodes", "list", "--limit", "5"], api) == 0
    assert json.loads(capsys.readouterr().out) == page([node()])
    assert stub.requests[0].query == {"limit": "5"}


@pytest_twisted.ensureDeferred
async def test_show(api, stub, capsys):
    """nodes show prints the node's fields and power parameters as the region shows them."""
    stub.on("GET", "/api/v1/nodes/n1", 200, node())
    assert await run(["nodes", "show", "n1"], api) == 0
    out = capsys.readouterr().out
    assert "power_state:" in out and "  password: set" in out


@pytest_twisted.ensureDeferred
async def test_add_with_a_secret_never_prints_it(api, stub, capsys):
    """nodes add sends --set parameters (secret included) and prints the node without the secret."""
    stub.on("POST", "/api/v1/nodes", 201, node(7, "n7", cluster=None))
    argv = ["nodes", "add", "--name", "n7", "--power-type", "ipmi", "--cluster", "",
            "--set", "address=10.0.0.7", "--set", f"password={SECRET}"]
    assert await run(argv, api) == 0
    assert stub.seen("POST")[0].body == {"name": "n7", "power_type": "ipmi", "cluster": None,
                                         "power_parameters": {"address": "10.0.0.7", "password": SECRET}}
    out, err = capsys.readouterr()
    assert SECRET not in out + err and "password: set" in out


@pytest_twisted.ensureDeferred
async def test_add_json_secret_never_printed(api, stub, capsys):
    """nodes add --json prints the region's node, whose secret shows as "set"."""
    stub.on("POST", "/api/v1/nodes", 201, node(7, "n7"))
    argv = ["nodes", "add", "--json", "--name", "n7", "--power-type", "ipmi", "--set", "address=10.0.0.7",
            "--set", f"password={SECRET}"]
    assert await run(argv, api) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["power_parameters"]["password"] == "set" and SECRET not in out + err


@pytest_twisted.ensureDeferred
async def test_update_merges_power_parameters(api, stub, capsys):
    """nodes update --set/--unset changes single parameters and sends the rest back (secrets as "set")."""
    current = node(power_parameters={"address": "10.0.0.1", "password": "set", "port": 623})
    stub.on("GET", "/api/v1/nodes/n1", 200, current)
    stub.on("PATCH", "/api/v1/nodes/n1", 200, node(name="n1b"))
    argv = ["nodes", "update", "n1", "--name", "n1b", "--set", "address=10.0.0.9", "--unset", "port"]
    assert await run(argv, api) == 0
    assert stub.seen("PATCH")[0].body == {
        "name": "n1b", "power_type": "ipmi", "power_parameters": {"address": "10.0.0.9", "password": "set"}}


@pytest_twisted.ensureDeferred
async def test_update_to_a_new_power_type_starts_afresh(api, stub):
    """A new --power-type sends only the --set parameters: the old driver's do not apply."""
    stub.on("GET", "/api/v1/nodes/n1", 200, node())
    stub.on("PATCH", "/api/v1/nodes/n1", 200, node(power_type="redfish"))
    assert await run(["nodes", "update", "n1", "--power-type", "redfish", "--set", "address=bmc1"], api) == 0
    assert stub.seen("PATCH")[0].body == {"power_type": "redfish", "power_parameters": {"address": "bmc1"}}


@pytest_twisted.ensureDeferred
async def test_update_with_nothing_to_change_is_a_usage_error(api, stub, capsys):
    """nodes update without a change exits 2 with one line, sending nothing."""
    assert await run(["nodes", "update", "n1"], api) == 2
    assert capsys.readouterr().err.startswith("pserv: error: nothing to change")
    assert stub.requests == []


@pytest_twisted.ensureDeferred
async def test_delete_now_or_once_the_action_stops(api, stub, capsys):
    """nodes delete says 'deleted' on 204 and 'deleting' on 202; both exit 0."""
    stub.on("DELETE", "/api/v1/nodes/n1", 204)
    stub.on("DELETE", "/api/v1/nodes/n1", 202, node(lifecycle="deleting"))
    assert await run(["nodes", "delete", "n1"], api) == 0
    assert await run(["nodes", "delete", "n1"], api) == 0
    assert capsys.readouterr().out == "n1: deleted\nn1: deleting once the action in flight stops\n"


@pytest_twisted.ensureDeferred
async def test_a_400_with_a_field_is_one_line_exit_2(api, stub, capsys):
    """The region's 400 prints 'pserv: error: <field>: <error>' alone and exits 2."""
    stub.on("POST", "/api/v1/nodes", 400, {"error": "must be a number", "field": "power_parameters.port"})
    argv = ["nodes", "add", "--name", "n1", "--power-type", "ipmi", "--set", "port=x"]
    assert await run(argv, api) == 2
    assert capsys.readouterr() == ("", "pserv: error: power_parameters.port: must be a number\n")


@pytest_twisted.ensureDeferred
async def test_a_404_and_a_409_exit_2(api, stub, capsys):
    """No such node (404) and a name taken (409) are bad input: one line, exit 2."""
    stub.on("GET", "/api/v1/nodes/nope", 404, {"error": "no such node"})
    stub.on("POST", "/api/v1/nodes", 409, {"error": "a node with that name exists", "field": "name"})
    assert await run(["nodes", "show", "nope"], api) == 2
    assert await run(["nodes", "add", "--name", "n1", "--power-type", "ipmi", "--set", "address=10.0.0.1"], api) == 2
    assert capsys.readouterr().err.splitlines() == [
        "pserv: error: no such node", "pserv: error: name: a node with that name exists"]


@pytest_twisted.ensureDeferred
async def test_set_values_take_their_settings_types(api, stub):
    """--set values become the JSON types /api/v1/drivers gives their settings; others stay as typed."""
    stub.on("POST", "/api/v1/nodes", 201, node(7, "n7"))
    argv = ["nodes", "add", "--name", "n7", "--power-type", "ipmi", "--set", "address=10.0.0.7",
            "--set", "port=624", "--set", "password=1234", "--set", "cipher_suite=", "--set", "privilege=user"]
    assert await run(argv, api) == 0
    assert stub.seen("POST")[0].body["power_parameters"] == {
        "address": "10.0.0.7", "port": 624, "password": "1234", "cipher_suite": "", "privilege": "user"}


def test_parse_settings():
    """--set takes key=value (the value may hold '='); a bare key or a repeat is a usage error."""
    assert parse_settings(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    for bad, message in [(["a"], "--set a: expected key=value"), (["=1"], "expected key=value"),
                         (["a=1", "a=2"], "--set a: given twice")]:
        with pytest.raises(UsageError, match=message):
            parse_settings(bad)
