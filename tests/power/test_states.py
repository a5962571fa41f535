"""
Tests for pserv.power.states.
"""

from pserv.power.states import ActionKind, PowerState


def test_targets():
    """on and cycle end on, off and soft_off end off, query changes nothing."""
    assert {k.value: k.target for k in ActionKind} == {
        "on": PowerState.ON, "cycle": PowerState.ON,
        "off": PowerState.OFF, "soft_off": PowerState.OFF, "query": None,
    }
    assert [k.value for k in ActionKind if not k.changes_power] == ["query"]


def test_values_are_the_api_names():
    """States and kinds compare equal to the names the API uses."""
    assert PowerState("on") is PowerState.ON and ActionKind("soft_off") is ActionKind.SOFT_OFF
    assert PowerState.ERROR == "error"
