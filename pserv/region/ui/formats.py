"""
How the pages show times, ages and durations, counts of nodes, and where
a node's page is:
Jinja2 filters (registered by :func:`pserv.region.html.environment`).
Ages are measured against the region's clock, which each page passes as
``now``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from pserv.region.store.common import utc
from pserv.util.times import moment_from_iso

STALE_AFTER = 600.0
"""Seconds after which an observed power state is shown as stale: two of
a cluster's power sweeps at their default interval (300 s)."""

RESERVED = frozenset({"new", "rows"})
"""Node names that are also pages under /nodes/: such a node's page is at its id."""


def moment(text: str | None) -> datetime | None:
    """An API time (ISO 8601) as the store keeps times: naive UTC."""
    return None if text is None else utc(moment_from_iso(text))


def age(text: str | None, now: datetime) -> float | None:
    """Seconds from the time ``text`` to ``now``; ``None`` for no time."""
    then = moment(text)
    return None if then is None else (utc(now) - then).total_seconds()


def stale(text: str | None, now: datetime, after: float = STALE_AFTER) -> bool:
    """Whether an observation made at ``text`` is too old to trust (never made: stale)."""
    seconds = age(text, now)
    return seconds is None or seconds > after


def ago(text: str | None, now: datetime) -> str:
    """How long ago ``text`` was, as people say it: ``2 min ago``; ``never`` for no time."""
    seconds = age(text, now)
    if seconds is None:
        return "never"
    return f"{span(seconds)} ago" if seconds >= 1 else "just now"


def span(seconds: float) -> str:
    """A length of time in its largest unit: ``45 s``, ``2 min``, ``3 h``, ``2 days``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min"
    if seconds < 86400:
        return f"{seconds // 3600:.0f} h"
    days = seconds // 86400
    return f"{days:.0f} day" + ("s" if days != 1 else "")


def took(start: str | None, end: str | None) -> str:
    """How long from ``start`` to ``end``; empty if either is missing."""
    first, last = moment(start), moment(end)
    if first is None or last is None:
        return ""
    return span(max(0.0, (last - first).total_seconds()))


def when(text: str | None) -> str:
    """A time as the pages show it: ``2026-11-22 12:00:05 UTC``; empty for none."""
    then = moment(text)
    return "" if then is None else then.strftime("%Y-%m-%d %H:%M:%S UTC")


def node_path(node: Any) -> str:
    """The path of a node's page (a node JSON): by name, or by id if the name is a page's."""
    name = node["name"]
    return f"/nodes/{node['id'] if name in RESERVED else quote(name, safe='')}"


def words(value: str | None) -> str:
    """An API name as words: ``soft_off`` as ``soft off``; empty for none."""
    return "" if value is None else value.replace("_", " ")


def node_count(count: int) -> str:
    """How many nodes, in words: ``12 nodes``, ``1 node``."""
    return f"{count} node" + ("" if count == 1 else "s")


FILTERS = {"ago": ago, "took": took, "when": when, "node_path": node_path, "words": words, "node_count": node_count}
"""The filters the templates use."""

TESTS = {"stale": stale}
"""The tests the templates use (``x is stale(now)``)."""
