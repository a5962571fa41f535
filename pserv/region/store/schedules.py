"""
Scheduled power actions: a request may carry ``not_before``, a time before
which its action is not handed to a cluster.

The action is committed ``pending`` at once, with its time, and is the
node's newest intent like any other: a newer power request supersedes it,
a cancel cancels it, and a request coalesces with it only if it asks the
same at the same time (a scheduled action does not swallow a request for
now, nor a request for now a scheduled one).  Until its time it is *held*:
no claim (:func:`~pserv.region.store.recovery.claim_for_delivery`), no
recovery answer and no time-out sweep sees it, and a recovery tells its
cluster the node's generation from before it, so that nothing in the
cluster is superseded early.  At its time the region that accepted it
hands it over (a timer on its clock), or, after a restart, any region's
sweep (which arms a timer for each action due before its next pass); the
claim locks the node's row, so it is handed over once.  A time in the past
means now; one more than :data:`MAX_AHEAD` ahead is refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

from pserv.power.states import ActionStatus
from pserv.region import schema
from pserv.region.errors import Invalid
from pserv.region.store.common import utc

MAX_AHEAD = timedelta(days=30)
"""The furthest ahead a request may be scheduled."""

_ACTIONS = schema.power_actions


def schedule(not_before: datetime | None, now: datetime) -> datetime | None:
    """
    A request's ``not_before`` as the store keeps it: ``None`` (now) for
    none or a time not after ``now``.

    :raises Invalid: naming ``not_before``, for a time more than
        :data:`MAX_AHEAD` after ``now``.
    """
    if not_before is None:
        return None
    at, now = utc(not_before), utc(now)
    if at <= now:
        return None
    if at - now > MAX_AHEAD:
        raise Invalid(f"not_before: at most {MAX_AHEAD.days} days ahead", "not_before")
    return at


def held(row: Any, now: datetime) -> datetime | None:
    """The time an action row waits for, if it is still ahead of ``now``; else ``None``."""
    at = row.not_before
    return at if at is not None and at > utc(now) else None


def due(now: datetime) -> ColumnElement[bool]:
    """Actions no longer held at ``now``: unscheduled, or their time has come."""
    return or_(_ACTIONS.c.not_before.is_(None), _ACTIONS.c.not_before <= utc(now))


def counted_from() -> ColumnElement[Any]:
    """When an action's wait for its cluster began: its time if it has one, else when it was requested."""
    return func.coalesce(_ACTIONS.c.not_before, _ACTIONS.c.requested_at)


def coming(connection: Connection, now: datetime, until: datetime) -> list[tuple[int, datetime]]:
    """
    The pending actions held at ``now`` that come due by ``until``, each
    with its time, soonest first.
    """
    rows = connection.execute(
        select(_ACTIONS.c.id, _ACTIONS.c.not_before).where(
            _ACTIONS.c.status == ActionStatus.PENDING.value,
            and_(_ACTIONS.c.not_before > utc(now), _ACTIONS.c.not_before <= utc(until)),
        ).order_by(_ACTIONS.c.not_before, _ACTIONS.c.id)
    ).all()
    return [(row.id, row.not_before) for row in rows]
