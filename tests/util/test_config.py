"""
Tests for pserv.util.config.
"""

import pytest

from pserv.util.config import ConfigError, parse_listen, read_yaml


def test_parse_listen_ipv6():
    """Listen addresses may be IPv6 in brackets."""
    assert parse_listen("[::1]:5240", "listen") == ("::1", 5240)


def test_parse_listen_refuses_nonsense():
    """An address without a port, or with a bad one, is refused naming the setting."""
    for text in ("nowhere", "host:http", "host:70000"):
        with pytest.raises(ConfigError, match="rpc_listen: must be HOST:PORT"):
            parse_listen(text, "rpc_listen")


def test_read_yaml(tmp_path):
    """A YAML mapping is read; an empty file is an empty mapping."""
    path = tmp_path / "x.yaml"
    path.write_text("a: 1\n")
    assert read_yaml(path) == {"a": 1}
    path.write_text("")
    assert read_yaml(path) == {}
