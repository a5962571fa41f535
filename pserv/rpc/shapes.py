"""
The JSON data shapes the commands carry, and their checks.

Each ``check_*`` function takes what came off the wire and either returns
it unchanged or raises :class:`~pserv.rpc.common.InvalidRequest` naming the
first bad field.  Keys a shape does not name are let through, so that a
newer peer may add some.  ``docs/rpc.md`` describes each shape.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping

from pserv.power.outcome import Outcome
from pserv.power.states import ActionKind, PowerState
from pserv.rpc.common import InvalidRequest
from pserv.util.times import iso_from_seconds

Check = Callable[[Any], bool]


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _dict(value: Any) -> bool:
    return isinstance(value, dict)


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _one_of(*choices: str) -> Check:
    return lambda value: value in choices


def _iso_time(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


KINDS = tuple(kind.value for kind in ActionKind)
STATES = tuple(state.value for state in PowerState)

RECOVERY_ACTION: dict[str, Check] = {
    "id": _int, "kind": _one_of(*KINDS), "generation": _int,
    "status": _one_of("pending", "sent", "running"), "progress": _optional(_str),
    "cancel_requested": _bool,
}

RECOVERY_NODE: dict[str, Check] = {
    "node": _int, "name": _str, "power_type": _str, "power_parameters": _dict,
    "desired_power_state": _one_of("on", "off", "unknown"), "generation": _int,
    "actions": lambda value: isinstance(value, list),
}


POWER_REQUEST: dict[str, Check] = {
    "action": _int, "node": _int, "name": _str, "kind": _one_of(*KINDS),
    "generation": _int, "power_type": _str, "power_parameters": _dict,
}

OUTCOME: dict[str, Check] = {
    "action": _int, "node": _int, "status": _one_of("done", "failed", "superseded", "cancelled"),
    "generation": _int, "power_state": _optional(_one_of(*STATES)), "error": _optional(_str),
    "fatal": _bool, "superseded_by": _optional(_int), "commands": _list_of(_str),
}

OUTCOME_OPTIONAL: dict[str, Check] = {"observed_at": _optional(_iso_time)}
"""Outcome fields older clusters leave out."""

OBSERVED_STATE: dict[str, Check] = {
    "node": _int, "power_state": _one_of("on", "off", "error"), "error": _optional(_str),
    "observed_at": _iso_time,
}


def check_shape(value: Any, shape: Mapping[str, Check], what: str,
                optional: Mapping[str, Check] | None = None) -> dict[str, Any]:
    """
    ``value`` if it is a dict whose fields pass ``shape``'s checks, and
    whose ``optional`` fields, where present, pass theirs.

    :raises InvalidRequest: naming ``what`` and the first bad field.
    """
    if not isinstance(value, dict):
        raise InvalidRequest(f"{what}: must be an object")
    for field, check in shape.items():
        if field not in value:
            raise InvalidRequest(f"{what}: {field} is missing")
        if not check(value[field]):
            raise InvalidRequest(f"{what}: {field} is not valid")
    for field, check in (optional or {}).items():
        if field in value and not check(value[field]):
            raise InvalidRequest(f"{what}: {field} is not valid")
    return value


def check_recovery_node(value: Any) -> dict[str, Any]:
    """A recovery node entry, its actions included."""
    node = check_shape(value, RECOVERY_NODE, "node")
    for action in node["actions"]:
        check_shape(action, RECOVERY_ACTION, f"node {node['node']}: action")
    return node


def check_power_request(value: Any) -> dict[str, Any]:
    """A power request (``PerformPower``)."""
    return check_shape(value, POWER_REQUEST, "request")


def check_outcome(value: Any) -> dict[str, Any]:
    """
    An action's outcome (``ReportOutcome``).  ``observed_at``, when its
    power state was read, is optional: clusters before it did not send it.
    """
    return check_shape(value, OUTCOME, "outcome", OUTCOME_OPTIONAL)


def check_observed_state(value: Any) -> dict[str, Any]:
    """An observed power state (``ReportPowerStates``)."""
    return check_shape(value, OBSERVED_STATE, "state")


def outcome_json(node: int, outcome: Outcome) -> dict[str, Any]:
    """
    The ``ReportOutcome`` shape of a registry :class:`~pserv.power.outcome.Outcome`
    for ``node``.
    """
    return {
        "action": outcome.action_id, "node": node, "status": outcome.status.value,
        "generation": outcome.generation,
        "power_state": outcome.state.value if outcome.state is not None else None,
        "error": outcome.error, "fatal": outcome.fatal, "superseded_by": outcome.superseded_by,
        "commands": list(outcome.commands),
        "observed_at": None if outcome.observed_at is None else iso_from_seconds(outcome.observed_at),
    }
