"""
The ``redfish`` driver (:mod:`~pserv.power.drivers.redfish.driver`):
Redfish over treq, with discovery, sessions and retries of its own.
"""
