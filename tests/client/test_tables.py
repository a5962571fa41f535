"""
Tests for pserv.client.tables.
"""

from pserv.client.tables import action_table, cell, details, event_line, node_table, render_table
from pserv.testing.region_stub import action, event, node


def test_columns_are_aligned_and_none_is_a_dash():
    """Columns line up two spaces apart; None shows as '-', booleans as yes/no."""
    text = render_table(("A", "LONGER"), [("x", None), ("wide-value", True)])
    assert text.splitlines() == ["A           LONGER", "x           -", "wide-value  yes"]
    assert cell(False) == "no"


def test_node_table():
    """A node row shows id, name, cluster, type, observed and desired state, lifecycle."""
    lines = node_table([node(), node(2, "n2", cluster=None, power_state="off")]).splitlines()
    assert lines[0].split() == ["ID", "NAME", "CLUSTER", "TYPE", "POWER", "DESIRED", "LIFECYCLE"]
    assert lines[2].split() == ["2", "n2", "-", "ipmi", "off", "on", "ready"]


def test_action_table_shows_the_error():
    """An action row ends with its error."""
    assert action_table([action(5, status="failed")]).splitlines()[1].split() == [
        "5", "1", "on", "failed", "-", "BMC", "timed", "out"]


def test_details_lists_power_parameters_indented():
    """A node's details end with its power parameters, one per indented line, as the region shows them."""
    text = details(node(), nested="power_parameters")
    assert "name:" in text and text.endswith("power_parameters:\n  address: 10.0.0.1\n  password: set")


def test_event_line():
    """An event is one log line: time, id, node, kind, message."""
    assert event_line(event(7)) == "2025-01-02T03:04:05Z  #7  n1  power.requested  power on requested"
    assert event_line(event(8, node=None, node_name=None)).split()[2] == "-"
