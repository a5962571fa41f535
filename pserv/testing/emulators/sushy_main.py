"""
sushy-tools' Redfish emulator with two test hooks on its fake systems driver.

Run as ``python -m pserv.testing.emulators.sushy_main --reset-log PATH
[--instant] SUSHY-ARGS...``; SUSHY-ARGS go to ``sushy-emulator`` unchanged.

* ``--reset-log PATH``: every reset the emulator accepts is appended to
  ``PATH`` as ``SYSTEM RESET_TYPE`` before it takes effect, so a test can
  see what a BMC received, not only what it ends up in.
* ``--instant``: a reset takes effect on the next read, instead of the
  fake driver's 1-11 s later, so tests that run many actions stay quick.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sushy_tools.emulator.resources.systems import fakedriver


class _AtOnce:
    """Stands for the fake driver's ``random``: a reset's delay is 0 s."""

    @staticmethod
    def randint(low: int, high: int) -> int:
        return 0


def hook(reset_log: str, instant: bool) -> None:
    """Log each accepted reset to ``reset_log``; apply resets at once if ``instant``."""
    original = fakedriver.FakeDriver.set_power_state

    def set_power_state(self: Any, identity: str, state: str) -> None:
        with open(reset_log, "a") as log:
            log.write(f"{identity} {state}\n")
        original(self, identity, state)

    fakedriver.FakeDriver.set_power_state = set_power_state  # type: ignore[method-assign]
    if instant:
        fakedriver.random = _AtOnce  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    """Install the hooks, then run sushy-emulator with the other arguments."""
    from sushy_tools.emulator import main as sushy

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--reset-log", required=True)
    parser.add_argument("--instant", action="store_true")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    hook(args.reset_log, args.instant)
    sys.argv = [sys.argv[0], *rest]
    return int(sushy.main())


if __name__ == "__main__":
    sys.exit(main())
