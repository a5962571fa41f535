"""
The region's feed of new events: one poller per region process that reads
the events stored after the last one it saw, every
:data:`POLL_SECONDS` on the injected clock, while anyone listens, and
hands each batch to every listener (the event streams,
:mod:`pserv.region.stream`).  Every region on a database has its own
feed, so an event stored through any region reaches the streams of all.

The feed keeps a *horizon*: the id through which every event has been
handed out.  Events are read in id order; on PostgreSQL ids are taken
when a transaction inserts and seen when it commits, so a later id can be
seen before an earlier one.  The feed does not pass a missing id until it
appears or :data:`HOLD_SECONDS` have gone by (then it was rolled back: a
sequence never gives an id twice), so the horizon only ever passes events
that are stored and handed out, and a stream that resumes after an id it
has seen loses nothing.  (SQLite has one writer, whose ids are seen in
order.)

Polls never overlap: the next is scheduled when one ends.  A poll that
fails is logged and tried again at the next tick; the feed goes on.
When the last listener leaves the feed stops polling and forgets its
horizon; the next listener starts it again from the newest event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from sqlalchemy.engine import Connection
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from pserv.region.db import Database
from pserv.region.store.events import events_after, newest_event_id

log = Logger()

POLL_SECONDS = 0.25
"""How often the feed reads new events while anyone listens."""

BATCH = 1000
"""The most events one poll reads; a full batch is followed by the next poll at once."""

HOLD_SECONDS = 5.0
"""How long the feed waits for a missing id (an uncommitted transaction's) before passing it."""


@dataclass(frozen=True)
class StoredEvent:
    """
    One event of the log, as the API shows it (``json``) and as JSON text
    (``data``), encoded once for every listener.
    """

    json: dict[str, Any]
    data: bytes

    @property
    def id(self) -> int:
        """The event's id."""
        return int(self.json["id"])

    @property
    def node(self) -> int | None:
        """The id of the event's node, if it has one."""
        return self.json["node"]


def stored_event(event: dict[str, Any]) -> StoredEvent:
    """An event as the store reads it (``event_json``), with its JSON text."""
    return StoredEvent(event, json.dumps(event, separators=(",", ":")).encode("utf-8"))


def stored_events_after(connection: Connection, after: int, limit: int, **narrowing: Any) -> list[StoredEvent]:
    """
    :func:`~pserv.region.store.events.events_after`, each event with its
    JSON text: encoded on the database's thread, not the reactor's.
    """
    return [stored_event(event) for event in events_after(connection, after, limit, **narrowing)]


class Listener(Protocol):
    """What the feed hands batches to."""

    def deliver(self, batch: Sequence[StoredEvent]) -> None:
        """New events, oldest first, all after the horizon the last batch left."""

    def close(self) -> None:
        """The feed has stopped: no more batches will come."""


class EventFeed:
    """
    Reads new events while anyone listens, and hands them to every listener.

    :param database: where the events are.
    :param clock: when to poll, and how long an id has been missing.
    :param interval: seconds between polls.
    :param batch: the most events one poll reads.
    :param hold: seconds a missing id is waited for.
    """

    def __init__(self, database: Database, clock: IReactorTime, interval: float = POLL_SECONDS,
                 batch: int = BATCH, hold: float = HOLD_SECONDS) -> None:
        self.database = database
        self.clock = clock
        self.interval = interval
        self.batch = batch
        self.hold = hold
        self._listeners: dict[Listener, None] = {}
        self._horizon: int | None = None
        self._waiting: list[Deferred[int]] = []
        self._timer: IDelayedCall | None = None
        self._polling: Deferred[Any] | None = None
        self._more = False
        self._missing: tuple[int, float] | None = None

    @property
    def listeners(self) -> list[Listener]:
        """Who listens now, in the order they came."""
        return list(self._listeners)

    @property
    def horizon(self) -> int | None:
        """The id through which every event has been handed out; ``None`` while the feed is idle."""
        return self._horizon

    @property
    def next_poll(self) -> IDelayedCall | None:
        """The next poll, when one is scheduled (not while one runs)."""
        return self._timer

    @property
    def polling(self) -> bool:
        """Whether a poll is scheduled or running."""
        return self._timer is not None or self._polling is not None

    def subscribe(self, listener: Listener) -> Deferred[int]:
        """
        Hand ``listener`` every batch from now on.

        :returns: a Deferred of the horizon the first batch will start
            after, once the feed knows it (at once unless it was idle).
        """
        self._listeners[listener] = None
        if self._horizon is not None:
            return succeed(self._horizon)
        waiting: Deferred[int] = Deferred()
        self._waiting.append(waiting)
        if not self.polling:
            self._poll()
        return waiting

    def unsubscribe(self, listener: Listener) -> None:
        """Hand ``listener`` nothing more; with nobody left, stop polling."""
        self._listeners.pop(listener, None)
        if not self._listeners:
            self._idle()

    def stop(self) -> None:
        """Close every listener and stop polling: the region is stopping."""
        listeners, self._listeners = list(self._listeners), {}
        for listener in listeners:
            listener.close()
        self._answer_waiting(self._horizon or 0)
        self._idle()

    def _idle(self) -> None:
        """Nobody listens: cancel the next poll; forget the horizon unless a poll is still running."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._polling is None:
            self._horizon = None
            self._missing = None

    def _schedule(self, delay: float) -> None:
        """Poll in ``delay`` seconds, unless a poll is already scheduled or running, or nobody listens."""
        if self._timer is None and self._polling is None and self._listeners:
            self._timer = self.clock.callLater(delay, self._poll)

    def _poll(self) -> None:
        self._timer = None
        start = self._horizon
        if start is None:
            self._polling = polled = self.database.run(newest_event_id)
            polled.addCallback(self._started)
        else:
            self._polling = polled = self.database.run(stored_events_after, start, self.batch)
            polled.addCallback(self._read, start)
        polled.addErrback(self._failed)
        polled.addBoth(self._polled)

    def _started(self, newest: int) -> None:
        self._horizon = newest

    def _answer_waiting(self, horizon: int) -> None:
        waiting, self._waiting = self._waiting, []
        for answer in waiting:
            answer.callback(horizon)

    def _read(self, events: list[StoredEvent], start: int) -> None:
        batch = self._settled(events, start)
        self._more = len(batch) == self.batch
        if not batch:
            return
        self._horizon = batch[-1].id
        for listener in list(self._listeners):
            try:
                listener.deliver(batch)
            except Exception:
                log.failure("an event stream failed to take {count} events", count=len(batch))

    def _settled(self, events: list[StoredEvent], start: int) -> list[StoredEvent]:
        """
        The events up to the first id still missing (not yet committed,
        or rolled back): all of them when none is, or when the horizon is
        0 (a log with no event yet, whose first id can be anything).
        """
        expected = start + 1
        for index, event in enumerate(events):
            if event.id != expected and start != 0 and not self._given_up(expected, event.id):
                return events[:index]
            expected, start = event.id + 1, event.id
        self._missing = None
        return events

    def _given_up(self, missing: int, seen: int) -> bool:
        """Whether the ids from ``missing`` to before ``seen`` have been missing for :attr:`hold` seconds."""
        now = self.clock.seconds()
        if self._missing is None or self._missing[0] != missing:
            self._missing = (missing, now)
        if now - self._missing[1] < self.hold:
            return False
        log.info("events {first} to {last} never appeared in {hold} s: passing them (rolled back)",
                 first=missing, last=seen - 1, hold=self.hold)
        self._missing = None
        return True

    def _failed(self, failure: Any) -> None:
        self._more = False
        log.failure("reading new events failed; trying again in {interval} s", failure, interval=self.interval)

    def _polled(self, result: Any) -> None:
        """A poll has ended: schedule the next, then tell who waits for the horizon (so they find the next scheduled)."""
        self._polling = None
        if not self._listeners:
            self._idle()
        else:
            self._schedule(0 if self._more else self.interval)
        if self._horizon is not None:
            self._answer_waiting(self._horizon)
