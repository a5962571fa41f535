"""
Emulated BMCs and PDUs, started as real peers on loopback: pyghmi's BMC
server for IPMI 2.0, OpenIPMI's ipmi_sim for IPMI 1.5, and net-snmp's
snmpd with a PDU handler.  The tests drive the drivers against them, and
``pserv demo`` registers them as nodes.
"""
