"""
Times as pserv writes them: UTC, ISO 8601, milliseconds, ``Z``; and read
back, as aware UTC datetimes.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone

RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
"""An RFC 3339 ``date-time``, as JSON Schema's format means it."""


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


def is_rfc3339(text: object) -> bool:
    """
    Whether ``text`` is an RFC 3339 ``date-time``: real dates (29 February
    only in leap years, year 0 one), hours to 23, a leap second only at
    23:59 UTC, offsets to 23:59.  Anything but a string is not refused.
    """
    if not isinstance(text, str):
        return True
    found = RFC3339.fullmatch(text)
    if found is None:
        return False
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    off_hours, off_minutes = int(found.group(9) or 0), int(found.group(10) or 0)
    if not (1 <= month <= 12 and 1 <= day <= _days(year, month)):
        return False
    if hour > 23 or minute > 59 or second > 60 or off_hours > 23 or off_minutes > 59:
        return False
    if second == 60:
        sign = -1 if found.group(8) == "-" else 1
        utc_minutes = (hour * 60 + minute - sign * (off_hours * 60 + off_minutes)) % (24 * 60)
        return utc_minutes == 23 * 60 + 59
    return True


def moment_from_rfc3339(text: str) -> datetime:
    """
    An RFC 3339 ``date-time`` (see :func:`is_rfc3339`) as an aware UTC
    datetime: a leap second is the last microsecond before it, fractions
    past microseconds are dropped, and times outside Python's years 1 to
    9999 are the first or the last moment it has.

    :raises ValueError: if ``text`` is not one.
    """
    if not isinstance(text, str) or not is_rfc3339(text):
        raise ValueError("not an RFC 3339 date-time")
    found = RFC3339.fullmatch(text)
    assert found is not None
    year, month, day, hour, minute, second = (int(found.group(i)) for i in range(1, 7))
    micro = int((found.group(7) or "0")[:6].ljust(6, "0"))
    if second == 60:
        second, micro = 59, 999999
    offset = timedelta(hours=int(found.group(9) or 0), minutes=int(found.group(10) or 0))
    offset = -offset if found.group(8) == "-" else offset
    if year == 0:
        return datetime.min.replace(tzinfo=timezone.utc)
    local = datetime(year, month, day, hour, minute, second, micro)
    try:
        return (local - offset).replace(tzinfo=timezone.utc)
    except OverflowError:
        return (datetime.min if offset > timedelta(0) else datetime.max).replace(tzinfo=timezone.utc)


def _days(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return calendar.monthrange(2001, month)[1] if month != 2 else 28
