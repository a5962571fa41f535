"""
``pserv events [--node N] [--since T] [--order asc|desc] [--after ID]
[--before ID] [--limit N] [--follow]``.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from pserv.client.errors import UsageError, is_transient
from pserv.client.http import ApiClient
from pserv.client.output import note, note_more, one_line, print_json, print_json_line, say
from pserv.client.tables import event_line

EVENTS = "/api/v1/events"
DEFAULT_INTERVAL = 2.0


async def show_events(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    The audit log, oldest first (``--order desc``: newest first).
    ``--follow`` goes on polling with ``after=<last id>`` every
    ``--interval`` seconds until interrupted (exit 0); its ``--json`` is one
    event per line.
    """
    params = {"node": args.node, "since": args.since}
    if not args.follow:
        bounds = {"after": args.after, "before": args.before}
        order = {"order": "desc"} if args.order == "desc" else {}
        page = await api.collect(EVENTS, {**params, **order, **bounds}, args.limit)
        if args.json:
            print_json(page)
        else:
            for event in page["items"]:
                say(event_line(event))
        note_more(page, "before" if args.order == "desc" else "after")
        return 0
    if args.limit is not None:
        raise UsageError("--limit: not with --follow")
    if args.order == "desc" or args.before is not None:
        raise UsageError(f"{'--order desc' if args.order == 'desc' else '--before'}: not with --follow, "
                         "which prints new events as they come")
    try:
        await _follow(args, api, clock, params)
    except CancelledError:
        pass
    return 0


async def _follow(args: Namespace, api: ApiClient, clock: IReactorTime, params: dict[str, Any]) -> None:
    """
    Print new events for ever; a full page is followed at once, otherwise
    the next poll is ``args.interval`` seconds of ``clock`` later.
    """
    last = args.after
    while True:
        page = await _poll(api, {**params, "after": last})
        for event in page["items"]:
            print_json_line(event) if args.json else say(event_line(event))
            last = event["id"]
        if not page.get("next"):
            await deferLater(clock, args.interval)


async def _poll(api: ApiClient, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return (await api.get(EVENTS, params)).body
    except Exception as e:
        if not is_transient(e):
            raise
        note(f"warning: {one_line(e)}; still following")
        return {"items": [], "next": None}
