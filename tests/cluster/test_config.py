"""
Tests for pserv.cluster.config.
"""

from pathlib import Path

import pytest

from pserv.cluster.config import ClusterConfig, load
from pserv.util.config import ConfigError


def test_file_then_flags(tmp_path):
    """The config file sets the cluster up and flags override it."""
    path = tmp_path / "cluster.yaml"
    path.write_text("region: 10.0.0.1:5250\nname: rack-1\nsecret_file: /srv/secret\nsync_interval: 60\n")
    config = load(path, {"name": "rack-2", "concurrency": None}).check()
    assert (config.region_addresses(), config.name, config.secret_file) == ([("10.0.0.1", 5250)], "rack-2", Path("/srv/secret"))
    assert config.sync_interval == 60.0 and config.concurrency == 32


def test_a_cluster_with_no_name_takes_the_hosts(tmp_path):
    """With no name in the file or the flags, the cluster is named for its host's short name."""
    path = tmp_path / "cluster.yaml"
    path.write_text('region: 10.0.0.1:5250\nname: ""\n')
    assert load(path, {}, hostname=lambda: "rack-7.dc1.example.com").check().name == "rack-7"


def test_a_host_name_that_is_no_cluster_name_is_not_taken(tmp_path):
    """A host name a cluster may not have leaves the name unset, so check() asks for one."""
    path = tmp_path / "cluster.yaml"
    path.write_text("region: 10.0.0.1:5250\n")
    with pytest.raises(ConfigError, match="name: required"):
        load(path, {}, hostname=lambda: "_bad host").check()


def test_several_regions_are_given_comma_separated():
    """region may name several regions sharing one database, each HOST:PORT."""
    config = ClusterConfig().updated({"region": "10.0.0.1:5250, 10.0.0.2:5250", "name": "r"}).check()
    assert config.region_addresses() == [("10.0.0.1", 5250), ("10.0.0.2", 5250)]


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, "region: required"),
        ({"region": "nowhere", "name": "r"}, "region: must be HOST:PORT"),
        ({"region": "a:5250,nowhere", "name": "r"}, "region: must be HOST:PORT"),
        ({"region": "h:1", "name": "bad name"}, "name: required"),
        ({"region": "h:1", "name": "r", "concurrency": 0}, "concurrency: must be at least 1"),
        ({"region": "h:1", "name": "r", "group": "row a"}, "group: 1 to 63 letters"),
        ({"region": "h:1", "name": "r", "colour": "red"}, "colour: not a cluster setting"),
        ({"region": "h:1", "name": "r", "metrics_listen": "9100"}, "metrics_listen: must be HOST:PORT"),
    ],
)
def test_bad_settings_name_the_setting(values, message):
    """A missing or bad setting is refused with a message naming it."""
    with pytest.raises(ConfigError, match=message):
        ClusterConfig().updated(values).check()


def test_metrics_are_served_only_when_an_address_is_given(tmp_path):
    """metrics_listen is empty by default; from the file it is kept as HOST:PORT."""
    assert ClusterConfig().metrics_listen == ""
    path = tmp_path / "cluster.yaml"
    path.write_text("region: h:5250\nname: r\nmetrics_listen: 127.0.0.1:9101\n")
    assert load(path, {}).check().metrics_listen == "127.0.0.1:9101"
