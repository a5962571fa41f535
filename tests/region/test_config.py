"""
Tests for pserv.region.config.
"""

from pathlib import Path

import pytest

from pserv.region.config import RegionConfig, load
from pserv.util.config import ConfigError


def test_defaults():
    """Without a file or flags, the region uses /var/lib/pserv, SQLite there, and port 5240."""
    config = RegionConfig()
    assert config.database_url == "sqlite:////var/lib/pserv/region.sqlite"
    assert config.listen_address() == ("0.0.0.0", 5240) and config.action_timeout == 600
    assert config.session_lifetime == 12 * 3600


def test_file_then_flags(tmp_path):
    """The config file overrides defaults and flags override the file."""
    path = tmp_path / "region.yaml"
    path.write_text("data_dir: /srv/pserv\nlisten: 10.0.0.1:8080\naction_timeout: 60\n")
    config = load(path, {"listen": "127.0.0.1:9999", "database": None})
    assert config.data_dir == Path("/srv/pserv") and config.listen == "127.0.0.1:9999"
    assert config.action_timeout == 60


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour: red\n", "colour: not a region setting"),
        ("listen: nowhere\n", "listen: must be HOST:PORT"),
        ("action_timeout: -5\n", "action_timeout: must be positive"),
        ("session_lifetime: 0\n", "session_lifetime: must be positive"),
        ("cluster_lease: 0\n", "cluster_lease: must be positive"),
        ("name: 'region a'\n", "name: 1 to 63 letters"),
        ("- a list\n", "must hold a mapping"),
        ("listen: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_file_names_the_setting(tmp_path, text, message):
    """A bad config file is refused with a message naming the setting."""
    path = tmp_path / "region.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load(path, {})


def test_missing_file_named_explicitly(tmp_path):
    """A config file named on the command line must exist."""
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.yaml", {})
