"""
``GET /api/v1/events/stream``: the audit log as server-sent events
(``text/event-stream``), for the UI's live pages and ``pserv events
--follow``.

The stream starts with ``retry: 2000``, then sends each event as::

    id: <event id>
    event: event
    data: <the Event JSON, as GET /api/v1/events shows it>

and a ``: keep-alive`` comment every :data:`KEEP_ALIVE_SECONDS`.  It
starts after the ``Last-Event-ID`` header, else after the ``after``
argument, else at the feed's horizon (only new events); first the
backlog, read from the database in pages, then the feed's live batches
(:mod:`pserv.region.event_feed`).  ``node`` (an id or a name) and
``since`` narrow it.

``coalesce=node`` keeps, of each delivered batch (a backlog page or a
live batch), only the newest event of each node; events without a node
are all kept.  A batch's newest event is always kept, so a client's
``Last-Event-ID`` after a coalesced batch is that batch's newest id, and
an event left out had a newer one of its node, sent after it: a resume
still leaves no node's latest state unseen.

A stream is a push producer of its request: while the client's
connection is full (paused) nothing more is written, and what comes
meanwhile is read back from the database, in pages, once it drains.
With each keep-alive it asks again whether its credential may read it:
a revoked token, an ended session or a disabled user ends it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Awaitable, Callable, Sequence

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IPushProducer, IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from pserv.region.db import Database
from pserv.region.endpoints import streaming
from pserv.region.errors import RegionError
from pserv.region.event_feed import EventFeed, StoredEvent, stored_events_after
from pserv.region.routes import Routes
from pserv.region.store.common import utc
from pserv.region.store.events import node_id
from pserv.util.times import moment_from_iso, moment_from_rfc3339

log = Logger()

STREAM = "/api/v1/events/stream"
RETRY_MILLISECONDS = 2000
"""How long a client waits before reconnecting, as the stream tells it."""
KEEP_ALIVE_SECONDS = 15.0
"""How often a stream sends a comment, so proxies and clients know it lives."""
PAGE = 1000
"""Events per backlog read."""
KEEP_ALIVE = b": keep-alive\n\n"


def message(event: StoredEvent) -> bytes:
    """One event as a server-sent event."""
    return b"id: %d\nevent: event\ndata: %s\n\n" % (event.id, event.data)


def coalesced(events: Sequence[StoredEvent]) -> list[StoredEvent]:
    """Of ``events`` (oldest first), the newest of each node, and every event without one."""
    newest = {event.node: event.id for event in events if event.node is not None}
    return [event for event in events if event.node is None or newest[event.node] == event.id]


@implementer(IPushProducer)
class EventStream:
    """
    One client's stream: the backlog after ``start``, then live batches.

    :param start: the id to start after; ``None`` for the feed's horizon.
    :param node: only this node's events (its id).
    :param since: only events at or after this time (naive UTC, as the store keeps times).
    :param coalesce: keep only the newest event of each node in each batch.
    :param page: events per backlog read (:data:`PAGE`).
    :param readmit: asks again whether the request's credential may read
        the stream (raising :class:`~pserv.region.errors.RegionError` if
        not), at each keep-alive: a revoked token or an ended session ends
        the stream within :data:`KEEP_ALIVE_SECONDS`.
    """

    content_type = b"text/event-stream"

    def __init__(self, feed: EventFeed, database: Database, clock: IReactorTime, start: int | None,
                 node: int | None = None, since: datetime | None = None, coalesce: bool = False,
                 page: int | None = None, readmit: Callable[[], Awaitable[Any]] | None = None) -> None:
        self.feed = feed
        self.database = database
        self.clock = clock
        self.node = node
        self.since = since
        self.coalesce = coalesce
        self.page = PAGE if page is None else page
        self.readmit = readmit
        self.covered = start
        """The id through which every event has been sent, or left out by the filters."""
        self.live = False
        self.paused = False
        self.closed = False
        self.ended: Deferred[None] = Deferred()
        """Fires when the stream has stopped and left the feed."""
        self._behind = 0
        self._fell_behind: Deferred[None] | None = None
        self._resumed: Deferred[None] | None = None
        self._request: Any = None
        self._checking: Deferred[Any] | None = None

    async def run(self, request: Any) -> None:
        """
        Write the stream to ``request`` until the client goes away or the
        feed stops.
        """
        self._request = request
        request.notifyFinish().addBoth(lambda _: self.close())
        request.registerProducer(self, True)
        beat = LoopingCall(self._beat)
        beat.clock = self.clock
        try:
            horizon = await self.feed.subscribe(self)
            if self.covered is None:
                self.covered = horizon
            self._write(b"retry: %d\n\n" % RETRY_MILLISECONDS)
            beat.start(KEEP_ALIVE_SECONDS, now=False)
            while not self.closed:
                await self._catch_up()
                await self._until_behind()
        finally:
            self.feed.unsubscribe(self)
            if beat.running:
                beat.stop()
            if request.channel is not None and request.producer is self:
                request.unregisterProducer()
            self.ended.callback(None)

    async def _catch_up(self) -> None:
        """
        Send the events after :attr:`covered` from the database, a page at
        a time, up to the feed's horizon; then go live.
        """
        while not self.closed:
            await self._until_resumed()
            horizon = self.feed.horizon
            if self.closed or horizon is None:
                return
            if self.covered >= horizon and self._behind <= self.covered:
                self.live = True
                return
            page = await self.database.run(stored_events_after, self.covered, self.page, through=horizon,
                                           node=self.node, since=self.since)
            if self.closed:
                return
            self._send(page)
            if len(page) == self.page:
                self.covered = page[-1].id
                continue
            self.covered = max(self.covered, horizon)
            if self._behind <= self.covered:
                self.live = True
                return

    def deliver(self, batch: Sequence[StoredEvent]) -> None:
        """A live batch from the feed: sent now, or, while paused or catching up, read back later."""
        if self.closed:
            return
        if not self.live or self.paused:
            self.live = False
            self._behind = max(self._behind, batch[-1].id)
            self._fell_behind = _fire(self._fell_behind)
            return
        self._send([event for event in batch if event.id > self.covered and self._wanted(event)])
        self.covered = max(self.covered, batch[-1].id)

    def _send(self, events: list[StoredEvent]) -> None:
        """Write ``events`` (chosen by the filters), coalesced if asked."""
        if self.coalesce:
            events = coalesced(events)
        if events:
            self._write(b"".join(message(event) for event in events))

    def _wanted(self, event: StoredEvent) -> bool:
        """Whether a live event passes the filters (the backlog's are chosen by the database)."""
        if self.node is not None and event.node != self.node:
            return False
        return self.since is None or utc(moment_from_iso(event.json["at"])) >= self.since

    def _write(self, data: bytes) -> None:
        if not self.closed:
            self._request.write(data)

    def _beat(self) -> None:
        """Send a keep-alive, and ask again whether the credential may still read the stream."""
        self._write(KEEP_ALIVE)
        if self.readmit is None or self._checking is not None:
            return
        self._checking = Deferred.fromCoroutine(_awaited(self.readmit()))
        self._checking.addCallbacks(lambda _: None, self._refused)
        self._checking.addBoth(self._checked)

    def _refused(self, failure: Failure) -> None:
        if failure.check(RegionError):
            log.info("an event stream's credential is no longer allowed ({why}): ending the stream",
                     why=failure.value.message)
            self.close()
        else:
            log.failure("checking an event stream's credential again failed; it goes on", failure)

    def _checked(self, result: Any) -> None:
        self._checking = None

    def _until_behind(self) -> Deferred[None]:
        """Wait until a batch must be read back (the stream fell behind) or the stream closes."""
        if self.closed or not self.live:
            return succeed(None)
        self._fell_behind = Deferred()
        return self._fell_behind

    def _until_resumed(self) -> Deferred[None]:
        """Wait until the client's connection takes more, or the stream closes."""
        if self.closed or not self.paused:
            return succeed(None)
        self._resumed = Deferred()
        return self._resumed

    def close(self) -> None:
        """End the stream: the client went away, or the feed stopped."""
        self.closed = True
        self._fell_behind = _fire(self._fell_behind)
        self._resumed = _fire(self._resumed)

    # IPushProducer, for the client's connection

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._resumed = _fire(self._resumed)

    def stopProducing(self) -> None:
        self.close()


async def _awaited(work: Awaitable[Any]) -> Any:
    return await work


def _fire(waiting: Deferred[None] | None) -> None:
    """Fire ``waiting``, if something waits; nothing waits afterwards."""
    if waiting is not None and not waiting.called:
        waiting.callback(None)
    return None


class EventStreamAPI:
    """
    The event stream's route.

    A mixin: the class serving it has ``database``, ``clock``, ``contract``,
    ``access``, ``feed`` (the region's
    :class:`~pserv.region.event_feed.EventFeed`) and
    ``app = Routes(EventStreamAPI.routes, ...)``.
    """

    routes = Routes()

    @routes.route(STREAM, methods=["GET"])
    @streaming
    async def stream_events(self, request: Any, who: str) -> EventStream:
        query = self.contract.query("streamEvents", request)
        resume = self.contract.header("streamEvents", request, "Last-Event-ID")
        node = None if query["node"] is None else await self.database.run(node_id, str(query["node"]))
        start = resume if resume is not None else query["after"]
        since = None if query["since"] is None else utc(moment_from_rfc3339(query["since"]))
        return EventStream(self.feed, self.database, self.clock, start, node, since, query["coalesce"] == "node",
                           readmit=lambda: self.access.admit(request, STREAM))
