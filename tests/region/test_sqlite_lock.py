"""
Tests for pserv.region.sqlite_lock: one region to an SQLite database.
"""

import pytest

from pserv.region.sqlite_lock import AnotherRegion, hold_sqlite, sqlite_file


def test_only_an_sqlite_file_is_locked(tmp_path):
    """An SQLite file's URL names the file; SQLite in memory and PostgreSQL name none."""
    assert sqlite_file(f"sqlite:///{tmp_path}/region.sqlite") == tmp_path / "region.sqlite"
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql://pserv@db/pserv") is None and hold_sqlite("postgresql://pserv@db/pserv") is None


def test_a_second_holder_is_refused_until_the_first_lets_go(tmp_path):
    """While one holds the database, another is refused naming the file and PostgreSQL; once it closes, another may."""
    url = f"sqlite:///{tmp_path}/region.sqlite"
    first = hold_sqlite(url)
    with pytest.raises(AnotherRegion, match=f"another pserv-region is running on the SQLite database "
                                            f"{tmp_path}/region.sqlite: .*PostgreSQL"):
        hold_sqlite(url)
    first.close()
    hold_sqlite(url).close()
