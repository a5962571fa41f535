"""
``pserv whoami``: who the region takes the token for, and its role.
"""

from __future__ import annotations

from argparse import Namespace

from twisted.internet.interfaces import IReactorTime

from pserv.client.http import ApiClient
from pserv.client.output import print_json, say
from pserv.client.tables import details

WHOAMI = "/api/v1/whoami"


async def whoami(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    The token's name, role and kind of credential, from ``GET /api/v1/whoami``.
    """
    shown = (await api.get(WHOAMI)).body
    shown = {k: v for k, v in shown.items() if k != "csrf_token"}
    print_json(shown) if args.json else say(details(shown))
    return 0
