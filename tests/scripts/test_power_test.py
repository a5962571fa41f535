"""
Tests for pserv.scripts.power_test: the power-test command's work.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor

from pserv.cluster.driver_set import DriverSet
from pserv.scripts.power_test import EXIT_FAILED, EXIT_OK, PowerCheck, UsageError
from pserv.testing.fake_driver import FakeDriver
from tests.emulators.snmp_fixtures import agent, v2c, v3  # noqa: F401 - agent is a fixture


def with_fake():
    return DriverSet(reactor, {"fake": FakeDriver(reactor)})


def test_prepare_names_the_bad_field_not_the_secret():
    """Bad settings are a usage error naming the field, never echoing a secret."""
    with pytest.raises(UsageError) as caught:
        PowerCheck.prepare(reactor, "fake", "on", {"address": "n1", "latency": "hunter2"}, drivers=with_fake())
    assert str(caught.value) == "latency: must be a number"
    with pytest.raises(UsageError, match="power_type: unknown driver"):
        PowerCheck.prepare(reactor, "nope", "on", {})


def test_prepare_knows_no_fake_unless_given():
    """Without drivers given, only production drivers are known: fake is an unknown power_type."""
    with pytest.raises(UsageError, match="^power_type: unknown driver 'fake'; known: ipmi, manual"):
        PowerCheck.prepare(reactor, "fake", "on", {"address": "n1"})


@pytest_twisted.ensureDeferred
async def test_run_success():
    """A successful action exits 0 and prints the verified state and what was sent."""
    check = PowerCheck.prepare(reactor, "fake", "on", {"address": "n1", "password": "hunter2"}, drivers=with_fake())
    status, line = await check.run(reactor)
    assert (status, line) == (EXIT_OK, "fake n1: on done: power on [commands sent: power_on]")


@pytest_twisted.ensureDeferred
async def test_run_failure():
    """A failed action exits 1 and says whether the failure was fatal."""
    check = PowerCheck.prepare(reactor, "wol", "query", {"mac": "52:54:00:12:34:56"})
    status, line = await check.run(reactor)
    assert status == EXIT_FAILED and "query failed (fatal)" in line and "cannot read power" in line


@pytest.mark.parametrize("version", ["2c", "3"])
@pytest_twisted.ensureDeferred
async def test_snmp_pdu_off_then_on_exits_0(agent, version):
    """power-test snmp_pdu switches a real agent's outlet off and on, v2c and v3, and says so with exit 0."""
    settings = (v2c if version == "2c" else v3)(agent, outlet=2)
    for kind in ("off", "on"):
        status, line = await PowerCheck.prepare(reactor, "snmp_pdu", kind, settings).run(reactor)
        assert (status, line.split(": ", 1)[1]) == (EXIT_OK, f"{kind} done: power {kind} [commands sent: power_{kind}]")
