"""
Tests for pserv.scripts.support.  run_on_reactor runs the real reactor, so it is
exercised through the commands in subprocesses (tests/scripts/test_cluster.py).
"""

import pytest

from pserv.scripts.support import OneLineParser, UsageError, parse_settings


def test_one_line_usage_error(capsys):
    """A usage error is one line on stderr and exit status 2."""
    parser = OneLineParser(prog="pserv-x")
    parser.add_argument("--count", type=int)
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--count", "many"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "pserv-x: error: argument --count: invalid int value: 'many'\n"


def test_parse_settings():
    """key=value pairs become a dict; values may contain '='."""
    assert parse_settings(["address=10.0.0.1", "password=a=b"]) == {"address": "10.0.0.1", "password": "a=b"}


@pytest.mark.parametrize("pairs", [["address"], ["=x"], ["a=1", "a=2"]])
def test_parse_settings_refuses_nonsense(pairs):
    """An item without a key or '=' and a repeated key are usage errors."""
    with pytest.raises(UsageError):
        parse_settings(pairs)


def test_tune_gc():
    """The daemons' GC thresholds are set, and are larger than Python's default."""
    import gc

    from pserv.scripts.support import GC_THRESHOLDS, tune_gc

    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS and GC_THRESHOLDS[0] > 700
    finally:
        gc.set_threshold(*before)


def test_when_running_waits_for_the_reactor_to_run():
    """when_running fires only once the reactor runs (after react has started the daemon's main)."""
    from twisted.internet.defer import Deferred
    from twisted.internet.testing import MemoryReactor

    from pserv.scripts.support import when_running

    reactor = MemoryReactor()
    waited = Deferred.fromCoroutine(when_running(reactor))
    assert not waited.called
    reactor.run()
    assert waited.called
