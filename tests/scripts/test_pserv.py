"""
Tests for pserv.scripts.pserv: the parser, exit statuses and one-line
errors in process, and the command as a process on the real reactor.
"""

import os
import signal
import subprocess
import sys

import pytest
import pytest_twisted
from twisted.internet import defer, protocol
from twisted.internet.utils import getProcessOutputAndValue

from pserv.client.http import ApiClient
from pserv.client.nodes import list_nodes
from pserv.scripts.pserv import (
    add_client_commands,
    build_parser,
    handler_for,
    is_client_command,
    main,
)
from pserv.scripts.support import OneLineParser
from pserv.testing.region_stub import TOKEN, action, event, node, page
from tests.client.conftest import parse, run, start


def test_help_without_command(capsys):
    """pserv without a command prints help and exits 0."""
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out


def test_bad_node_count_is_a_usage_error(capsys):
    """pserv demo --nodes 0 exits 2 with a one-line message."""
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--nodes", "0"])
    assert caught.value.code == 2
    assert "--nodes must be at least 1" in capsys.readouterr().err


def test_negative_spare_bmcs_is_a_usage_error(capsys):
    """pserv demo --spare-bmcs -1 exits 2 with a one-line message."""
    with pytest.raises(SystemExit) as caught:
        main(["demo", "--spare-bmcs", "-1"])
    assert caught.value.code == 2
    assert "--spare-bmcs must not be negative" in capsys.readouterr().err


def test_version(capsys):
    """pserv --version prints the version."""
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("pserv ")


def test_global_options_go_before_or_after_the_command():
    """--url, --token and --json work before the command and after it."""
    before = build_parser().parse_args(["--url", "http://r", "--token", "t", "--json", "nodes", "list"])
    after = build_parser().parse_args(["nodes", "list", "--url", "http://r", "--token", "t", "--json"])
    for args in (before, after):
        assert (args.api_url, args.api_token, args.json) == ("http://r", "t", True)
    plain = build_parser().parse_args(["nodes", "list"])
    assert (plain.api_url, plain.api_token, plain.json) == (None, None, False)


@pytest.mark.parametrize("argv, message", [
    (["nodes"], "pserv nodes: error: the following arguments are required: SUBCOMMAND"),
    (["power", "reboot", "n1"], "argument ACTION: invalid choice: 'reboot'"),
    (["power", "on", "n1", "--boot-device", "floppy"], "argument --boot-device: invalid choice: 'floppy'"),
    (["power", "on"], "the following arguments are required: NODE"),
    (["power", "on", "n1", "--timeout", "0"], "argument --timeout: must be more than 0"),
    (["nodes", "list", "--limit", "many"], "argument --limit: expected a number, not 'many'"),
    (["nodes", "add", "--name", "n1"], "the following arguments are required: --power-type"),
    (["actions", "show", "ten"], "argument ID: invalid int value: 'ten'"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    """Usage errors exit 2 with one line on stderr naming the problem."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and message in err


def test_hooks_into_a_parser_with_other_commands():
    """Added to a parser that has a demo command, the demo still parses and is not a client command."""
    parser = OneLineParser(prog="pserv")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("demo").add_argument("--nodes", type=int, default=4)
    add_client_commands(parser, commands)
    demo = parser.parse_args(["demo", "--nodes", "2"])
    assert (demo.command, demo.nodes, is_client_command(demo)) == ("demo", 2, False)
    assert is_client_command(parser.parse_args(["power", "soft-off", "n1"]))


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
    stub.on("GET", "/api/v1/actions", 200, page([action(10, status="running")]))
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

    from pserv.scripts.pserv import _credentials

    monkeypatch.setattr("sys.stdin", io.StringIO("tok-from-stdin\n"))
    args = Namespace(login_url="https://region:5240/", login_token="-")
    assert _credentials(args).token == "tok-from-stdin" == args.login_token
    assert _credentials(args).url == "https://region:5240"


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSERV_")}
    return env | {"PSERV_CONFIG": str(tmp_path / "cli.yaml"), "PYTHONPATH": ROOT}


def pserv(tmp_path, *argv):
    """Run the client as a process (no region involved) and wait for it."""
    return subprocess.run([sys.executable, "-m", "pserv.scripts.pserv", *argv], capture_output=True,
                          text=True, timeout=30, env=environment(tmp_path), cwd=ROOT)


def test_help(capsys):
    """Without a command it prints help listing the commands and exits 0."""
    assert main([]) == 0
    assert "login" in capsys.readouterr().out


def test_connection_refused_process_is_one_line_exit_1(tmp_path):
    """As a process: connection refused is one line on stderr and exit 1, no traceback."""
    done = pserv(tmp_path, "--url", "http://127.0.0.1:1", "--token", "t", "nodes", "list")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "pserv: error: cannot reach http://127.0.0.1:1: connection refused\n"


def test_not_logged_in_process_exits_1(tmp_path):
    """As a process with no stored login: one line saying to log in, exit 1."""
    done = pserv(tmp_path, "events")
    assert done.returncode == 1 and done.stderr.startswith("pserv: error: not logged in: run pserv login")


@pytest_twisted.ensureDeferred
async def test_login_then_list_as_processes(region_url, stub, tmp_path):
    """login stores the token (never printed) and a later nodes list uses it, both on the real reactor."""
    stub.on("GET", "/api/v1/drivers", 200, [])
    stub.on("GET", "/api/v1/nodes", 200, page([node()]))
    env = environment(tmp_path)
    for argv in (["login", region_url, TOKEN], ["nodes", "list"]):
        out, err, code = await getProcessOutputAndValue(
            sys.executable, ["-m", "pserv.scripts.pserv", *argv], env=env, path=ROOT)
        assert (code, err, TOKEN.encode() in out) == (0, b"", False)
    assert out.decode().splitlines()[1].split()[:2] == ["1", "n1"]
    assert [r.authorization for r in stub.requests] == [f"Bearer {TOKEN}"] * 2


class Collect(protocol.ProcessProtocol):
    def __init__(self):
        self.out, self.err = b"", b""
        self.first_line, self.ended = defer.Deferred(), defer.Deferred()

    def outReceived(self, data):
        self.out += data
        if b"\n" in self.out and not self.first_line.called:
            self.first_line.callback(None)

    def errReceived(self, data):
        self.err += data

    def processEnded(self, reason):
        self.ended.callback(reason.value.exitCode)


@pytest_twisted.ensureDeferred
async def test_follow_ends_on_sigint_with_0(region_url, stub, tmp_path):
    """events --follow as a process stops on SIGINT with exit 0 and no traceback."""
    from twisted.internet import reactor

    stub.on_stream("/api/v1/events/stream", event(1))
    process = Collect()
    argv = [sys.executable, "-m", "pserv.scripts.pserv", "--url", region_url, "--token", TOKEN,
            "events", "--follow"]
    transport = reactor.spawnProcess(process, sys.executable, argv, env=environment(tmp_path), path=ROOT)
    await process.first_line
    transport.signalProcess(signal.SIGINT)
    assert await process.ended == 0
    assert process.err == b"" and process.out.decode().split()[1] == "#1"
