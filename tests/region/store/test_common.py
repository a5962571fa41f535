"""
Tests for pserv.region.store.common, on SQLite and PostgreSQL.
"""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from pserv.region import schema
from pserv.region.store.common import add_events, constants, event_row

_AT = datetime(2026, 12, 3, 10, 0)


def test_constants_are_written_into_the_statement_not_bound(engine):
    """An IN of constants renders its values inline, and matches just them."""
    table = schema.events
    query = select(func.count()).select_from(table).where(table.c.kind.in_(constants(["node_created", "other_kind"])))
    assert "'node_created', 'other_kind'" in str(query.compile(engine))
    with engine.begin() as connection:
        add_events(connection, [event_row(_AT, kind, "a message") for kind in ("node_created", "node_deleted")])
        assert connection.execute(query).scalar() == 1


@pytest.mark.parametrize("name", ["it's", "Pending", "on;--", ""])
def test_constants_refuse_anything_but_lower_case_words(name):
    """Only names of letters and underscores are written into SQL: nothing needing a quote or escape."""
    with pytest.raises(ValueError, match="not a constant"):
        constants([name])


def test_events_added_by_the_statement_built_once_each_time(run, moments):
    """The one insert statement built at import adds each call's events, as many as given."""
    run(add_events, [event_row(moments(), "a", "first")])
    run(add_events, [event_row(moments(1), "b", "second"), event_row(moments(1), "c", "third")])
    run(add_events, [])
    rows = run(lambda connection: connection.execute(select(schema.events).order_by(schema.events.c.id)).all())
    assert [(row.kind, row.message) for row in rows] == [("a", "first"), ("b", "second"), ("c", "third")]
