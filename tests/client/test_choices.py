"""
Tests for pserv.client.choices: the command line's names are the API's vocabulary.
"""

from pserv.client.choices import POWER_ACTIONS, POWER_STATES
from pserv.power.states import ActionKind, PowerState


def test_power_actions_are_the_action_kinds_spelled_with_dashes():
    """Every action kind is a pserv power action, soft_off spelled soft-off, in the API's order."""
    assert list(POWER_ACTIONS) == ["on", "off", "cycle", "soft-off", "query"]
    assert list(POWER_ACTIONS.values()) == list(ActionKind)
    assert POWER_ACTIONS["soft-off"] is ActionKind.SOFT_OFF


def test_power_states_are_the_power_states():
    """The node list filters take exactly the API's power states."""
    assert POWER_STATES == ("on", "off", "unknown", "error") == tuple(s.value for s in PowerState)
