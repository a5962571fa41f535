"""
Tests for pserv.util.times.
"""

from datetime import datetime, timedelta, timezone

import pytest

from pserv.util.times import (
    is_rfc3339,
    iso_from_moment,
    iso_from_seconds,
    moment_from_iso,
    moment_from_rfc3339,
    moment_from_seconds,
)


def test_iso_from_seconds():
    """Clock readings become UTC ISO 8601 with milliseconds and Z."""
    assert iso_from_seconds(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_seconds(1.5) == "1970-01-01T00:00:01.500Z"


def test_moments_are_aware_utc():
    """A clock reading becomes an aware UTC datetime, written as iso_from_seconds writes it."""
    moment = moment_from_seconds(1.5)
    assert moment == datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=timezone.utc)
    assert iso_from_moment(moment) == iso_from_seconds(1.5)


def test_iso_from_moment_writes_utc():
    """Another offset is written as UTC; a naive datetime is taken to be UTC already."""
    plus_two = datetime(2026, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))
    assert iso_from_moment(plus_two) == iso_from_moment(datetime(2026, 5, 1, 12)) == "2026-05-01T12:00:00.000Z"


def test_moment_from_iso_reads_back():
    """ISO 8601 with Z, another offset, or none (UTC) reads as aware UTC; anything else is refused."""
    expected = datetime(2026, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    for text in ("2026-05-01T12:00:00.250Z", "2026-05-01T14:00:00.250+02:00", "2026-05-01T12:00:00.250"):
        assert moment_from_iso(text) == expected and moment_from_iso(text).tzinfo is timezone.utc
    with pytest.raises(ValueError):
        moment_from_iso("yesterday")
    with pytest.raises(TypeError):
        moment_from_iso(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text, good",
    [
        ("2026-01-01T00:00:00Z", True), ("2026-01-01t00:00:00z", True), ("2024-02-29T00:00:00.5+05:30", True),
        ("2026-12-31T23:59:60Z", True), ("2026-01-01T00:59:60+01:00", True), ("0000-02-29T00:00:00Z", True),
        ("2026-01-01T12:00:60Z", False), ("2026-02-29T00:00:00Z", False), ("1900-02-29T00:00:00Z", False),
        ("2026-01-01", False), ("2026-01-01 00:00:00Z", False), ("2026-01-01T00:00:00", False),
        ("2026-01-01T00:00:00+24:00", False), ("2026-01-01T24:00:00Z", False), ("\u0662026-01-01T00:00:00Z", False),
    ],
)
def test_is_rfc3339(text, good):
    """RFC 3339 date-times as JSON Schema's format means them: real dates, leap seconds only at 23:59 UTC."""
    assert is_rfc3339(text) is good


def test_moment_from_rfc3339_clamps_what_python_cannot_hold():
    """A leap second is the microsecond before it; year 0 and year 10000 (by offset) are the first and last moments."""
    assert moment_from_rfc3339("2026-12-31T23:59:60Z") == datetime(2026, 12, 31, 23, 59, 59, 999999, timezone.utc)
    assert moment_from_rfc3339("2026-01-01T00:00:00.1234567-01:00") == datetime(
        2026, 1, 1, 1, 0, 0, 123456, timezone.utc)
    assert moment_from_rfc3339("0000-06-01T00:00:00Z") == datetime.min.replace(tzinfo=timezone.utc)
    assert moment_from_rfc3339("9999-12-31T23:59:59-01:00") == datetime.max.replace(tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        moment_from_rfc3339("2026-01-01")
