"""
Tests for pserv.client.__main__: the commands as a process on the real
reactor (``python -m pserv.client``), as ``pserv`` will run them.
"""

import os
import signal
import subprocess
import sys

import pytest_twisted
from twisted.internet import defer, protocol
from twisted.internet.utils import getProcessOutputAndValue

from pserv.client.__main__ import main
from tests.client.region_stub import TOKEN, event, node, page

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PSERV_")}
    return env | {"PSERV_CONFIG": str(tmp_path / "cli.yaml"), "PYTHONPATH": ROOT}


def pserv(tmp_path, *argv):
    """Run the client as a process (no region involved) and wait for it."""
    return subprocess.run([sys.executable, "-m", "pserv.client", *argv], capture_output=True,
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
            sys.executable, ["-m", "pserv.client", *argv], env=env, path=ROOT)
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

    stub.on("GET", "/api/v1/events", 200, page([event(1)]))
    stub.on("GET", "/api/v1/events", 200, page([]))
    process = Collect()
    argv = [sys.executable, "-m", "pserv.client", "--url", region_url, "--token", TOKEN,
            "events", "--follow", "--interval", "0.05"]
    transport = reactor.spawnProcess(process, sys.executable, argv, env=environment(tmp_path), path=ROOT)
    await process.first_line
    transport.signalProcess(signal.SIGINT)
    assert await process.ended == 0
    assert process.err == b"" and process.out.decode().split()[1] == "#1"
