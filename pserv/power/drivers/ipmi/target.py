"""
One BMC as the IPMI driver addresses it: where, as whom, over which backend.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

from pserv.power.errors import PowerSettingsError
from pserv.power.types.ipmi import PRIVILEGE_LEVELS


@dataclass(frozen=True)
class BMCTarget:
    """
    A node's validated IPMI settings, ready for a backend.

    Secrets are excluded from ``repr`` and from every key, so a target can
    be logged or used as a cache key without leaking them.
    """

    address: str
    port: int
    username: str
    password: str = field(repr=False)
    privilege: str
    cipher_suite: int
    kg: str | None = field(repr=False)
    backend: str

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> "BMCTarget":
        """
        Build a target from settings validated by the driver's schema.
        """
        return cls(
            address=params["address"],
            port=params["port"],
            username=params.get("username") or "",
            password=params.get("password") or "",
            privilege=params["privilege"],
            cipher_suite=params["cipher_suite"],
            kg=params.get("kg") or None,
            backend=params["backend"],
        )

    @property
    def label(self) -> str:
        """
        ``ipmi ADDRESS:PORT``, the name of this BMC in every message.
        """
        return f"ipmi {endpoint(self.address, self.port)}"

    @property
    def privilege_level(self) -> int:
        """The privilege as its IPMI wire value."""
        return PRIVILEGE_LEVELS[self.privilege]

    @property
    def bmc_key(self) -> tuple[str, int]:
        """What identifies the BMC itself, for per-BMC limits."""
        return (self.address, self.port)

    @property
    def session_key(self) -> tuple[Any, ...]:
        """
        What makes two calls able to share an authenticated session.

        Secrets enter only as digests.
        """
        return (
            self.backend,
            self.address,
            self.port,
            self.username,
            self.privilege,
            self.cipher_suite,
            _digest(self.password),
            _digest(self.kg or ""),
        )

    def settings(self) -> dict[str, Any]:
        """
        This target as the node's settings, for the power type's checks.
        """
        return dataclasses.asdict(self)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values that are set, for scrubbing messages."""
        return tuple(s for s in (self.password, self.kg) if s)


def endpoint(address: str, port: int) -> str:
    """
    ``address:port``, with IPv6 literals in brackets.
    """
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def setting_error(name: str, reason: str) -> PowerSettingsError:
    """
    A settings error naming the field ``name`` and why, never its value.
    """
    return PowerSettingsError(f"{name}: {reason}", field=name)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
