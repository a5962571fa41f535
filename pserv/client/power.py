"""
``pserv power on|off|cycle|soft-off|query NODE... [--reason TEXT] [--wait]
[--timeout S] [--escalate-after S] [--dry-run] [--not-before TIME]``.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from twisted.internet.interfaces import IReactorTime

from pserv.client.choices import POWER_ACTIONS
from pserv.client.errors import UsageError
from pserv.client.http import ApiClient, node_path
from pserv.client.output import note, print_json, say
from pserv.client.tables import action_table
from pserv.client.wait import WaitResult, wait_for_actions
from pserv.power.boot import BOOT_KINDS
from pserv.power.states import ActionKind, ActionStatus
from pserv.util.times import RFC3339, is_rfc3339

DEFAULT_TIMEOUT = 600.0
EXIT_OK, EXIT_FAILED = 0, 1
BULK = "/api/v1/power"


async def request_power(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Ask for one power action per node: one node with
    ``POST /api/v1/nodes/{node}/power``, several with one bulk
    ``POST /api/v1/power``. With ``--wait``, poll until every action is
    final. With ``--dry-run``, ask nothing: print how many nodes the
    request would change (the bulk request's dry run, for one node too).

    :returns: 0 when accepted (or, with ``--wait``, when all are done); 1
        when any failed, was superseded or cancelled, or time ran out.
    """
    _check(args)
    asked = _asked(args)
    nodes = list(dict.fromkeys(args.nodes))
    if args.dry_run:
        preview = (await api.post(BULK, {**asked, "nodes": nodes, "dry_run": True})).body
        print_json(preview) if args.json else say(preview_line(preview))
        return EXIT_OK
    locked: list[dict[str, Any]] = []
    if len(nodes) == 1:
        batch, actions = None, [await _request_one(api, nodes[0], asked)]
    else:
        response = (await api.post(BULK, {**asked, "nodes": nodes})).body
        batch, actions, locked = response["batch"], response["actions"], response.get("locked", [])
        for node in locked:
            note(f"{node['name']}: locked by {node['locked_by']}: {node['lock_reason']}; left alone")
    if not args.wait:
        _show(args, batch, actions, locked)
        return EXIT_OK
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    result = await wait_for_actions(api, actions, clock, timeout=timeout, report=note)
    _show(args, batch, result.actions, locked)
    return _outcome(result, timeout)


def _check(args: Namespace) -> None:
    if args.timeout is not None and not args.wait:
        raise UsageError("--timeout: only with --wait")
    if args.dry_run and args.wait:
        raise UsageError("--dry-run: not with --wait (a dry run asks for nothing)")
    if args.escalate_after is not None and POWER_ACTIONS[args.action] is not ActionKind.SOFT_OFF:
        raise UsageError("--escalate-after: only with soft-off")
    if args.boot_device is not None and POWER_ACTIONS[args.action] not in BOOT_KINDS:
        raise UsageError("--boot-device: only with on or cycle")
    if args.boot_persistent and args.boot_device is None:
        raise UsageError("--persistent: only with --boot-device")
    if args.not_before is not None and not (isinstance(args.not_before, str) and RFC3339.fullmatch(args.not_before)
                                            and is_rfc3339(args.not_before)):
        raise UsageError("--not-before: an RFC 3339 time with its offset, e.g. 2026-12-04T22:00:00+01:00")


def _asked(args: Namespace) -> dict[str, Any]:
    """The request's body but for its nodes."""
    asked: dict[str, Any] = {"action": POWER_ACTIONS[args.action].value}
    if args.escalate_after is not None:
        asked["escalate_after"] = args.escalate_after
    if args.reason is not None:
        asked["reason"] = args.reason
    if args.boot_device is not None:
        asked["boot_device"] = args.boot_device
        asked["boot_persistent"] = args.boot_persistent
    if args.not_before is not None:
        asked["not_before"] = args.not_before
    return asked


def preview_line(preview: dict[str, Any]) -> str:
    """
    A dry run's counts: ``dry run: off of 3 nodes: 2 would change, 1 already off``,
    and ``, 1 locked (left alone)`` when some are locked against it.
    """
    target = ActionKind(preview["action"]).target
    kept = f"already {target.value}" if target is not None and preview["action"] != ActionKind.CYCLE else "unchanged"
    nodes = f"{preview['nodes']} node{'' if preview['nodes'] == 1 else 's'}"
    locked = f", {preview['locked']} locked (left alone)" if preview.get("locked") else ""
    return (f"dry run: {preview['action']} of {nodes}: {preview['change']} would change, "
            f"{preview['unchanged']} {kept}{locked}")


async def _request_one(api: ApiClient, node: str, asked: dict[str, Any]) -> dict[str, Any]:
    response = await api.post(node_path(node, "power"), asked)
    action = response.body
    if response.status == 200:
        note(f"{node}: same as outstanding action {action['id']} ({action['status']}); no new action")
    return action


def _outcome(result: WaitResult, timeout: float) -> int:
    if result.timed_out:
        ids = ", ".join(str(a["id"]) for a in result.outstanding)
        note(f"timed out after {timeout:g} s; still outstanding: action {ids}")
    for action in result.outstanding:
        if action["status"] == ActionStatus.TIMED_OUT:
            note(f"action {action['id']} timed out at the region: its cluster may still carry it out, "
                 f"and pserv actions show {action['id']} then shows how it ended")
    return EXIT_OK if result.succeeded else EXIT_FAILED


def _show(args: Namespace, batch: int | None, actions: list[dict[str, Any]], locked: list[dict[str, Any]]) -> None:
    if args.json:
        print_json(actions[0] if batch is None else {"batch": batch, "actions": actions, "locked": locked})
    else:
        say(action_table(actions))
