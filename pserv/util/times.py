"""
Times as pserv writes them: UTC, ISO 8601, milliseconds, ``Z``; and read
back, as aware UTC datetimes.
"""

from __future__ import annotations

from datetime import datetime, timezone


def moment_from_seconds(seconds: float) -> datetime:
    """A clock reading (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def iso_from_moment(moment: datetime) -> str:
    """
    A datetime as ``2026-11-22T12:00:00.000Z``; a naive one is taken to be
    UTC already.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def iso_from_seconds(seconds: float) -> str:
    """A clock reading (seconds since the epoch) as ``2026-11-22T12:00:00.000Z``."""
    return iso_from_moment(moment_from_seconds(seconds))


def moment_from_iso(text: str) -> datetime:
    """
    An ISO 8601 time as an aware UTC datetime; one without a UTC offset is
    taken to be UTC.

    :raises ValueError: if ``text`` is not an ISO 8601 time.
    :raises TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(text).__name__}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
