"""
``pserv nodes list|show|add|update|delete``.
"""

from __future__ import annotations

from argparse import Namespace
from typing import Any

from twisted.internet.interfaces import IReactorTime

from pserv.scripts.support import parse_settings
from pserv.client.errors import UsageError
from pserv.client.http import ApiClient, node_path
from pserv.client.output import note_more, print_json, say
from pserv.client.settings import typed_settings
from pserv.client.tables import details, node_table

NODES = "/api/v1/nodes"


async def list_nodes(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Nodes matching the filters, every page unless ``--limit`` says fewer.
    ``--json`` prints the page shape ``{"items", "next"}``.
    """
    params = {
        "group": args.group, "cluster": args.cluster, "power_state": args.power_state,
        "desired_power_state": args.desired_power_state, "after": args.after,
    }
    page = await api.collect(NODES, params, args.limit)
    print_json(page) if args.json else say(node_table(page["items"]))
    note_more(page)
    return 0


async def show_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    One node, by id or name.
    """
    _show(args, (await api.get(node_path(args.node))).body)
    return 0


async def add_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Enrol a node: ``--name``, ``--power-type``, ``--group`` or ``--cluster``
    (empty for none) and ``--set KEY=VALUE`` power parameters.
    """
    body: dict[str, Any] = {"name": args.name, "power_type": args.power_type}
    if args.group is not None:
        body["group"] = args.group or None
    if args.cluster is not None:
        body["cluster"] = args.cluster or None
    if args.drift_policy is not None:
        body["drift_policy"] = args.drift_policy
    settings = parse_settings(args.settings)
    if settings:
        body["power_parameters"] = await typed_settings(api, args.power_type, settings)
    _show(args, (await api.post(NODES, body)).body)
    return 0


async def update_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Change a node. ``--set``/``--unset`` change single power parameters and
    keep the rest; a new ``--power-type`` starts from only the ``--set`` ones.
    """
    body: dict[str, Any] = {}
    if args.name is not None:
        body["name"] = args.name
    if args.group is not None:
        body["group"] = args.group or None
    if args.cluster is not None:
        body["cluster"] = args.cluster or None
    if args.power_type is not None:
        body["power_type"] = args.power_type
    if args.drift_policy is not None:
        body["drift_policy"] = args.drift_policy
    changed = await _new_parameters(args, api)
    if changed is not None:
        body["power_type"], body["power_parameters"] = changed
    if not body:
        raise UsageError("nothing to change: give --name, --group, --cluster, --power-type, --drift-policy, --set or --unset")
    _show(args, (await api.request("PATCH", node_path(args.node), body=body)).body)
    return 0


async def delete_node(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Delete a node. 204: gone. 202: an action is in flight, and the node is
    ``deleting`` until it stops (``--json`` prints it).
    """
    response = await api.request("DELETE", node_path(args.node))
    if response.status == 202:
        if args.json:
            print_json(response.body)
        else:
            say(f"{args.node}: deleting once the action in flight stops")
    elif not args.json:
        say(f"{args.node}: deleted")
    return 0


async def _new_parameters(args: Namespace, api: ApiClient) -> tuple[str, dict[str, Any]] | None:
    """
    The power type and the power parameters to send (the API takes both
    together), or None to leave them alone. The node's current parameters
    come back with secrets as "set", which keeps them.
    """
    settings = parse_settings(args.settings)
    if not (settings or args.unset or args.power_type):
        return None
    node = (await api.get(node_path(args.node))).body
    power_type = args.power_type or node["power_type"]
    settings = await typed_settings(api, power_type, settings)
    new_type = args.power_type not in (None, node["power_type"])
    current: dict[str, Any] = {} if new_type else dict(node["power_parameters"])
    for key in args.unset:
        if key not in current or key in settings:
            raise UsageError(f"--unset {key}: not set, or also given to --set")
        del current[key]
    return power_type, {**current, **settings}


def _show(args: Namespace, node: dict[str, Any]) -> None:
    print_json(node) if args.json else say(details(node, nested="power_parameters"))
