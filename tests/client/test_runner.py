"""
Tests for pserv.client.runner: exit statuses and one-line errors in process.
"""

import pytest_twisted

from pserv.client.http import ApiClient
from pserv.client.runner import handler_for
from pserv.client.nodes import list_nodes
from tests.client.conftest import parse, run, start
from tests.client.region_stub import action


@pytest_twisted.ensureDeferred
async def test_401_says_to_log_in(region_url, stub, capsys):
    """A refused token exits 1 with one line telling the operator to run pserv login."""
    from twisted.internet import reactor

    assert await run(["nodes", "list"], ApiClient(region_url, "stale", reactor)) == 1
    assert capsys.readouterr() == ("", "pserv: error: no valid bearer token: run pserv login URL TOKEN\n")


@pytest_twisted.ensureDeferred
async def test_connection_refused_is_one_line_exit_1(capsys):
    """No region listening: one line naming the URL, exit 1."""
    from twisted.internet import reactor

    assert await run(["nodes", "list"], ApiClient("http://127.0.0.1:1", "t", reactor)) == 1
    assert capsys.readouterr() == ("", "pserv: error: cannot reach http://127.0.0.1:1: connection refused\n")


def test_an_interrupt_exits_130(memory_api, stub, clock, capsys):
    """Cancelling a running command (what SIGINT does) exits 130 with 'interrupted'."""
    stub.on("POST", "/api/v1/nodes/n1/power", 202, action(10))
    stub.on("GET", "/api/v1/actions/10", 200, action(10, status="running"))
    d = start(["power", "on", "n1", "--wait"], memory_api, clock)
    d.cancel()
    assert d.result == 130 and capsys.readouterr().err.endswith("pserv: interrupted\n")


def test_handler_for_names_the_command_function():
    """The parser's client_handler resolves to the command function."""
    assert handler_for(parse(["nodes", "list"])) is list_nodes


def test_login_token_dash_is_read_from_stdin(monkeypatch):
    """pserv login URL - reads the token from stdin, so it stays out of the shell history."""
    import io
    from argparse import Namespace

    from pserv.client.runner import _credentials

    monkeypatch.setattr("sys.stdin", io.StringIO("tok-from-stdin\n"))
    args = Namespace(login_url="https://region:5240/", login_token="-")
    assert _credentials(args).token == "tok-from-stdin" == args.login_token
    assert _credentials(args).url == "https://region:5240"
