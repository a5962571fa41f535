"""
Tests for pserv.testing.emulators.sushy_main: the hooks on sushy-tools' fake
systems driver (the emulator's process itself runs in tests/scripts/test_power_test.py).
"""

from __future__ import annotations

import logging

import pytest
from sushy_tools.emulator.resources.systems import fakedriver

from pserv.testing.emulators.sushy_main import hook

SYSTEM = "5a1f0000-0000-4000-8000-0000000000aa"


@pytest.fixture
def systems(tmp_path, monkeypatch):
    """A fake systems driver with one system, off; the hooks are undone afterwards."""
    monkeypatch.setattr(fakedriver.FakeDriver, "set_power_state", fakedriver.FakeDriver.set_power_state)
    monkeypatch.setattr(fakedriver, "random", fakedriver.random)
    config = {"SUSHY_EMULATOR_STATE_DIR": str(tmp_path / "state"),
              "SUSHY_EMULATOR_FAKE_SYSTEMS": [{"uuid": SYSTEM, "name": "n", "power_state": "Off", "nics": []}]}

    def make(**hooks):
        hook(**hooks)
        return fakedriver.FakeDriver.initialize(config, logging.getLogger("sushy"))()

    return make


def test_instant_resets_apply_on_the_next_read_and_are_logged(systems, tmp_path):
    """With instant, a reset shows on the next read; each reset is logged before it applies."""
    log = tmp_path / "resets"
    driver = systems(reset_log=str(log), instant=True)
    driver.set_power_state(SYSTEM, "On")
    assert driver.get_power_state(SYSTEM) == "On"
    driver.set_power_state(SYSTEM, "ForceOff")
    assert driver.get_power_state(SYSTEM) == "Off"
    assert log.read_text() == f"{SYSTEM} On\n{SYSTEM} ForceOff\n"


def test_without_instant_a_reset_takes_a_while(systems, tmp_path):
    """Without instant, the fake driver keeps its delay: the next read still sees the old state."""
    driver = systems(reset_log=str(tmp_path / "resets"), instant=False)
    driver.set_power_state(SYSTEM, "On")
    assert driver.get_power_state(SYSTEM) == "Off"
