"""
The ``ipmi`` driver (:mod:`~pserv.power.drivers.ipmi.driver`): IPMI 2.0
through pyghmi and IPMI 1.5 through python-ipmi, one backend each, with
sessions kept per BMC and blocking calls on bounded threads.
"""
