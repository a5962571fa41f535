"""
``pserv-region``: the region controller's command.  It runs on Twisted's
default reactor and knows the production power types only; a test that
wants ``fake`` nodes in a real region process calls :func:`main` with
``power_types`` itself (no option, setting or file can add it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pserv.region.roles import ROLES
from pserv.scripts.support import OneLineParser

if TYPE_CHECKING:
    from pserv.power.types import PowerTypes

EXIT_OK, EXIT_FAILED = 0, 1


def build_parser() -> argparse.ArgumentParser:
    """
    The ``pserv-region`` argument parser.
    """
    parser = OneLineParser(
        prog="pserv-region",
        description="The pserv region controller: the store of intent and the REST API.",
    )
    parser.add_argument("--config", type=Path, help="config file (default /etc/pserv/region.yaml, if present)")
    parser.add_argument("--data-dir", dest="data_dir", help="database, secret and TLS material (default /var/lib/pserv)")
    parser.add_argument("--database", help="SQLAlchemy URL (default: SQLite in the data directory)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    init = commands.add_parser("init", help="create or upgrade the schema and the secret; print the first admin token")
    init.add_argument("--token-file", dest="token_file", type=Path, metavar="FILE",
                      help="write the first admin token to FILE (mode 0600, which must not exist) instead of printing it")
    run = commands.add_parser("run", help="serve the API")
    run.add_argument("--listen", help="HOST:PORT for the API (default 0.0.0.0:5240)")
    run.add_argument("--rpc-listen", dest="rpc_listen", help="HOST:PORT for the clusters' RPC (default 0.0.0.0:5250)")
    run.add_argument("--action-timeout", dest="action_timeout", type=float,
                     help="seconds before a pending action fails and a sent one times out (default 600)")
    run.add_argument("--name", help="this region's name among those sharing the database (default: its RPC HOST:PORT)")
    run.add_argument("--cluster-lease", dest="cluster_lease", type=float,
                     help="seconds a cluster's lease runs past each heartbeat (default 45); "
                          "a group's nodes fail over this long after their member stops answering")
    token = commands.add_parser("create-token", help="print a new API token")
    token.add_argument("name", help="who or what the token is for")
    token.add_argument("--role", choices=ROLES, default="admin",
                       help="what it may do: viewer, operator or admin (default admin, as before roles)")
    # No abbreviations: "--password SECRET" must not pass for --password-file
    # SECRET (and then show SECRET in the error about that file).
    user = commands.add_parser(
        "create-user", help="add a user of the UI", allow_abbrev=False,
        description="Add a user of the UI. The password comes from --password-file (its first line; - for "
        "stdin), else a prompt on a terminal, else the first line of stdin; never from the command line.",
    )
    user.add_argument("name", help="the user's login name")
    user.add_argument("--role", choices=ROLES, required=True, help="viewer, operator or admin")
    user.add_argument("--password-file", dest="password_file", metavar="FILE",
                      help="read the password from the first line of FILE (- for stdin)")
    return parser


def main(argv: list[str] | None = None, power_types: PowerTypes | None = None) -> int:
    """
    Run ``pserv-region``; returns the exit status.

    :param power_types: the power types nodes may have; the production
        ones (:data:`pserv.power.types.POWER_TYPES`) if not given.
    """
    from pserv.power.types import POWER_TYPES
    from pserv.region.config import ConfigError, load

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    overrides = {
        k: getattr(args, k, None) for k in (
            "data_dir", "database", "listen", "rpc_listen", "action_timeout", "name", "cluster_lease",
        )
    }
    try:
        config = load(args.config, overrides)
    except ConfigError as e:
        parser.error(str(e))
    args.power_types = power_types if power_types is not None else POWER_TYPES
    return COMMANDS[args.command](parser, config, args)


def _init(parser: Any, config: Any, args: Any) -> int:
    from pserv.region.service import initialize, write_private

    if args.token_file is not None and os.path.lexists(args.token_file):
        parser.error(f"--token-file {args.token_file}: exists; the first token is never written over")
    token = _or_fail(parser, initialize, config)
    print(f"pserv-region: schema ready in {_safe_url(config.database_url)}; secret at {config.secret_path}")
    if token is not None and args.token_file is not None:
        _or_fail(parser, write_private, args.token_file, token)
        print(f"pserv-region: admin token written to {args.token_file}")
    elif token is not None:
        print(f"admin token (shown once): {token}")
    return EXIT_OK


def _create_token(parser: Any, config: Any, args: Any) -> int:
    from datetime import datetime, timezone

    from pserv.region.db import Database, make_engine
    from pserv.region.errors import RegionError
    from pserv.region.store.tokens import create_token

    from pserv.region.roles import Role

    database = Database(make_engine(config.database_url), reactor=None)
    try:
        token = database.run_now(create_token, args.name, datetime.now(timezone.utc).replace(tzinfo=None),
                                 Role(args.role))
    except RegionError as e:
        parser.error(e.message)
    finally:
        database.engine.dispose()
    print(token)
    return EXIT_OK


def _create_user(parser: Any, config: Any, args: Any) -> int:
    from pserv.region.errors import RegionError
    from pserv.region.passwords import hash_password
    from pserv.region.roles import Role
    from pserv.region.service import add_user
    from pserv.scripts.passwords import PasswordError, read_password

    try:
        password = read_password(args.password_file)
        _or_fail(parser, add_user, config, args.name, hash_password(password), Role(args.role))
    except (PasswordError, RegionError) as e:
        parser.error(str(e))
    print(f"pserv-region: user {args.name!r} ({args.role}) created")
    return EXIT_OK


def _run(parser: Any, config: Any, args: Any) -> int:
    from twisted.logger import globalLogBeginner, textFileLogObserver

    from pserv.scripts.support import log_reactor, run_on_reactor, tune_gc, when_running
    from pserv.region.service import NotInitialized, Region
    from pserv.region.sqlite_lock import AnotherRegion
    from pserv.rpc.auth import SecretError

    tune_gc()
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stdout)], redirectStandardIO=False)

    async def serve(reactor: Any) -> int:
        from twisted.internet.defer import Deferred

        log_reactor(reactor)
        await when_running(reactor)
        region = Region(config, reactor, power_types=args.power_types)
        try:
            region.start()
        except (AnotherRegion, NotInitialized, OSError, SecretError) as e:
            print(f"pserv-region: error: {e}", file=sys.stderr)
            await region.stop()  # the database pool's threads would keep the process alive
            return EXIT_FAILED
        stopped: Deferred[None] = Deferred()
        reactor.addSystemEventTrigger("before", "shutdown", lambda: (region.stop(), stopped.callback(None)))
        await stopped
        return EXIT_OK

    return run_on_reactor(serve)


def _or_fail(parser: Any, work: Any, *args: Any) -> Any:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return work(*args)
    except (OSError, SQLAlchemyError) as e:
        print(f"pserv-region: error: {getattr(e, 'strerror', None) or type(e).__name__}: {_first_line(e)}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


COMMANDS = {"init": _init, "run": _run, "create-token": _create_token, "create-user": _create_user}


if __name__ == "__main__":
    sys.exit(main())
