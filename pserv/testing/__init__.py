"""
Test doubles shipped with pserv, for its tests, the simulation and the demo:
in-memory BMCs and a heap clock (:mod:`~pserv.testing.power`), the ``fake``
driver over them (:mod:`~pserv.testing.fake_driver`), fakes of the RPC
peers (:mod:`~pserv.testing.rpc`, :mod:`~pserv.testing.cluster`), a stub
region for the client (:mod:`~pserv.testing.region_stub`), and emulated
BMCs and PDUs that run as real peers on loopback
(:mod:`~pserv.testing.emulators`).  Real drivers are tested against the
emulators, never against the fakes.
"""
