"""
What the drivers answered before the region stopped loading them:
``settings_answers.jsonl``, one line per input, captured at 5d7b644 from
``pserv.region.store.nodes.split_settings`` (which then built the node's
driver and called its ``validate``).  Each line holds ``power_type``,
``raw`` and ``outcome``: ``{"plain", "secrets"}``, or ``{"error", "field"}``.
"""

import json
from pathlib import Path

ANSWERS = Path(__file__).with_name("settings_answers.jsonl")


def settings_answers() -> list[dict]:
    """Every captured input with its answer."""
    with ANSWERS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]
