"""
Tests for pserv.rpc.common, for what every command in pserv.rpc declares,
and for the protocol version both ends check in the handshake (against
peers from before versions, in memory).
"""

import importlib
import inspect
import os
import pkgutil

import pytest
from twisted.internet.task import Clock
from twisted.logger import formatEvent
from twisted.protocols import amp
from twisted.test import iosim

import pserv.rpc
from pserv.rpc.cluster_protocol import ClusterRPC
from pserv.rpc.common import (
    COMMAND_ERRORS, HANDSHAKE_ERRORS, SESSION_ERRORS, UNVERSIONED, VERSION, AuthenticationFailed,
    NotAuthenticated, VersionMismatch, version_mismatch,
)
from pserv.rpc.region import Authenticate, Prove
from pserv.rpc.region_protocol import RegionRPCFactory

from pserv.testing.rpc import (
    CHANNEL, SECRET, RecordingCluster, RecordingRegion, UnversionedCluster, UnversionedRegion, captured_logs,
)


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
    """The scan finds the eleven commands."""
    assert len(COMMANDS) == 11


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


def test_version_mismatch_names_both_versions():
    """No error for this version; otherwise one naming both versions, a peer sending none being version 1."""
    assert version_mismatch(VERSION, "region", "cluster") is None
    old = version_mismatch(None, "region", "cluster")
    assert isinstance(old, VersionMismatch)
    assert str(old).startswith(f"the cluster speaks RPC protocol version {UNVERSIONED} and the region version {VERSION}")
    assert f"version {VERSION + 1} and the cluster version {VERSION}" in str(version_mismatch(VERSION + 1, "cluster",
                                                                                               "region"))


def version_lines(events):
    """The log lines that speak of protocol versions."""
    return [formatEvent(event) for event in events if "protocol version" in formatEvent(event)]


def test_an_unversioned_cluster_gets_a_clear_error_from_the_region():
    """A cluster from before versions is told both versions, logged once by the region and dropped; no traceback."""
    region = RecordingRegion()
    factory = RegionRPCFactory(region, SECRET, CHANNEL, Clock())
    with captured_logs() as events:
        old, server, pump = iosim.connectedServerAndClient(
            lambda: factory.buildProtocol(None), UnversionedCluster, greet=False)
        pump.flush()
    [answer] = old.answer
    assert answer.check(amp.UnknownRemoteError)  # the old cluster has no class for the tag: it sees the text
    assert f"version {UNVERSIONED} and the region version {VERSION}" in answer.getErrorMessage()
    assert server.gone and region.calls == [] and factory.connections == {}
    [line] = version_lines(events)
    assert "'rack-1'" in line and "disconnecting" in line
    assert not any("log_failure" in event for event in events)


def test_a_cluster_of_another_version_is_refused():
    """A cluster sending another version gets VersionMismatch naming both, and is dropped."""
    client, server, pump = iosim.connectedServerAndClient(
        lambda: RegionRPCFactory(RecordingRegion(), SECRET, CHANNEL, Clock()).buildProtocol(None), amp.AMP,
        greet=False)
    answers = []
    client.callRemote(Authenticate, cluster="rack-1", cluster_nonce=os.urandom(32), version=VERSION + 1) \
        .addErrback(answers.append)
    pump.flush()
    [answer] = answers
    assert answer.check(VersionMismatch) and f"version {VERSION + 1} and the region version {VERSION}" in str(answer.value)
    assert server.gone


def test_a_cluster_refuses_an_unversioned_region():
    """A region from before versions is refused before Prove: both versions in one log line, no traceback."""
    cluster = RecordingCluster()
    with captured_logs() as events:
        client, old, pump = iosim.connectedServerAndClient(
            UnversionedRegion, lambda: ClusterRPC(cluster, SECRET, "rack-1", lambda transport: CHANNEL), greet=False)
        ready = client.when_ready()
        pump.flush()
    failures = []
    ready.addErrback(failures.append)
    [failure] = failures
    assert failure.check(VersionMismatch)
    assert f"the region speaks RPC protocol version {UNVERSIONED} and the cluster version {VERSION}" in str(failure.value)
    assert old.asked == ["Authenticate"] and client.gone and cluster.calls == []
    [line] = version_lines(events)
    assert "rack-1" in line and "disconnecting" in line
    assert not any("log_failure" in event for event in events)
