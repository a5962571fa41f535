"""
Tests for pserv.cli_support.  run_on_reactor runs the real reactor, so it is
exercised through the commands in subprocesses (tests/test_cluster_cli.py).
"""

import pytest

from pserv.cli_support import OneLineParser


def test_one_line_usage_error(capsys):
    """A usage error is one line on stderr and exit status 2."""
    parser = OneLineParser(prog="pserv-x")
    parser.add_argument("--count", type=int)
    with pytest.raises(SystemExit) as caught:
        parser.parse_args(["--count", "many"])
    assert caught.value.code == 2
    assert capsys.readouterr().err == "pserv-x: error: argument --count: invalid int value: 'many'\n"
