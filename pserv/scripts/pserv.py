"""
``pserv``: the operator's command.  It runs the demo, or one of the
client's commands against the region's REST API.  Each client command
names its handler as ``"module:function"`` in :mod:`pserv.client`,
imported only when it runs, so ``pserv --help`` stays quick.  Everything a
user can cause ends as one line on stderr and an exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from argparse import Namespace
from importlib import import_module
from pathlib import Path
from typing import Any, Awaitable, Callable

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime

from pserv import __version__
from pserv.client.choices import POWER_ACTIONS, POWER_STATES
from pserv.client.config import Credentials, check_token, check_url, resolve_credentials
from pserv.client.errors import ClientError, ConfigError, UnreachableError, UsageError
from pserv.client.http import ApiClient
from pserv.client.output import error, note
from pserv.power.boot import BootDevice
from pserv.scripts.support import OneLineParser, run_on_reactor

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
    _add_locks(commands, common)
    _add_actions(commands, common)
    _add_events(commands, common)
    _leaf(commands, "whoami", "whoami:whoami", common, "show the token's name and role")
    shown = _leaf(commands, "metrics", "metrics:metrics", common, "print the region's Prometheus metrics")
    shown.add_argument("--name", dest="metrics_name", metavar="PREFIX",
                       help="only the metrics whose name starts with PREFIX, one sample a line")


def is_client_command(args: argparse.Namespace) -> bool:
    """
    Whether ``args`` name one of the client's commands.
    """
    return getattr(args, "client_handler", None) is not None


def build_client_parser() -> argparse.ArgumentParser:
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
    listing.add_argument("--group", help="only nodes of this cluster group")
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
    parser.add_argument("--group", help="its cluster group, whose members the region gives it to; empty for none")
    parser.add_argument("--cluster", help="the cluster that acts for it (a node of no group); empty for none")
    parser.add_argument("--drift-policy", dest="drift_policy", choices=("observe", "enforce"),
                        help="when power drifts from the desired state: observe it, or enforce the desired state")
    parser.add_argument("--set", dest="settings", metavar="KEY=VALUE", action="append", default=[],
                        help="a power parameter; repeat for each")


def _add_power(commands: Any, common: Any) -> None:
    power = _leaf(commands, "power", "power:request_power", common,
                  "power nodes on, off, cycle or soft-off, or query their state")
    power.description += " With --wait, exit 1 also when any action failed, was superseded " \
                         "or cancelled, or time ran out."
    power.add_argument("action", metavar="ACTION", choices=list(POWER_ACTIONS), help=", ".join(POWER_ACTIONS))
    power.add_argument("nodes", metavar="NODE", nargs="+", help="ids or names; several make one bulk request")
    power.add_argument("--wait", action="store_true", help="wait until every action is final, with progress on stderr")
    power.add_argument("--timeout", type=_positive(float), metavar="SECONDS", help="with --wait: give up after this long (600)")
    power.add_argument("--escalate-after", dest="escalate_after", type=_positive(float), metavar="SECONDS",
                       help="with soft-off: force the node off if it has not shut down after this long")
    power.add_argument("--boot-device", dest="boot_device", choices=[d.value for d in BootDevice],
                       help="with on or cycle: the device the node boots from next, set before the power command")
    power.add_argument("--persistent", dest="boot_persistent", action="store_true",
                       help="with --boot-device: for every boot, not the next only")
    power.add_argument("--reason", metavar="TEXT",
                       help="why (1 to 500 characters, one line): kept with each action and in its event")
    power.add_argument("--dry-run", dest="dry_run", action="store_true",
                       help="ask for nothing: print how many of the nodes the request would change")
    power.add_argument("--not-before", dest="not_before", metavar="TIME",
                       help="commit now, hand over at this RFC 3339 time with its offset (at most 30 days ahead), "
                       "e.g. 2026-12-04T22:00:00+01:00")


def _add_locks(commands: Any, common: Any) -> None:
    lock = _leaf(commands, "lock", "locks:lock_node", common,
                 "lock a node: it refuses off, cycle and soft-off until unlocked")
    lock.add_argument("node", metavar="NODE", help="id or name")
    lock.add_argument("--reason", metavar="TEXT", required=True, help="why (1 to 200 characters, one line)")
    unlock = _leaf(commands, "unlock", "locks:unlock_node", common, "unlock a locked node")
    unlock.add_argument("node", metavar="NODE", help="id or name")


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
    events.add_argument("--order", choices=("asc", "desc"), default="asc",
                        help="asc: oldest first (the default); desc: newest first")
    _add_paging(events)
    events.add_argument("--before", type=int, metavar="ID", help="only events before this id (with --order desc: "
                        "start before it)")
    events.add_argument("--follow", action="store_true",
                        help="keep printing events as they are stored, from the region's event stream, until interrupted")


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


EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
BAD_INPUT = frozenset({400, 404, 409, 413})

Handler = Callable[[Namespace, ApiClient, IReactorTime], Awaitable[int]]


def handler_for(args: Namespace) -> Handler:
    """
    The command function ``args.client_handler`` names.
    """
    module, name = args.client_handler.split(":")
    return getattr(import_module(f"pserv.client.{module}"), name)


async def execute(args: Namespace, api: ApiClient, clock: IReactorTime) -> int:
    """
    Run the command ``args`` name with ``api`` and ``clock``.

    :returns: its exit status; 2 for bad input (a usage error, or the
        region's 400/404/409/413), 1 when the region cannot be reached or
        refuses the token, 130 when cancelled (interrupted).
    """
    try:
        return await handler_for(args)(args, api, clock)
    except UsageError as e:
        error(str(e))
        return EXIT_USAGE
    except ClientError as e:
        return _client_error(e)
    except (UnreachableError, ConfigError) as e:
        error(str(e))
        return EXIT_FAILED
    except CancelledError:
        note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_FAILED


def run_client(args: Namespace) -> int:
    """
    Run the command ``args`` name on Twisted's default reactor; an
    interrupt (SIGINT, SIGTERM) cancels it.

    :returns: its exit status.
    """
    try:
        credentials = _credentials(args)
    except UsageError as e:
        error(str(e))
        return EXIT_USAGE
    except ConfigError as e:
        error(str(e))
        return EXIT_FAILED

    async def main(reactor: Any) -> int:
        api = ApiClient(credentials.url, credentials.token, reactor)
        running = Deferred.fromCoroutine(execute(args, api, reactor))
        reactor.addSystemEventTrigger("before", "shutdown", running.cancel)
        return await running

    return run_on_reactor(main)


def _credentials(args: Namespace) -> Credentials:
    if getattr(args, "login_url", None) is None:
        return resolve_credentials(args, os.environ)
    if args.login_token == "-":
        args.login_token = sys.stdin.readline().strip()
    return Credentials(check_url(args.login_url), check_token(args.login_token))


def _client_error(e: ClientError) -> int:
    if e.status == 401:
        error(f"{e.error}: run pserv login URL TOKEN")
        return EXIT_FAILED
    error(str(e))
    return EXIT_USAGE if e.status in BAD_INPUT else EXIT_FAILED


def _quiet_stdout() -> None:
    """
    Point stdout at /dev/null, so that the flush at exit does not fail again.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv`` argument parser.
    """
    parser = OneLineParser(
        prog="pserv",
        description="Bare-metal power control that does not lose an operator's intent.",
    )
    parser.add_argument("--version", action="version", version=f"pserv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run a whole pserv on this machine: region, cluster, emulated BMCs and PDU")
    demo.add_argument("--nodes", type=int, default=4, help="how many emulated IPMI BMCs (4)")
    demo.add_argument("--spare-bmcs", dest="spare_bmcs", type=int, default=0, metavar="N",
                      help="also start N emulated IPMI BMCs that are not enrolled, and print their ports and user (0)")
    demo.add_argument("--listen", default="127.0.0.1:5240", help="HOST:PORT for the API (127.0.0.1:5240)")
    demo.add_argument("--rpc-listen", dest="rpc_listen", default="127.0.0.1:5250",
                      help="HOST:PORT for the cluster RPC (127.0.0.1:5250)")
    demo.add_argument("--data-dir", dest="data_dir", type=Path, help="keep the region's data here (a new temporary directory)")
    demo.add_argument("--no-tour", dest="tour", action="store_false", help="skip the tour through the API")
    demo.add_argument("--exit", dest="stay", action="store_false", help="stop after the tour instead of serving")
    demo.add_argument("--registry", action="store_true",
                      help="instead: the power-action registry alone on in-memory BMCs, narrated")
    demo.add_argument("--seed", type=int, default=1, help="with --registry: seed for its choices")
    add_client_commands(parser, commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """
    Run ``pserv``; returns the exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(parser, args)
    if is_client_command(args):
        return run_client(args)
    parser.print_help()
    return 0


def _demo(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.nodes < 1:
        parser.error("--nodes must be at least 1")
    if args.spare_bmcs < 0:
        parser.error("--spare-bmcs must not be negative")
    if args.registry:
        from pserv.demo.registry import run_demo as run_registry_demo

        return run_registry_demo(nodes=args.nodes, seed=args.seed)
    from pserv.demo.system import DemoOptions, run_demo

    options = DemoOptions(nodes=args.nodes, spare_bmcs=args.spare_bmcs, listen=args.listen, rpc_listen=args.rpc_listen,
                          data_dir=args.data_dir, tour=args.tour, stay=args.stay)
    return run_demo(options)


if __name__ == "__main__":
    sys.exit(main())
