"""
Finding a node's ComputerSystem, its reset action, and its power state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from pserv.power.drivers.redfish.client import Node, RedfishClient, link_path
from pserv.power.drivers.redfish.errors import RedfishProtocolError
from pserv.power.errors import PowerSettingsError, PowerTransientError, PowerUnsupportedError
from pserv.power.states import PowerState

RESET = "#ComputerSystem.Reset"
ALLOWED = "ResetType@Redfish.AllowableValues"

SAFE_FALLBACKS: dict[str, tuple[str, ...]] = {"On": ("ForceOn",)}
"""Reset types that may stand in for another.  ``ForceOn`` only switches on.
``PushPowerButton`` toggles and ``ForceRestart`` reboots a running node, so
neither ever stands in; ``ForceOff`` and ``GracefulShutdown`` have none."""

STATES = {
    "On": PowerState.ON,
    "Off": PowerState.OFF,
    "PoweringOn": PowerState.OFF,
    "PoweringOff": PowerState.ON,
    "Paused": PowerState.ON,
}
"""Redfish ``PowerState`` to ours: a node is on only once it is fully on,
and off only once it is fully off."""


@dataclass(frozen=True, slots=True)
class SystemInfo:
    """
    What discovery found: the system and how to reset it.

    :ivar reset_types: the allowed ``ResetType`` values, or ``None`` when the
        BMC does not say.
    """

    path: str
    reset_target: str
    reset_types: frozenset[str] | None = None


async def discover(client: RedfishClient, node: Node) -> tuple[SystemInfo, dict[str, Any]]:
    """
    Find the node's ComputerSystem; fires with its info and its document.

    :raises PowerSettingsError: naming ``system_id`` when it matches nothing
        or is needed to choose among several systems.
    """
    root = await client.root(node)
    collection = await client.get(node, root.systems)
    members = member_paths(collection, f"{node.label}: GET {root.systems}")
    path = pick_system(members, node.system_id, node.label)
    if path is None:
        path = f"{root.systems.rstrip('/')}/{quote(node.system_id or '', safe='')}"
        document = await _named_system(client, node, path, members)
    else:
        document = await client.get(node, path, not_found_field="system_id")
    path = link_path(document.get("@odata.id")) or path
    info = reset_info(path, document, node.label)
    if info.reset_types is None:
        info = await _with_action_info(client, node, info, document)
    return info, document


def member_paths(collection: dict[str, Any], what: str) -> list[str]:
    """
    The paths of a collection's ``Members``.

    :raises RedfishProtocolError: when there is no ``Members`` list.
    """
    members = collection.get("Members")
    if not isinstance(members, list):
        raise RedfishProtocolError(f"{what}: no Members list")
    paths = [link_path(m.get("@odata.id")) for m in members if isinstance(m, dict)]
    return [p for p in paths if p]


def pick_system(members: list[str], system_id: str | None, label: str) -> str | None:
    """
    The member path for ``system_id``, the only member when it is unset, or
    ``None`` when ``system_id`` is set but no member's last segment matches.

    :raises PowerSettingsError: when there is no system, or several and no
        ``system_id``.
    """
    if system_id:
        if system_id.startswith("/"):
            return system_id
        matches = [p for p in members if _last_segment(p) == system_id]
        return matches[0] if matches else None
    if len(members) == 1:
        return members[0]
    if not members:
        raise PowerSettingsError(f"{label}: the BMC lists no ComputerSystem", field="address")
    raise PowerSettingsError(
        f"system_id: {label} has {len(members)} systems ({_ids(members)}); "
        "set system_id to choose one", field="system_id",
    )


def reset_info(path: str, document: dict[str, Any], label: str) -> SystemInfo:
    """
    The reset target and allowed reset types from a system's ``Actions``.

    :raises PowerUnsupportedError: when the system has no reset action.
    """
    action = (document.get("Actions") or {}).get(RESET)
    if not isinstance(action, dict):
        raise PowerUnsupportedError(f"{label}: {path} has no ComputerSystem.Reset action")
    target = link_path(action.get("target"))
    if target is None:
        raise RedfishProtocolError(f"{label}: {path}: ComputerSystem.Reset has no target")
    return SystemInfo(path, target, _allowed(action.get(ALLOWED)))


def choose_reset_type(wanted: str, info: SystemInfo, label: str) -> str:
    """
    ``wanted`` if the BMC allows it (or does not say: no or an empty list),
    else a safe stand-in.

    :raises PowerUnsupportedError: when neither is allowed.
    """
    allowed = info.reset_types
    if not allowed or wanted in allowed:
        return wanted
    for fallback in SAFE_FALLBACKS.get(wanted, ()):
        if fallback in allowed:
            return fallback
    raise PowerUnsupportedError(
        f"{label}: the BMC does not allow reset type {wanted} "
        f"(allows: {', '.join(sorted(allowed))})"
    )


def power_state(document: dict[str, Any], label: str) -> PowerState:
    """
    Our power state from a ComputerSystem document.

    :raises PowerTransientError: when the BMC does not report one (yet).
    :raises RedfishProtocolError: when it reports something unknown.
    """
    value = document.get("PowerState")
    if value is None:
        raise PowerTransientError(f"{label}: the system reports no PowerState")
    try:
        return STATES[value]
    except (KeyError, TypeError):
        raise RedfishProtocolError(f"{label}: unknown PowerState {str(value)[:40]!r}") from None


async def _named_system(client: RedfishClient, node: Node, path: str, members: list[str]) -> dict[str, Any]:
    try:
        return await client.get(node, path, not_found_field="system_id")
    except PowerSettingsError:
        raise PowerSettingsError(
            f"system_id: {node.label} has no system {node.system_id!r} "
            f"(it has: {_ids(members) or 'none'})", field="system_id",
        ) from None


async def _with_action_info(
    client: RedfishClient, node: Node, info: SystemInfo, document: dict[str, Any]
) -> SystemInfo:
    action = document["Actions"][RESET]
    path = link_path(action.get("@Redfish.ActionInfo"))
    if path is None:
        return info
    action_info = await client.get(node, path)
    for parameter in action_info.get("Parameters") or ():
        if isinstance(parameter, dict) and parameter.get("Name") == "ResetType":
            return SystemInfo(info.path, info.reset_target, _allowed(parameter.get("AllowableValues")))
    return info


def _allowed(values: Any) -> frozenset[str] | None:
    if not isinstance(values, list):
        return None
    allowed = frozenset(v for v in values if isinstance(v, str))
    return allowed or None


def _last_segment(path: str) -> str:
    return unquote(path.rstrip("/").rsplit("/", 1)[-1])


def _ids(members: list[str], most: int = 10) -> str:
    ids = [_last_segment(p) for p in members[:most]]
    return ", ".join(ids) + (", ..." if len(members) > most else "")
