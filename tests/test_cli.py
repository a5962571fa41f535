"""
Tests for pserv.cli.
"""

import pytest

from pserv.cli import main


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


def test_version(capsys):
    """pserv --version prints the version."""
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("pserv ")
