"""
What the drivers answered before the region stopped loading them:
``settings_answers.jsonl``, one line per input, captured at 5d7b644 from
``pserv.region.store.nodes.split_settings`` (which then built the node's
driver and called its ``validate``).  Each line holds ``power_type``,
``raw`` and ``outcome``: ``{"plain", "secrets"}``, or ``{"error", "field"}``.
"""

import json
from pathlib import Path
from typing import Any, Mapping

from pserv.power.types.bmc_limits import BMC_LIMITS

ANSWERS = Path(__file__).with_name("settings_answers.jsonl")


def settings_answers() -> list[dict]:
    """Every captured input with its answer."""
    with ANSWERS.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


ADDED = frozenset(s.name for s in BMC_LIMITS)
"""Settings added since the capture (the per-BMC limits), which no captured input names."""


def as_captured(cleaned: Mapping[str, Any]) -> dict[str, Any]:
    """Cleaned settings without the ones added since the capture, each of which must be left unset."""
    assert all(cleaned.get(name) is None for name in ADDED & set(cleaned)), cleaned
    return {k: v for k, v in cleaned.items() if k not in ADDED}
