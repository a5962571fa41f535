"""
``pserv metrics``: the region's Prometheus metrics, from ``GET /metrics``.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.interfaces import IReactorTime

from pserv.client.http import ApiClient
from pserv.client.output import print_json, say

METRICS = "/metrics"


async def metrics(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    The region's metrics as Prometheus' text format, or (``--json``) each
    family with its type, help and samples; ``--name PREFIX`` keeps only
    the families whose name starts so.
    """
    text = await api.text(METRICS)
    prefix = getattr(args, "metrics_name", None) or ""
    families = [f for f in text_string_to_metric_families(text) if f.name.startswith(prefix)]
    if args.json:
        print_json([_family(f) for f in families])
    elif not prefix:
        say(text.rstrip("\n"))
    else:
        say("\n".join(_lines(families)))
    return 0


def _family(family: Any) -> dict[str, Any]:
    return {"name": family.name, "type": family.type, "help": family.documentation,
            "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}


def _lines(families: list[Any]) -> list[str]:
    """The samples of ``families`` in the text format, one a line (no HELP or TYPE)."""
    lines = []
    for family in families:
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            lines.append(f"{sample.name}{{{labels}}} {sample.value:g}" if labels else f"{sample.name} {sample.value:g}")
    return lines
