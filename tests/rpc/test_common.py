"""
Tests for pserv.rpc.common, and for what every command in pserv.rpc
declares.
"""

import importlib
import inspect
import pkgutil

import pytest
from twisted.protocols import amp

import pserv.rpc
from pserv.rpc.common import (
    COMMAND_ERRORS, HANDSHAKE_ERRORS, SESSION_ERRORS, AuthenticationFailed, NotAuthenticated,
)
from pserv.rpc.region import Authenticate, Prove


def all_commands():
    """Every amp.Command subclass defined in a pserv.rpc module."""
    found = {}
    for info in pkgutil.iter_modules(pserv.rpc.__path__, "pserv.rpc."):
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, amp.Command) and value.__module__ == module.__name__:
                found[value.__name__] = value
    return sorted(found.values(), key=lambda c: c.__name__)


COMMANDS = all_commands()


def test_the_commands_are_found():
    """The scan finds the ten commands."""
    assert len(COMMANDS) == 10


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_every_command_has_a_docstring(command):
    """Every Command subclass says who sends it, when, and what it means."""
    assert command.__doc__ and len(command.__doc__.split()) >= 10


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.__name__)
def test_every_command_drops_an_unauthenticated_peer(command):
    """Every command declares NotAuthenticated fatal, so a refusal drops the connection."""
    assert command.fatalErrors.get(NotAuthenticated) == b"NOT_AUTHENTICATED"


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in (Authenticate, Prove)],
                         ids=lambda c: c.__name__)
def test_commands_after_the_handshake_declare_the_command_errors(command):
    """Every command after the handshake can answer InvalidRequest and CommandFailed."""
    assert command.errors == COMMAND_ERRORS and command.fatalErrors == SESSION_ERRORS


def test_handshake_failures_are_fatal():
    """A failed Authenticate or Prove drops the connection."""
    for command in (Authenticate, Prove):
        assert command.fatalErrors == HANDSHAKE_ERRORS
        assert AuthenticationFailed in command.fatalErrors


def test_error_tags_are_distinct():
    """No two errors share a tag."""
    tables = {**COMMAND_ERRORS, **HANDSHAKE_ERRORS}
    assert len(set(tables.values())) == len(tables)


def test_docs_list_every_command_and_error():
    """docs/rpc.md names every command and every error tag."""
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "rpc.md").read_text()
    assert all(f"`{command.__name__}`" in text for command in COMMANDS)
    assert all(f"`{tag.decode()}`" in text for tag in {**COMMAND_ERRORS, **HANDSHAKE_ERRORS}.values())

