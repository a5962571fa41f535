"""
Tests for pserv.cluster_cli.
"""

from pserv.cluster_cli import main


def test_prints_help(capsys):
    """pserv-cluster prints its help and exits 0."""
    assert main([]) == 0
    assert "pserv-cluster" in capsys.readouterr().out
