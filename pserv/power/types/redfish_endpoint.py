"""
Where a Redfish service lives: the ``redfish`` power type's ``address``
setting, parsed and checked.  The region checks addresses with it; the
Redfish driver (:mod:`pserv.power.drivers.redfish`) reaches the service it
names.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from pserv.power.settings import Setting, SettingType

_HOST = Setting("address", "BMC address", SettingType.ADDRESS)
_SERVICE_PATHS = frozenset({"", "/", "/redfish", "/redfish/", "/redfish/v1", "/redfish/v1/"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """
    One Redfish service: scheme, host and port, and whether to verify TLS.

    :ivar host: a hostname or an IP address, without IPv6 brackets.
    """

    scheme: str
    host: str
    port: int
    verify_tls: bool = True

    @property
    def netloc(self) -> str:
        """``host:port``, bracketing an IPv6 address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """What identifies this service: scheme, host and port."""
        return (self.scheme, self.host, self.port)

    def url(self, path: str) -> str:
        """
        The absolute URL of ``path`` on this service.

        :param path: an absolute path, starting with ``/``.
        """
        if not path.startswith("/"):
            raise ValueError(f"not an absolute path: {path!r}")
        return f"{self.scheme}://{self.netloc}{path}"


def parse_address(address: str, verify_tls: bool = True) -> Endpoint:
    """
    Parse the ``address`` setting: ``host``, ``host:port`` or a URL.

    Without a scheme the address means HTTPS, as Redfish requires.  A URL may
    name ``http`` or ``https`` and, at most, the path ``/redfish/v1``.

    :raises PowerSettingsError: naming ``address``; the message never repeats
        the value, which might hold credentials.
    """
    return _parse(address.strip() if isinstance(address, str) else address, verify_tls)


@lru_cache(maxsize=1024)
def _parse(address: str, verify_tls: bool) -> Endpoint:
    if not isinstance(address, str) or not address:
        raise _HOST.error("is required")
    parts = urlsplit(_with_scheme(address))
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _HOST.error("scheme must be http or https")
    if "@" in parts.netloc:
        raise _HOST.error("must not hold credentials; use username and password")
    if parts.path not in _SERVICE_PATHS or parts.query or parts.fragment:
        raise _HOST.error("must be host, host:port or a URL without a path")
    host = _host(parts.hostname)
    return Endpoint(scheme, host, _port(parts, scheme), verify_tls)


def _with_scheme(address: str) -> str:
    if "://" in address:
        return address
    try:
        if ipaddress.ip_address(address).version == 6:
            return f"https://[{address}]"
    except ValueError:
        pass
    return "https://" + address


def _host(hostname: str | None) -> str:
    if not hostname:
        raise _HOST.error("must name a host")
    return _HOST.clean(hostname)


def _port(parts, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise _HOST.error("port must be a number from 1 to 65535") from None
    if port is None:
        return _DEFAULT_PORTS[scheme]
    if port == 0:
        raise _HOST.error("port must be a number from 1 to 65535")
    return port
