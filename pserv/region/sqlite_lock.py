"""
One region to an SQLite database.

SQLite is the embedded database of one region; several regions share a
PostgreSQL database.  A region on an SQLite file holds an exclusive lock
on ``FILE.region-lock`` beside it while it runs (``flock``, which the
kernel lets go when the process dies, however it dies), so that a second
region on the same file is refused with a clear message before it
listens, rather than fighting the first over the database.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import URL, make_url


class AnotherRegion(Exception):
    """Another region is running on this SQLite database."""


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite database URL; ``None`` for another database, or SQLite in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def hold_sqlite(url: str | URL) -> IO[bytes] | None:
    """
    Lock the SQLite database of ``url`` for this region; the open lock
    file, to close when the region stops (``None``: not an SQLite file).

    :raises AnotherRegion: naming the database, when another region holds it.
    """
    path = sqlite_file(url)
    if path is None:
        return None
    lock = open(os.fspath(path) + ".region-lock", "ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise AnotherRegion(
            f"another pserv-region is running on the SQLite database {path}: SQLite serves one region; "
            "several regions share a PostgreSQL database (--database postgresql://...)"
        ) from None
    return lock
