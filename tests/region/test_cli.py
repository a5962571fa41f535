"""
Tests for pserv.region.cli.
"""

from pserv.region.cli import main


def test_prints_help(capsys):
    """pserv-region prints its help and exits 0."""
    assert main([]) == 0
    assert "pserv-region" in capsys.readouterr().out
