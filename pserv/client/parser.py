"""
The client's commands on the ``pserv`` parser. Each leaf command sets
``client_handler`` to ``"module:function"`` in :mod:`pserv.client`, imported
only when it runs, so ``pserv --help`` stays quick.
"""

from __future__ import annotations

import argparse
from typing import Any

from pserv.cli_support import OneLineParser

POWER_STATES = ("on", "off", "unknown", "error")
POWER_ACTIONS = ("on", "off", "cycle", "soft-off", "query")
EXITS = "Exit 0 on success, 1 when the region cannot be reached or refuses the token, " \
        "2 for bad input (including the region's 400, 404, 409 and 413)."


def add_client_commands(parser: argparse.ArgumentParser, commands: Any) -> None:
    """
    Add the global ``--url``, ``--token`` and ``--json`` to ``parser`` and
    the client's commands to ``commands`` (its subparsers). The global
    options may also follow a command.
    """
    _add_globals(parser, None)
    common = OneLineParser(add_help=False)
    _add_globals(common, argparse.SUPPRESS)
    _add_login(commands)
    _add_nodes(commands, common)
    _add_power(commands, common)
    _add_actions(commands, common)
    _add_events(commands, common)


def is_client_command(args: argparse.Namespace) -> bool:
    """
    Whether ``args`` name one of the client's commands.
    """
    return getattr(args, "client_handler", None) is not None


def build_parser() -> argparse.ArgumentParser:
    """
    A ``pserv`` parser with only the client's commands.
    """
    parser = OneLineParser(prog="pserv", description="Power control through the pserv region's API.")
    add_client_commands(parser, parser.add_subparsers(dest="command", metavar="COMMAND"))
    return parser


def _add_globals(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--url", dest="api_url", metavar="URL", default=default,
                        help="the region's URL (else $PSERV_URL, else the stored login)")
    parser.add_argument("--token", dest="api_token", metavar="TOKEN", default=default,
                        help="the API token (else $PSERV_TOKEN, else the stored login)")
    parser.add_argument("--json", action="store_true", default=default if default else False,
                        help="print the API's JSON instead of a table")


def _leaf(commands: Any, name: str, handler: str, common: Any, help: str) -> Any:
    leaf = commands.add_parser(name, parents=[common], help=help,
                               description=f"{help[0].upper()}{help[1:]}. {EXITS}")
    leaf.set_defaults(client_handler=handler)
    return leaf


def _add_login(commands: Any) -> None:
    login = commands.add_parser(
        "login", help="check a token against the region and store the URL and token",
        description="Check TOKEN against the region at URL and store both in $PSERV_CONFIG "
        "or ~/.config/pserv/cli.yaml (mode 0600). TOKEN - reads it from stdin. "
        "Exit 0 when stored, 1 when refused or unreachable, 2 for a malformed URL or token.",
    )
    login.add_argument("login_url", metavar="URL", help="e.g. https://region.example:5240")
    login.add_argument("login_token", metavar="TOKEN", help="the API token, or - to read it from stdin")
    login.set_defaults(client_handler="login:login")


def _add_nodes(commands: Any, common: Any) -> None:
    group = commands.add_parser("nodes", help="list, show, add, update and delete nodes")
    nodes = group.add_subparsers(dest="nodes_command", metavar="SUBCOMMAND", required=True)
    listing = _leaf(nodes, "list", "nodes:list_nodes", common, "list nodes, oldest id first")
    listing.add_argument("--cluster", help="only nodes of this cluster")
    listing.add_argument("--power-state", choices=POWER_STATES, help="only nodes last seen in this state")
    listing.add_argument("--desired-power-state", choices=POWER_STATES, help="only nodes meant to be in this state")
    _add_paging(listing)
    _leaf(nodes, "show", "nodes:show_node", common, "show a node").add_argument("node", metavar="NODE", help="id or name")
    add = _leaf(nodes, "add", "nodes:add_node", common, "enrol a node")
    add.add_argument("--name", required=True)
    add.add_argument("--power-type", required=True, metavar="TYPE", help="the power driver, e.g. ipmi")
    _add_node_settings(add)
    update = _leaf(nodes, "update", "nodes:update_node", common, "change a node")
    update.add_argument("node", metavar="NODE", help="id or name")
    update.add_argument("--name", help="a new name")
    update.add_argument("--power-type", metavar="TYPE", help="a new power driver (starts from only the --set parameters)")
    _add_node_settings(update)
    update.add_argument("--unset", metavar="KEY", action="append", default=[], help="remove a power parameter; repeat for each")
    delete = _leaf(nodes, "delete", "nodes:delete_node", common, "delete a node")
    delete.add_argument("node", metavar="NODE", help="id or name")


def _add_node_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", help="the cluster that acts for it; empty for none")
    parser.add_argument("--drift-policy", dest="drift_policy", choices=("observe", "enforce"),
                        help="when power drifts from the desired state: observe it, or enforce the desired state")
    parser.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                        help="a power parameter; repeat for each")


def _add_power(commands: Any, common: Any) -> None:
    power = _leaf(commands, "power", "power:request_power", common,
                  "power nodes on, off, cycle or soft-off, or query their state")
    power.description += " With --wait, exit 1 also when any action failed, was superseded " \
                         "or cancelled, or time ran out."
    power.add_argument("action", metavar="ACTION", choices=POWER_ACTIONS, help=", ".join(POWER_ACTIONS))
    power.add_argument("nodes", metavar="NODE", nargs="+", help="ids or names; several make one bulk request")
    power.add_argument("--wait", action="store_true", help="wait until every action is final, with progress on stderr")
    power.add_argument("--timeout", type=_positive(float), metavar="SECONDS", help="with --wait: give up after this long (600)")


def _add_actions(commands: Any, common: Any) -> None:
    group = commands.add_parser("actions", help="show, cancel and list power actions")
    actions = group.add_subparsers(dest="actions_command", metavar="SUBCOMMAND", required=True)
    _leaf(actions, "show", "actions:show_action", common, "show a power action").add_argument("id", type=int, metavar="ID")
    _leaf(actions, "cancel", "actions:cancel_action", common, "cancel a power action").add_argument("id", type=int, metavar="ID")
    listing = _leaf(actions, "list", "actions:list_actions", common, "list a node's power actions, newest first")
    listing.add_argument("node", metavar="NODE", help="id or name")
    _add_paging(listing, "before", "start before this id (older actions)")


def _add_events(commands: Any, common: Any) -> None:
    events = _leaf(commands, "events", "events:show_events", common, "show the audit log, oldest first")
    events.add_argument("--node", metavar="NODE", help="only this node's events (id or name)")
    events.add_argument("--since", metavar="TIME", help="only events at or after this RFC 3339 time")
    _add_paging(events)
    events.add_argument("--follow", action="store_true", help="keep printing new events until interrupted")
    events.add_argument("--interval", type=_positive(float), default=2.0, metavar="SECONDS",
                        help="with --follow: seconds between polls (2)")


def _add_paging(
    parser: argparse.ArgumentParser, cursor: str = "after", help: str = "start after this id"
) -> None:
    parser.add_argument("--limit", type=_positive(int), metavar="N", help="at most N items (default: all)")
    parser.add_argument(f"--{cursor}", type=int, metavar="ID", help=help)


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError("must be more than 0")
        return value
    return parse
