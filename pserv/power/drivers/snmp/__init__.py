"""
The ``snmp_pdu`` driver (:mod:`~pserv.power.drivers.snmp.driver`): PDU
outlets over SNMP v1, v2c and v3 with pysnmp, one table row per vendor
(:mod:`~pserv.power.types.snmp_vendors`).
"""
