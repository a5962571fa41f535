"""
The operator's ``pserv`` client: commands that talk to the region's REST API.

:mod:`pserv.client.parser` adds the commands to the ``pserv`` parser,
:mod:`pserv.client.runner` runs one on the reactor, :mod:`pserv.client.http`
is the API client, :mod:`pserv.client.config` the stored login, and one
module per command group (:mod:`~pserv.client.login`,
:mod:`~pserv.client.nodes`, :mod:`~pserv.client.power`,
:mod:`~pserv.client.actions`, :mod:`~pserv.client.events`) holds the command
functions, each ``async (args, api, clock) -> exit status``.
"""
