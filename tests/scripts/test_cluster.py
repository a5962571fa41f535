"""
Tests for pserv.scripts.cluster.
"""

import subprocess
import sys

import pytest

from pserv.scripts.cluster import main


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
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    """Bad input exits 2 with one line on stderr naming the problem."""
    with pytest.raises(SystemExit) as caught:
        main(argv)
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err.count("\n") == 1 and message in err


def power_test(*args):
    return subprocess.run(
        [sys.executable, "-m", "pserv.scripts.cluster", "power-test", *args],
        capture_output=True, text=True, timeout=60,
    )


def test_power_test_command_succeeds():
    """The command runs an action on the real reactor, prints one line, exits 0."""
    done = power_test("fake", "cycle", "--set", "address=n1", "--set", "password=hunter2")
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
    ],
)
def test_run_refuses_bad_settings_in_one_line(capsys, argv, message):
    """pserv-cluster run with a missing or bad setting exits 2 with one line naming it."""
    with pytest.raises(SystemExit) as caught:
        main(["--config", "/dev/null", *argv])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and message in err
