"""
``pserv demo``: a whole pserv on this machine (:mod:`~pserv.demo.system`),
or the registry alone on in-memory BMCs (:mod:`~pserv.demo.registry`).
"""
