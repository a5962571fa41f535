"""
Where ``pserv login`` keeps the region's URL and token, and which URL and
token a command uses: ``--url``/``--token``, then ``PSERV_URL``/
``PSERV_TOKEN``, then the stored login.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import yaml

from pserv.client.errors import ConfigError, UsageError

TOKEN_CHARACTERS = frozenset(string.ascii_letters + string.digits + string.punctuation)


@dataclass(frozen=True)
class Credentials:
    """
    A region's URL and the bearer token to send it; the token is not in the repr.
    """

    url: str
    token: str = field(repr=False)


def config_path(environ: Mapping[str, str]) -> Path:
    """
    ``$PSERV_CONFIG``, or ``~/.config/pserv/cli.yaml``.
    """
    configured = environ.get("PSERV_CONFIG")
    return Path(configured) if configured else Path.home() / ".config" / "pserv" / "cli.yaml"


def check_url(url: str) -> str:
    """
    The region URL without a trailing slash.

    :raises UsageError: unless it is an http or https URL with a host and
        without a user name or password.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"URL: expected http://HOST[:PORT] or https://..., not {url!r}")
    if parts.username is not None or parts.password is not None:
        raise UsageError("URL: must not hold a user name or password; give the token instead")
    if parts.query or parts.fragment:
        raise UsageError("URL: must not have a query or fragment")
    return url.rstrip("/")


def check_token(token: str) -> str:
    """
    The token, when it can be a bearer token (printable, no spaces).

    :raises UsageError: otherwise, without showing it.
    """
    if not token or not set(token) <= TOKEN_CHARACTERS:
        raise UsageError("TOKEN: empty, or has spaces or characters a token cannot have")
    return token


def load_config(path: Path) -> dict[str, str] | None:
    """
    The stored ``{"url", "token"}``, or None when there is no file.

    :raises ConfigError: when the file cannot be read or is not a login.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ("url", "token")):
        raise ConfigError(f"{path}: not a pserv login (run pserv login URL TOKEN)")
    return {"url": data["url"], "token": data["token"]}


def save_config(path: Path, url: str, token: str) -> None:
    """
    Store the login in ``path`` with mode 0600, replacing it atomically;
    the directory is made with mode 0700 when it is missing.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = yaml.safe_dump({"url": url, "token": token}, default_flow_style=False)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def resolve_credentials(args: Any, environ: Mapping[str, str]) -> Credentials:
    """
    The URL and token a command uses. A stored token is only ever sent to
    the stored URL.

    :raises UsageError: for a malformed URL or token.
    :raises ConfigError: when no URL or no token is given or stored.
    """
    url = getattr(args, "api_url", None) or environ.get("PSERV_URL")
    token = getattr(args, "api_token", None) or environ.get("PSERV_TOKEN")
    if not (url and token):
        stored = load_config(config_path(environ))
        if stored and (url is None or check_url(url) == check_url(stored["url"])):
            url, token = url or stored["url"], token or stored["token"]
    if not url:
        raise ConfigError("not logged in: run pserv login URL TOKEN, or give --url and --token")
    if not token:
        raise ConfigError(f"no token for {url}: run pserv login URL TOKEN, or give --token")
    return Credentials(check_url(url), check_token(token))
