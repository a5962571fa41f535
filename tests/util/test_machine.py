"""
Tests for pserv.util.machine: a state machine driven by its table.
"""

from enum import Enum

import pytest

from pserv.util.machine import InvalidTransition, StateMachine


class Light(str, Enum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


class Press(str, Enum):
    SWITCH = "switch"
    SMASH = "smash"


class Lamp(StateMachine[Light, Press]):
    """A lamp that records what its outputs saw."""

    __slots__ = ("seen",)

    initial = Light.OFF
    table = {
        (Light.OFF, Press.SWITCH): (Light.ON, "_lit"),
        (Light.ON, Press.SWITCH): (Light.OFF, None),
        (Light.ON, Press.SMASH): (Light.BROKEN, "_smashed"),
    }

    def __init__(self):
        super().__init__()
        self.seen = []

    def _lit(self, who="nobody"):
        self.seen.append((self.state, who))

    def _smashed(self):
        self.seen.append(self.state)


def test_an_input_moves_then_runs_its_output_with_its_arguments():
    """The output runs in the new state, with the input's arguments, and fire returns that state."""
    lamp = Lamp()
    assert lamp.fire(Press.SWITCH, "alice") is Light.ON
    assert lamp.seen == [(Light.ON, "alice")]


def test_an_undeclared_input_raises_before_anything_runs():
    """An input the table does not declare raises, leaves the state alone and runs no output."""
    lamp = Lamp()
    with pytest.raises(InvalidTransition) as raised:
        lamp.fire(Press.SMASH)
    assert (lamp.state, lamp.seen) == (Light.OFF, [])
    assert (raised.value.state, raised.value.event) == (Light.OFF, Press.SMASH)
    assert str(raised.value) == "Lamp: no transition from off on smash"


def test_allows_says_what_the_table_declares_now():
    """allows is true exactly for the inputs declared in the current state."""
    lamp = Lamp()
    assert lamp.allows(Press.SWITCH) and not lamp.allows(Press.SMASH)
    lamp.fire(Press.SWITCH)
    assert lamp.allows(Press.SMASH)


def test_an_output_may_fire_further_inputs_at_once():
    """An input fired by an (overridden) output runs at once; fire returns the state the machine ends in."""

    class Fragile(Lamp):
        __slots__ = ()

        def _lit(self, who="nobody"):
            self.fire(Press.SMASH)

    lamp = Fragile()
    assert lamp.fire(Press.SWITCH) is Light.BROKEN
    assert lamp.seen == [Light.BROKEN]


@pytest.mark.parametrize(
    "table, complaint",
    [
        ({(Light.OFF, Press.SWITCH): (Light.ON, "_missing"), (Light.ON, Press.SMASH): (Light.BROKEN, None)},
         "no output method '_missing'"),
        ({(Light.OFF, Press.SWITCH): (Light.ON, None)}, "unreachable states ['broken']"),
        ({(Light.OFF, Light.ON): (Light.ON, None), (Light.ON, Press.SMASH): (Light.BROKEN, None)}, "every state"),
    ],
)
def test_a_wrong_table_fails_when_the_class_is_made(table, complaint):
    """A table naming a missing output, leaving a state unreachable or mixing enums fails at import."""
    with pytest.raises(TypeError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        type("Wrong", (StateMachine,), {"__slots__": (), "initial": Light.OFF, "table": table})
