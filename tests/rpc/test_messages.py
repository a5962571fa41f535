"""
Tests for pserv.rpc.messages: the messages' constructors, and docs/rpc.md's
field tables, kept in step with the classes.
"""

import re
from pathlib import Path

import attrs
import pytest

from pserv.power.boot import BootDevice, BootSetting
from pserv.power.outcome import Outcome, OutcomeStatus
from pserv.power.states import ActionKind, ActionStatus, PowerState
from pserv.rpc import wire
from pserv.rpc.messages import MESSAGES, NO_GENERATION, OutcomeReport

from pserv.testing.rpc import outcome, power_request, recovery_node

DOCS = Path(__file__).parents[2] / "docs" / "rpc.md"


def test_outcome_report_from_the_registry():
    """A registry Outcome becomes an OutcomeReport under its own id and generation."""
    done = Outcome(OutcomeStatus.DONE, 7, ActionKind.CYCLE, 4, PowerState.ON, commands=("power_off", "power_on"))
    assert OutcomeReport.from_outcome(1, done) == outcome()
    read = Outcome(OutcomeStatus.DONE, 7, ActionKind.ON, 4, PowerState.ON, observed_at=1800000000.25)
    assert wire.unstructure(OutcomeReport.from_outcome(1, read))["observed_at"] == "2027-01-15T08:00:00.250Z"
    failed = Outcome(OutcomeStatus.FAILED, 8, ActionKind.ON, 2, error="expected power on", fatal=True)
    assert OutcomeReport.from_outcome(1, failed).power_state is None


def test_outcome_report_answering_a_request():
    """A request's report carries the request's action id and generation, the rest from the registry's outcome."""
    served = Outcome(OutcomeStatus.DONE, 3, ActionKind.ON, 9, PowerState.ON, commands=("power_on",))
    report = OutcomeReport.answering(power_request(action=11), served)
    assert (report.action, report.node, report.generation, report.status) == (11, 1, 4, ActionStatus.DONE)
    assert report.commands == ("power_on",)


def test_failed_and_cancelled_reports():
    """A request refused before running fails fatally; a cancel never run carries NO_GENERATION."""
    failed = OutcomeReport.failed(power_request(), "settings: address is missing")
    assert (failed.status, failed.fatal, failed.generation, failed.commands) == (ActionStatus.FAILED, True, 4, ())
    cancelled = OutcomeReport.cancelled(2, 20)
    assert (cancelled.node, cancelled.action, cancelled.status) == (2, 20, ActionStatus.CANCELLED)
    assert cancelled.generation == NO_GENERATION < 1


def test_recovery_node_request():
    """A recovery entry's action becomes the request that re-runs it, as another kind if asked."""
    node = recovery_node(4)
    [action] = node.actions
    again = node.request(action)
    assert (again.action, again.node, again.kind, again.generation) == (action.id, 4, action.kind, 3)
    assert again.power_parameters == node.power_parameters
    assert node.request(action, ActionKind.QUERY).kind is ActionKind.QUERY


def test_a_recovered_soft_off_escalates_as_asked():
    """A recovered soft_off's request carries its escalate_after; run as another kind, it carries none."""
    node = recovery_node(4)
    soft_off = attrs.evolve(node.actions[0], kind=ActionKind.SOFT_OFF, escalate_after=20.0)
    assert node.request(soft_off).escalate_after == 20.0
    assert node.request(soft_off, ActionKind.QUERY).escalate_after is None


def documented_fields(name):
    """The (field, type) rows of the table under docs/rpc.md's heading for message ``name``."""
    text = DOCS.read_text()
    found = re.search(rf"^\*\*`{name}`\*\*.*?\n\n(\| field .*?)\n\n", text, re.S | re.M)
    assert found, f"docs/rpc.md has no table for {name}"
    rows = [line for line in found.group(1).splitlines()[2:]]
    return [tuple(cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:3]) for row in rows]


def expected_table(cls):
    """The table docs/rpc.md should show for ``cls`` (its meanings left to write)."""
    lines = ["| field | type | meaning |", "| --- | --- | --- |"]
    return "\n".join(lines + [f"| `{name}` | {kind} | ... |" for name, kind in wire.field_types(cls)])


@pytest.mark.parametrize("cls", MESSAGES, ids=lambda c: c.__name__)
def test_docs_describe_every_message(cls):
    """docs/rpc.md has a table for each message with exactly its fields and their wire types."""
    expected = [(f"`{name}`", kind) for name, kind in wire.field_types(cls)]
    assert documented_fields(cls.__name__) == expected, f"docs/rpc.md should have:\n{expected_table(cls)}"


def test_a_recovered_action_sets_its_boot_device_again():
    """A recovered on or cycle carries its boot device, also as the on an interrupted cycle finishes as."""
    node = recovery_node(4)
    cycle = attrs.evolve(node.actions[0], kind=ActionKind.CYCLE, boot_device=BootDevice.PXE, boot_persistent=True)
    assert node.request(cycle).boot == BootSetting(BootDevice.PXE, True)
    assert node.request(cycle, ActionKind.ON).boot == BootSetting(BootDevice.PXE, True)
    assert node.request(cycle, ActionKind.QUERY).boot is None


def test_a_request_without_boot_device_has_no_boot():
    """A request whose region named no boot device (or a region before the field) sets none."""
    node = recovery_node(4)
    assert node.request(node.actions[0]).boot is None
