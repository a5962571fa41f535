"""
``pserv power on|off|cycle|soft-off|query NODE... [--wait] [--timeout S]
[--escalate-after S]``.
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
from pserv.power.states import ActionKind, ActionStatus

DEFAULT_TIMEOUT = 600.0
EXIT_OK, EXIT_FAILED = 0, 1


async def request_power(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Ask for one power action per node: one node with
    ``POST /api/v1/nodes/{node}/power``, several with one bulk
    ``POST /api/v1/power``. With ``--wait``, poll until every action is final.

    :returns: 0 when accepted (or, with ``--wait``, when all are done); 1
        when any failed, was superseded or cancelled, or time ran out.
    """
    if args.timeout is not None and not args.wait:
        raise UsageError("--timeout: only with --wait")
    kind = POWER_ACTIONS[args.action]
    escalate_after = args.escalate_after
    if escalate_after is not None and kind is not ActionKind.SOFT_OFF:
        raise UsageError("--escalate-after: only with soft-off")
    asked = {"action": kind.value, **({} if escalate_after is None else {"escalate_after": escalate_after})}
    nodes = list(dict.fromkeys(args.nodes))
    if len(nodes) == 1:
        actions = [await _request_one(api, nodes[0], asked)]
    else:
        response = await api.post("/api/v1/power", {**asked, "nodes": nodes})
        actions = response.body["actions"]
    if not args.wait:
        _show(args, actions, single=len(nodes) == 1)
        return EXIT_OK
    timeout = DEFAULT_TIMEOUT if args.timeout is None else args.timeout
    result = await wait_for_actions(api, actions, clock, timeout=timeout, report=note)
    _show(args, result.actions, single=len(nodes) == 1)
    return _outcome(result, timeout)


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


def _show(args: Namespace, actions: list[dict[str, Any]], single: bool) -> None:
    if args.json:
        print_json(actions[0] if single else {"actions": actions})
    else:
        say(action_table(actions))
