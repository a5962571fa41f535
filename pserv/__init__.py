"""
pserv: bare-metal power control that does not lose an operator's intent.

The cluster daemon lives here; :mod:`pserv.power` holds the power actions,
the per-node registry and the drivers, :mod:`pserv.region` the region
controller and :mod:`pserv.rpc` the protocol between them.
"""

__version__ = "0.1.0"
