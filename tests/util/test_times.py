"""
Tests for pserv.util.times.
"""

from pserv.util.times import iso_from_seconds


def test_iso_from_seconds():
    """Clock readings become UTC ISO 8601 with milliseconds and Z."""
    assert iso_from_seconds(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_seconds(1.5) == "1970-01-01T00:00:01.500Z"
