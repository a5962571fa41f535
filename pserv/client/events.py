"""
``pserv events [--node N] [--since T] [--order asc|desc] [--after ID]
[--before ID] [--limit N] [--follow]``: a page of the audit log, or, with
``--follow``, the region's event stream (``GET /api/v1/events/stream``),
reconnecting where it left off.
"""

from __future__ import annotations

import json
from argparse import Namespace
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from pserv.client.errors import ClientError, UsageError, is_transient
from pserv.client.http import ApiClient
from pserv.client.output import note, note_more, one_line, print_json, print_json_line, say
from pserv.client.sse import EventStreamParser, Message
from pserv.client.tables import event_line
from pserv.util.backoff import Backoff, exponential

EVENTS = "/api/v1/events"
STREAM = "/api/v1/events/stream"
RECONNECT: Backoff = exponential(2.0, 30.0)
"""Seconds before reconnecting a dropped stream: 2 (as the region's ``retry``), doubling to 30;
back to 2 once a connection is answered."""
SILENCE = 45.0
"""A stream that sends nothing this long (three of the region's keep-alives) is taken for dropped."""


async def show_events(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    The audit log, oldest first (``--order desc``: newest first).
    ``--follow`` reads the region's event stream instead, from the start
    of the log (or ``--after``), printing each event as it comes, until
    interrupted (exit 0); its ``--json`` is one event per line.
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
        await _follow(args, api, clock, {**params, "after": args.after or 0})
    except CancelledError:
        pass
    return 0


async def _follow(args: Namespace, api: ApiClient, clock: IReactorTime, params: dict[str, Any]) -> None:
    """
    Print the stream's events for ever.  When the stream drops (or the
    region ends it, or it goes quiet for :data:`SILENCE` seconds), wait
    :data:`RECONNECT` on ``clock`` and reconnect with ``Last-Event-ID``:
    the region sends what came meanwhile, so nothing is lost.
    """
    last: str | None = None
    attempt = 0
    while True:
        reading = _Reading(args.json, last)
        headers = {} if last is None else {"Last-Event-ID": last}
        try:
            await api.stream(STREAM, params, reading.feed, headers=headers, idle=SILENCE)
            reason = "the region ended the stream"
        except Exception as e:
            if not is_transient(e):
                raise
            reason = one_line(e)
        last = reading.parser.last_id
        attempt = 0 if reading.answered else attempt
        wait = RECONNECT(attempt)
        attempt += 1
        note(f"warning: {reason}; reconnecting in {wait:g} s")
        await deferLater(clock, wait)


class _Reading:
    """One connection's stream: its events printed as they come, one line each (or JSON Lines)."""

    def __init__(self, as_json: bool, last: str | None) -> None:
        self.as_json = as_json
        self.parser = EventStreamParser(self.show)
        self.parser.last_id = last
        self.answered = False

    def feed(self, data: bytes) -> None:
        self.answered = True
        self.parser.feed(data)

    def show(self, message: Message) -> None:
        if message.event != "event":
            return
        try:
            event = json.loads(message.data)
        except ValueError:
            raise ClientError(200, f"the region sent an event that is not JSON (id {message.id})") from None
        print_json_line(event) if self.as_json else say(event_line(event))
