"""
Tests for pserv.scripts.cluster.
"""

import subprocess
import sys

import pytest
import pytest_twisted

from pserv.scripts.cluster import main
from pserv.testing.fake_driver import FakeDriver

CLUSTER_WITH_FAKE = (
    "import sys; from pserv.scripts.cluster import main; from pserv.testing.fake_driver import FakeDriver; "
    "sys.exit(main(sys.argv[1:], extra_drivers={'fake': FakeDriver}))"
)
"""``python -c`` source: ``pserv-cluster ARGS`` with the fake driver added, as only a test can."""


def test_prints_help(capsys):
    """pserv-cluster prints its help and exits 0."""
    assert main([]) == 0
    assert "power-test" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["power-test", "fake", "on", "--set", "latency=soon", "--set", "address=n1"], "latency: must be a number"),
        (["power-test", "fake", "reboot"], "invalid choice: 'reboot'"),
        (["power-test", "nope", "on"], "power_type: unknown driver 'nope'"),
        (["power-test", "fake", "on", "--set", "address"], "--set address: expected key=value"),
        (["power-test", "fake", "soft_off", "--set", "address=n1", "--escalate-after", "nan"],
         "--escalate-after: must be a positive number of seconds"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    """Bad input exits 2 with one line on stderr naming the problem."""
    with pytest.raises(SystemExit) as caught:
        main(argv, extra_drivers={"fake": FakeDriver})
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.count("\n") == 1 and message in err


def test_fake_is_unknown_in_production(capsys):
    """Without a test adding it, power-test refuses the fake driver in one line naming power_type."""
    with pytest.raises(SystemExit) as caught:
        main(["power-test", "fake", "on", "--set", "address=n1"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1
    assert "power_type: unknown driver 'fake'; known: ipmi, manual, redfish, snmp_pdu, wol" in err


def power_test(*args, fake=False):
    command = ["-c", CLUSTER_WITH_FAKE] if fake else ["-m", "pserv.scripts.cluster"]
    return subprocess.run(
        [sys.executable, *command, "power-test", *args],
        capture_output=True, text=True, timeout=60,
    )


def test_installed_command_refuses_fake():
    """pserv-cluster as installed answers power_type: unknown driver 'fake' and exits 2."""
    done = power_test("fake", "on", "--set", "address=n1")
    assert done.returncode == 2 and "power_type: unknown driver 'fake'" in done.stderr


def test_power_test_command_succeeds():
    """The command runs an action on the real reactor, prints one line, exits 0."""
    done = power_test("fake", "cycle", "--set", "address=n1", "--set", "password=hunter2", fake=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "fake n1: cycle done: power on [commands sent: power_on]\n"
    assert "hunter2" not in done.stdout


def test_power_test_command_fails_with_1():
    """A failed action exits 1."""
    done = power_test("manual", "cycle")
    assert done.returncode == 1 and "cycle failed (fatal)" in done.stdout


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--name", "rack-1"], "region: required"),
        (["run", "--region", "h:5250", "--name", "bad name"], "name: required"),
        (["run", "--region", "h:5250", "--name", "r", "--secret-file", "/nonexistent/secret"], "/nonexistent/secret: cannot read"),
        (["run", "--region", "h:5250", "--name", "r", "--metrics-listen", "loopback"], "metrics_listen: must be HOST:PORT"),
    ],
)
def test_run_refuses_bad_settings_in_one_line(capsys, argv, message):
    """pserv-cluster run with a missing or bad setting exits 2 with one line naming it."""
    with pytest.raises(SystemExit) as caught:
        main(["--config", "/dev/null", *argv])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and message in err


@pytest_twisted.ensureDeferred
async def test_run_is_on_the_asyncio_reactor(tmp_path):
    """pserv-cluster run says it runs on Twisted's asyncio reactor, which pysnmp needs."""
    from twisted.internet import reactor

    from tests.system.processes import spawn

    secret = tmp_path / "secret"
    secret.write_text("0" * 64 + "\n")
    secret.chmod(0o600)
    cluster = spawn(reactor, "cluster", "pserv.scripts.cluster", "run", "--region", "127.0.0.1:9",
                    "--name", "rack-1", "--secret-file", str(secret))
    try:
        await cluster.wait_for(r"reactor class: (\S+)", 0)
    finally:
        await cluster.kill("TERM")
    assert "reactor class: twisted.internet.asyncioreactor.AsyncioSelectorReactor" in cluster.output


@pytest_twisted.ensureDeferred
async def test_run_tells_systemd_it_is_ready_before_the_region_answers(tmp_path, monkeypatch):
    """pserv-cluster run sends READY=1 to NOTIFY_SOCKET once started, with no region to connect to."""
    import socket

    from twisted.internet import reactor

    from tests.system.processes import spawn

    secret = tmp_path / "secret"
    secret.write_text("0" * 64 + "\n")
    secret.chmod(0o600)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify_socket:
        notify_socket.bind(str(tmp_path / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        cluster = spawn(reactor, "cluster", "pserv.scripts.cluster", "run", "--region", "127.0.0.1:9",
                        "--name", "rack-1", "--secret-file", str(secret))
        try:
            await cluster.wait_for(r"connecting to", 0)
            notify_socket.settimeout(30)
            said = notify_socket.recv(100)
        finally:
            await cluster.kill("TERM")
    assert said == b"READY=1"


@pytest_twisted.ensureDeferred
async def test_run_says_in_one_line_that_it_cannot_serve_its_metrics(tmp_path):
    """pserv-cluster run --metrics-listen on an address in use exits 1 with one line naming metrics_listen."""
    from twisted.internet import reactor
    from twisted.internet.protocol import Factory

    from tests.system.processes import spawn

    taken = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
    secret = tmp_path / "secret"
    secret.write_text("0" * 64 + "\n")
    secret.chmod(0o600)
    try:
        cluster = spawn(reactor, "cluster", "pserv.scripts.cluster", "run", "--region", "127.0.0.1:9",
                        "--name", "rack-1", "--secret-file", str(secret),
                        "--metrics-listen", f"127.0.0.1:{taken.getHost().port}")
        code = await cluster.ended
    finally:
        await taken.stopListening()
    said = [line for line in cluster.output.splitlines() if "metrics_listen" in line]
    assert code == 1 and len(said) == 1 and "cannot listen" in said[0] and "Traceback" not in cluster.output
