"""
``pserv lock NODE --reason TEXT`` and ``pserv unlock NODE``.
"""

from __future__ import annotations

from argparse import Namespace

from twisted.internet.interfaces import IReactorTime

from pserv.client.http import ApiClient, node_path
from pserv.client.output import print_json, say


async def lock_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Lock a node against off, cycle and soft-off (``POST
    /api/v1/nodes/{node}/lock``), saying why; prints who locked it and why.
    """
    node = (await api.post(node_path(args.node, "lock"), {"reason": args.reason})).body
    print_json(node) if args.json else say(f"{node['name']}: locked by {node['locked_by']}: {node['lock_reason']}")
    return 0


async def unlock_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """Unlock a node (``POST /api/v1/nodes/{node}/unlock``)."""
    node = (await api.post(node_path(args.node, "unlock"), None)).body
    print_json(node) if args.json else say(f"{node['name']}: unlocked")
    return 0
