"""
The cluster's settings: defaults, then the config file, then the command
line.
"""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from pserv.util.config import ConfigError, parse_listen, read_yaml

DEFAULT_CONFIG = Path("/etc/pserv/cluster.yaml")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class ClusterConfig:
    """
    :ivar region: ``HOST:PORT`` of the region's RPC port, or several,
        comma-separated (regions sharing one database): the cluster
        connects to the first that answers, starting with the last that did.
    :ivar name: this cluster's name; nodes name it in their ``cluster``.
        :func:`load` makes it the host's short name when nothing sets it.
    :ivar group: the cluster group this cluster is a member of (nodes name
        it in their ``group``); empty for none.
    :ivar secret_file: a copy of the region's ``DATA_DIR/secret``.
    :ivar concurrency: power reads in flight at once during a sweep.
    :ivar sync_interval: seconds between power sweeps.
    :ivar failures_before_error: failed reads in a row before a node is
        reported as power error.
    :ivar metrics_listen: ``HOST:PORT`` to serve the Prometheus metrics on
        (plain HTTP, ``/metrics``); empty for none.
    """

    region: str = ""
    name: str = ""
    group: str = ""
    secret_file: Path = Path("/etc/pserv/secret")
    concurrency: int = 32
    sync_interval: float = 300.0
    failures_before_error: int = 3
    metrics_listen: str = ""

    def region_addresses(self) -> list[tuple[str, int]]:
        """``region`` as its (host, port) pairs."""
        return [parse_listen(part.strip(), "region") for part in self.region.split(",")]

    def updated(self, values: Mapping[str, Any]) -> ClusterConfig:
        """This config with the non-``None`` ``values`` applied and checked."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a cluster setting")
        changes = {k: v for k, v in values.items() if v is not None}
        if "secret_file" in changes:
            changes["secret_file"] = Path(changes["secret_file"])
        for name, kind, low in (("concurrency", int, 1), ("failures_before_error", int, 1), ("sync_interval", float, 1)):
            if name in changes:
                changes[name] = _at_least(changes[name], kind, low, name)
        return replace(self, **changes)

    def check(self) -> ClusterConfig:
        """
        :raises ConfigError: unless ``region`` and ``name`` are usable.
        """
        if not self.region:
            raise ConfigError("region: required (HOST:PORT of the region's RPC port, or several, comma-separated)")
        self.region_addresses()
        if not NAME.match(self.name):
            raise ConfigError("name: required: 1 to 63 letters, digits, '.', '_' or '-'")
        if self.group and not NAME.match(self.group):
            raise ConfigError("group: 1 to 63 letters, digits, '.', '_' or '-'")
        if self.metrics_listen:
            parse_listen(self.metrics_listen, "metrics_listen")
        return self


def load(path: Path | None, overrides: Mapping[str, Any],
         hostname: Callable[[], str] = socket.gethostname) -> ClusterConfig:
    """
    Defaults, then the file (the default one only if it exists), then
    ``overrides``; an empty ``name`` becomes the host's short name, as a
    MAAS rack controller takes its host's, when that is a usable name.
    """
    config = ClusterConfig()
    file = path or DEFAULT_CONFIG
    if path is not None or file.exists():
        config = config.updated(read_yaml(file))
    config = config.updated(overrides)
    if not config.name:
        short = hostname().split(".")[0]
        if NAME.match(short):
            config = replace(config, name=short)
    return config


def _at_least(value: Any, kind: type, low: float, name: str) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: must be a number") from None
    if number < low:
        raise ConfigError(f"{name}: must be at least {low:g}")
    return number
