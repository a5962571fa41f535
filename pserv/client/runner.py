"""
Running one client command: in process with :func:`execute` (any API
client and clock), or on the real reactor with :func:`run_client`.
Everything a user can cause ends as one line on stderr and an exit status.
"""

from __future__ import annotations

import os
import sys
from argparse import Namespace
from importlib import import_module
from typing import Any, Awaitable, Callable

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime

from pserv.cli_support import run_on_reactor
from pserv.client.config import Credentials, check_token, check_url, resolve_credentials
from pserv.client.errors import ClientError, ConfigError, UnreachableError, UsageError
from pserv.client.http import ApiClient
from pserv.client.output import error, note

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
    Run the command ``args`` name on the asyncio reactor; an interrupt
    (SIGINT, SIGTERM) cancels it.

    :returns: its exit status.
    """
    from pserv.cluster_cli import install_reactor

    try:
        credentials = _credentials(args)
    except UsageError as e:
        error(str(e))
        return EXIT_USAGE
    except ConfigError as e:
        error(str(e))
        return EXIT_FAILED
    install_reactor()

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
