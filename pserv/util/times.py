"""
Times as pserv writes them: UTC, ISO 8601, milliseconds, ``Z``.
"""

from __future__ import annotations

from datetime import datetime, timezone


def iso_from_seconds(seconds: float) -> str:
    """A clock reading (seconds since the epoch) as ``2026-11-22T12:00:00.000Z``."""
    moment = datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"
