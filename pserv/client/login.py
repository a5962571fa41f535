"""
``pserv login URL TOKEN``: check the token against the region, then store
the URL and token for later commands. The token is never printed.
"""

from __future__ import annotations

import os
from argparse import Namespace
from ipaddress import ip_address
from urllib.parse import urlsplit

from twisted.internet.interfaces import IReactorTime

from pserv.client.config import config_path, save_config
from pserv.client.errors import ClientError
from pserv.client.http import ApiClient
from pserv.client.output import error, note, say

CHECK_PATH = "/api/v1/drivers"


async def login(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Check ``api``'s token with a ``GET /api/v1/drivers`` and store the login
    in ``$PSERV_CONFIG`` or ``~/.config/pserv/cli.yaml`` (mode 0600).

    :returns: 0 when stored; 1 when the region refuses the token or the
        file cannot be written.
    """
    try:
        await api.get(CHECK_PATH)
    except ClientError as e:
        if e.status != 401:
            raise
        error(f"{api.base_url} refused the token: {e.error}")
        return 1
    path = config_path(os.environ)
    try:
        save_config(path, api.base_url, args.login_token)
    except OSError as e:
        error(f"cannot write {path}: {e.strerror}")
        return 1
    if _in_clear(api.base_url):
        note("warning: http:// sends the token unencrypted; use https:// for a remote region")
    say(f"Logged in to {api.base_url}; stored in {path}")
    return 0


def _in_clear(url: str) -> bool:
    """
    Whether ``url`` is plain http to a host other than this one.
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname == "localhost":
        return False
    try:
        return not ip_address(parts.hostname or "").is_loopback
    except ValueError:
        return True
