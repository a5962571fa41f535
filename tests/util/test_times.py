"""
Tests for pserv.util.times.
"""

from datetime import datetime, timedelta, timezone

import pytest

from pserv.util.times import iso_from_moment, iso_from_seconds, moment_from_iso, moment_from_seconds


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
