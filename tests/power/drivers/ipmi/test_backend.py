"""
The chassis commands the backends send, checked against the IPMI spec.
"""

from __future__ import annotations

from pserv.power.drivers.ipmi.backend import (
    CMD_CHASSIS_CONTROL,
    CMD_GET_CHASSIS_STATUS,
    NETFN_CHASSIS,
    ChassisControl,
)
from pserv.power.drivers.ipmi.pyipmi_backend import PythonIpmiBackend
from pserv.power.drivers.ipmi.pyghmi_backend import PyghmiBackend


def test_chassis_control_directives_match_spec() -> None:
    """Chassis Control directives are IPMI 2.0 table 28-4: down 0, up 1, ..., soft 5."""
    assert [int(d) for d in ChassisControl] == [0, 1, 2, 3, 4, 5]
    assert ChassisControl.SOFT_SHUTDOWN == 0x5 and ChassisControl.POWER_DOWN == 0x0


def test_chassis_commands_match_spec() -> None:
    """Get Chassis Status is 00h/01h and Chassis Control 00h/02h."""
    assert (NETFN_CHASSIS, CMD_GET_CHASSIS_STATUS, CMD_CHASSIS_CONTROL) == (0x00, 0x01, 0x02)


def test_backends_are_named_for_the_setting() -> None:
    """Each backend's name is its value of the backend setting."""
    assert PyghmiBackend.name == "pyghmi" and PythonIpmiBackend.name == "python-ipmi"
