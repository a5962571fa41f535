"""
Tests for pserv.region.store.leadership, on SQLite and PostgreSQL.
"""

from pserv.region.store.leadership import GROUPS_LOCK, SWEEP_LOCK, once


def test_work_runs_once_at_a_time(engine):
    """On PostgreSQL a second transaction gets no work another holds, but other work, and it once the first commits; on SQLite, the one writer always may."""
    with engine.begin() as first:
        assert once(first, SWEEP_LOCK)
        if engine.dialect.name == "postgresql":  # SQLite has one writer: no second transaction to try
            with engine.begin() as second:
                assert not once(second, SWEEP_LOCK)
                assert once(second, GROUPS_LOCK)
    with engine.begin() as third:
        assert once(third, SWEEP_LOCK)
