"""
What a live page tells ``/static/pserv.js``, on its ``<main>``: which
page it is (``data-live``: ``nodes``, ``node`` or ``batch``), the newest
event id when its data was read (``data-last-event``), so the event
stream (``/api/v1/events/stream?after=ID&coalesce=node``) starts exactly
after what the page shows, and the fragment it refreshes from
(``data-refresh``).  The newest id is read before the page's data, in the
same transaction: an event stored in between is streamed, and at worst
refreshes what the page already shows; none is missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy.engine import Connection

from pserv.region.store.events import newest_event_id


@dataclass(frozen=True)
class Live:
    """
    A live page's attributes.

    :ivar kind: ``nodes``, ``node`` or ``batch``: what the script refreshes.
    :ivar after: the newest event id when the page's data was read (0: none yet).
    :ivar refresh: the path of the fragment the script fetches to refresh
        the page (``/nodes/rows`` is the nodes page's, given ``ids``).
    :ivar node: on a node's page, the node's id (its stream is narrowed to it).
    """

    kind: str
    after: int
    refresh: str
    node: int | None = None

    @property
    def stream(self) -> str:
        """The event stream's path the page listens to."""
        narrowed = "" if self.node is None else f"&node={self.node}"
        return f"/api/v1/events/stream?after={self.after}&coalesce=node{narrowed}"


def newest_then(connection: Connection, read: Callable[..., Any], *args: Any) -> tuple[int, Any]:
    """The newest event id (0 if there is none), then what ``read(connection, *args)`` reads."""
    return newest_event_id(connection), read(connection, *args)
