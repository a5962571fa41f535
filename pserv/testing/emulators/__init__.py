"""
Emulated BMCs and PDUs, started as real peers on loopback: pyghmi's BMC
server for IPMI 2.0, OpenIPMI's ipmi_sim for IPMI 1.5, and net-snmp's
snmpd with a PDU handler.  The tests drive the drivers against them, and
``pserv demo`` registers them as nodes.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
"""The checkout that holds :mod:`pserv`: the ``PYTHONPATH`` of an emulator's
process, so that it runs this checkout's code, not an installed copy's."""
