"""
What the region, the cluster and the client share that is not power:
config files (:mod:`~pserv.util.config`) and times as pserv writes them
(:mod:`~pserv.util.times`).
"""
