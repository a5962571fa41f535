"""
Work that runs once across the regions sharing a database: each piece in
a transaction that first takes a transaction-level advisory lock of its
own, or does nothing (:mod:`pserv.region.peers` says who tries).  The
lock's second key is the schema's hash, so that deployments in several
schemas of one database never hold each other's locks.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

SWEEP_LOCK = 0x70737701
"""Timing out stuck actions."""

GROUPS_LOCK = 0x70737702
"""Spreading groups' nodes over their members, and failing over those of lapsed leases."""


def once(connection: Connection, key: int) -> bool:
    """
    Whether this transaction may do the work ``key``: on PostgreSQL, if it
    got the lock (no other region's transaction holds it); SQLite has one
    region, whose writes are one at a time anyway.
    """
    if connection.dialect.name != "postgresql":
        return True
    taking = text("SELECT pg_try_advisory_xact_lock(:key, hashtext(current_schema()))")
    return bool(connection.execute(taking, {"key": key}).scalar())
