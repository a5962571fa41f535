"""
Tests for pserv.region.ui.formats.
"""

from datetime import datetime

import pytest

from pserv.region.ui.formats import STALE_AFTER, ago, node_count, node_path, span, stale, took, when, words

NOW = datetime(2026, 11, 22, 12, 0, 0)


@pytest.mark.parametrize("text, said", [
    ("2026-11-22T12:00:00.000Z", "just now"), ("2026-11-22T11:59:15.000Z", "45 s ago"),
    ("2026-11-22T11:58:00.000Z", "2 min ago"), ("2026-11-22T09:00:00.000Z", "3 h ago"),
    ("2026-11-21T12:00:00.000Z", "1 day ago"), ("2026-11-19T11:00:00.000Z", "3 days ago"),
    ("2026-11-22T12:00:30.000Z", "just now"), (None, "never"),
])
def test_ago(text, said):
    """How long ago, in the largest unit; a time from the future is now; none is never."""
    assert ago(text, NOW) == said


def test_stale_after_ten_minutes_or_never():
    """Older than the threshold, or never, is stale; exactly at it is not."""
    assert STALE_AFTER == 600
    assert not stale("2026-11-22T11:50:00.000Z", NOW) and stale("2026-11-22T11:49:59.000Z", NOW)
    assert stale(None, NOW)


def test_durations_times_paths_and_words():
    """took() spans two times (empty if one is missing); when() is UTC; a reserved name's page is its id."""
    assert took("2026-11-22T12:00:00.000Z", "2026-11-22T12:02:30.000Z") == "2 min"
    assert took("2026-11-22T12:00:00.000Z", None) == "" and span(59.6) == "60 s"
    assert when("2026-11-22T12:00:05.123Z") == "2026-11-22 12:00:05 UTC" and when(None) == ""
    assert node_path({"id": 7, "name": "node-7"}) == "/nodes/node-7"
    assert node_path({"id": 7, "name": "new"}) == "/nodes/7" and node_path({"id": 8, "name": "rows"}) == "/nodes/8"
    assert words("soft_off") == "soft off" and words(None) == ""


def test_node_counts_in_words():
    """A count of nodes says node or nodes as it should."""
    assert [node_count(n) for n in (0, 1, 2)] == ["0 nodes", "1 node", "2 nodes"]
