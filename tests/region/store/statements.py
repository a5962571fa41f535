"""
Counting the statements store work sends, for the tests that bound them.
"""

from sqlalchemy import event


def statements(engine, work, *args, **kwargs):
    """How many statements ``work`` sends to the database, in one transaction (SQLite's BEGIN among them)."""
    sent = []

    def count(connection, cursor, statement, *_):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.begin() as connection:
            work(connection, *args, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(sent)
