"""
The authenticated RPC between the region and its clusters.

AMP over TLS; a mutual HMAC handshake on the shared secret, bound to the
region's certificate, comes before any other command.  See
``docs/rpc.md``: ``region.py`` and ``cluster.py`` hold the commands each
side answers and the responder each side implements, ``messages.py`` the
messages they carry and ``wire.py`` their one conversion to and from the
wire, ``protocol.py`` the two ends, ``service.py`` the cluster's
reconnecting connection.
"""
