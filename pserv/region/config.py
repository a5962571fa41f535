"""
The region's settings: defaults, then the config file, then the command
line.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

DEFAULT_CONFIG = Path("/etc/pserv/region.yaml")


class ConfigError(Exception):
    """A setting is wrong; the message names it."""


@dataclass(frozen=True)
class RegionConfig:
    """
    :ivar data_dir: holds the SQLite database, the shared secret and TLS
        material.
    :ivar database: an SQLAlchemy URL; SQLite in the data directory if empty.
    :ivar listen: ``HOST:PORT`` for the API.
    :ivar rpc_listen: ``HOST:PORT`` for the clusters' RPC (TLS).
    :ivar action_timeout: seconds before an action left pending or sent
        fails as ``timed out``.
    """

    data_dir: Path = Path("/var/lib/pserv")
    database: str = ""
    listen: str = "0.0.0.0:5240"
    rpc_listen: str = "0.0.0.0:5250"
    action_timeout: float = 600.0

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
        if "action_timeout" in changes:
            changes["action_timeout"] = _positive(changes["action_timeout"], "action_timeout")
        config = replace(self, **changes)
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


def parse_listen(text: str, name: str) -> tuple[str, int]:
    """``HOST:PORT`` as (host, port)."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}: must be HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML config file as a mapping.

    :raises ConfigError: naming the file when it cannot be used.
    """
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"config: cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(f"config: {path} is not valid YAML") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config: {path} must hold a mapping")
    return loaded


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: must be a number of seconds") from None
    if number <= 0:
        raise ConfigError(f"{name}: must be positive")
    return number
