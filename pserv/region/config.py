"""
The region's settings: defaults, then the config file, then the command
line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

from pserv.util.config import ConfigError, parse_listen, read_yaml

DEFAULT_CONFIG = Path("/etc/pserv/region.yaml")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_-]{0,62}$")
SESSION_LIFETIME = 12 * 3600.0
"""Seconds a UI session lasts after its login, unless ``session_lifetime`` says."""


@dataclass(frozen=True)
class RegionConfig:
    """
    :ivar data_dir: holds the SQLite database, the shared secret and TLS
        material.
    :ivar database: an SQLAlchemy URL; SQLite in the data directory if empty.
    :ivar listen: ``HOST:PORT`` for the API.
    :ivar rpc_listen: ``HOST:PORT`` for the clusters' RPC (TLS).
    :ivar action_timeout: seconds before an action left pending fails as
        ``timed out``, and one left sent becomes ``timed_out``.
    :ivar session_lifetime: seconds a UI session lasts after its login.
    :ivar name: this region's name among the regions sharing a database
        (``GET /api/v1/clusters`` says which region each cluster is
        connected to); ``HOST:PORT`` of its RPC listener if empty.
    :ivar cluster_lease: seconds a cluster's lease runs past each heartbeat
        the region answers: a member of a group whose lease has ended acts
        for none of its nodes, which then fail over to other members.
    """

    data_dir: Path = Path("/var/lib/pserv")
    database: str = ""
    listen: str = "0.0.0.0:5240"
    rpc_listen: str = "0.0.0.0:5250"
    action_timeout: float = 600.0
    session_lifetime: float = SESSION_LIFETIME
    name: str = ""
    cluster_lease: float = 45.0

    @property
    def database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data directory."""
        return self.database or f"sqlite:///{self.data_dir / 'region.sqlite'}"

    @property
    def secret_path(self) -> Path:
        """Where the shared secret the clusters use lives."""
        return self.data_dir / "secret"

    def listen_address(self) -> tuple[str, int]:
        """``listen`` as (host, port)."""
        return parse_listen(self.listen, "listen")

    def rpc_address(self) -> tuple[str, int]:
        """``rpc_listen`` as (host, port)."""
        return parse_listen(self.rpc_listen, "rpc_listen")

    def updated(self, values: Mapping[str, Any]) -> RegionConfig:
        """This config with the non-``None`` ``values`` applied and checked."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a region setting")
        changes = {k: v for k, v in values.items() if v is not None}
        if "data_dir" in changes:
            changes["data_dir"] = Path(changes["data_dir"])
        for name in ("action_timeout", "session_lifetime", "cluster_lease"):
            if name in changes:
                changes[name] = _positive(changes[name], name)
        config = replace(self, **changes)
        if config.name and not NAME.match(config.name):
            raise ConfigError("name: 1 to 63 letters, digits, '.', ':', '_' or '-'")
        config.listen_address()
        config.rpc_address()
        return config


def load(path: Path | None, overrides: Mapping[str, Any]) -> RegionConfig:
    """
    Defaults, then the file at ``path`` (the default path only if it
    exists), then ``overrides``.
    """
    config = RegionConfig()
    file = path or DEFAULT_CONFIG
    if path is not None or file.exists():
        config = config.updated(read_yaml(file))
    return config.updated(overrides)


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: must be a number of seconds") from None
    if number <= 0:
        raise ConfigError(f"{name}: must be positive")
    return number
