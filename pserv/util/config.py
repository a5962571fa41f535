"""
What the region's and the cluster's settings share: YAML config files,
``HOST:PORT`` addresses, and the error that names a bad setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """A setting is wrong; the message names it."""


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
