"""
What really happened at the BMCs: each one's power over time, and when
someone pressed its power button.  The invariant checker compares what
pserv believed and did with this.
"""

from __future__ import annotations

from pserv.power.states import PowerState
from pserv.testing.power import FakeBMC, FakeFleet


class BMCTruth:
    """
    The real power history of every BMC in a fleet.

    :ivar pressed: the times each BMC's power button was pressed.
    """

    def __init__(self, fleet: FakeFleet) -> None:
        self.fleet = fleet
        self.initial: dict[str, PowerState] = {}
        self.pressed: dict[str, list[float]] = {}

    def add(self, address: str, power: PowerState, **settings: object) -> FakeBMC:
        """A new BMC at ``address``, its power ``power`` from the start."""
        self.initial[address] = power
        return self.fleet.bmc(address, power=power, **settings)

    def press(self, address: str, at: float) -> None:
        """Someone pressed the power button."""
        self.pressed.setdefault(address, []).append(at)
        self.fleet.bmcs[address].press_power_button()

    def last_press(self, address: str) -> float:
        """When the button was last pressed; ``-inf`` if never."""
        return max(self.pressed.get(address, ()), default=float("-inf"))

    def state_at(self, address: str, at: float) -> PowerState:
        """The BMC's power at time ``at`` (after any change at that instant)."""
        state = self.initial[address]
        for when, changed in self.fleet.bmcs[address].changes:
            if when > at:
                break
            state = changed
        return state

    def was(self, address: str, state: PowerState, start: float, end: float) -> bool:
        """Whether the BMC's power was ``state`` at some time in ``[start, end]``."""
        if self.state_at(address, start) is state:
            return True
        return any(start <= when <= end and changed is state
                   for when, changed in self.fleet.bmcs[address].changes)

    def settled_since(self, address: str, state: PowerState, since: float) -> bool:
        """
        Whether the BMC has shown ``state`` since before ``since``, with no
        command of its own still settling.
        """
        bmc = self.fleet.bmcs[address]
        if bmc.power is not state or bmc.settling:
            return False
        last_change = bmc.changes[-1][0] if bmc.changes else float("-inf")
        last_command = bmc.commands[-1][0] if bmc.commands else float("-inf")
        return max(last_change, last_command) < since
