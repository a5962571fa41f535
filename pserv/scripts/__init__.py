"""
The commands, one module each: :mod:`~pserv.scripts.pserv` (``pserv``),
:mod:`~pserv.scripts.region` (``pserv-region``),
:mod:`~pserv.scripts.cluster` (``pserv-cluster``),
:mod:`~pserv.scripts.power_test` (``pserv-cluster power-test``) and
:mod:`~pserv.scripts.sim` (``python -m pserv.sim``); what they share is in
:mod:`~pserv.scripts.support`.
"""
