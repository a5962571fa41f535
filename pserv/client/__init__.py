"""
The operator's ``pserv`` client: commands that talk to the region's REST API.

:mod:`pserv.scripts.pserv` parses and runs them, :mod:`pserv.client.http`
is the API client, :mod:`pserv.client.config` the stored login, and one
module per command group (:mod:`~pserv.client.login`,
:mod:`~pserv.client.nodes`, :mod:`~pserv.client.power`,
:mod:`~pserv.client.actions`, :mod:`~pserv.client.events`) holds the command
functions, each ``async (args, api, clock) -> exit status``.
"""
