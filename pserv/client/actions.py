"""
``pserv actions show ID``, ``pserv actions cancel ID`` and
``pserv actions list NODE``.
"""

from __future__ import annotations

from argparse import Namespace

from twisted.internet.interfaces import IReactorTime

from pserv.client.http import ApiClient, node_path
from pserv.client.output import note, note_more, print_json, say
from pserv.client.tables import action_table, details


async def show_action(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    One power action.
    """
    action = (await api.get(f"/api/v1/actions/{args.id}")).body
    print_json(action) if args.json else say(details(action))
    return 0


async def cancel_action(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Cancel an action: at once when pending (200), at its next safe point
    when in flight (202). An action that has ended is a 409 (exit 2).
    """
    response = await api.post(f"/api/v1/actions/{args.id}/cancel")
    if response.status == 202:
        note(f"action {args.id} is in flight: the cluster stops it at its next safe point")
    print_json(response.body) if args.json else say(details(response.body))
    return 0


async def list_actions(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    A node's power actions, newest first; ``--before ID`` for older ones.
    """
    page = await api.collect(node_path(args.node, "actions"), {"before": args.before}, args.limit)
    print_json(page) if args.json else say(action_table(page["items"]))
    note_more(page, "before")
    return 0
