"""
Human tables and listings of the API's nodes, actions and events.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from pserv.client.output import one_line

NODE_COLUMNS = ("ID", "NAME", "CLUSTER", "TYPE", "POWER", "DESIRED", "LIFECYCLE")
ACTION_COLUMNS = ("ID", "NODE", "KIND", "STATUS", "POWER", "ERROR")


def cell(value: Any) -> str:
    """
    A value as table text: ``-`` for None, ``yes``/``no`` for booleans.
    """
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return one_line(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """
    Left-aligned columns two spaces apart, under a header line.
    """
    lines = [list(headers)] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip()
        for line in lines
    )


def node_table(nodes: Iterable[Mapping[str, Any]]) -> str:
    """
    One row per node.
    """
    return render_table(NODE_COLUMNS, (
        (n.get("id"), n.get("name"), n.get("cluster"), n.get("power_type"),
         n.get("power_state"), n.get("desired_power_state"), n.get("lifecycle"))
        for n in nodes
    ))


def action_table(actions: Iterable[Mapping[str, Any]]) -> str:
    """
    One row per action; NODE is the node's id.
    """
    return render_table(ACTION_COLUMNS, (
        (a.get("id"), a.get("node"), a.get("kind"), a.get("status"),
         a.get("power_state"), a.get("error"))
        for a in actions
    ))


def details(item: Mapping[str, Any], nested: str | None = None) -> str:
    """
    ``key: value`` lines for one object, keys aligned; the mapping under
    ``nested`` (a node's power parameters) follows, indented.
    """
    keys = [k for k in item if k != nested]
    width = max((len(k) for k in keys), default=0) + 1
    lines = [f"{(k + ':').ljust(width)} {cell(item[k])}" for k in keys]
    if nested is not None:
        lines.append(f"{nested}:")
        lines.extend(f"  {one_line(k)}: {cell(v)}" for k, v in sorted((item.get(nested) or {}).items()))
    return "\n".join(lines)


def event_line(event: Mapping[str, Any]) -> str:
    """
    One event as a log line: ``AT  #ID  NODE  KIND  MESSAGE``.
    """
    node = event.get("node_name") or event.get("node")
    return "  ".join((
        cell(event.get("at")), f"#{cell(event.get('id'))}", cell(node),
        cell(event.get("kind")), cell(event.get("message")),
    ))
