"""
Tests for pserv.region.store.logins, on SQLite and PostgreSQL.
"""

from sqlalchemy import select

from pserv.region import schema
from pserv.region.roles import Role
from pserv.region.store.events import list_events
from pserv.region.store.logins import LIMIT, WINDOW, begin_login, fail_login, finish_login, throttled
from pserv.region.store.users import change_user, create_user

PASSWORD_TYPED_AS_NAME = "correct-horse-battery"


def _fail(run, moments, name="alice", address="10.0.0.9", seconds=1):
    user = run(begin_login, name, address, moments(seconds)).user
    run(fail_login, name, address, moments(), user)


def test_five_failures_for_a_name_throttle_it_until_the_window_passes(run, moments):
    """After LIMIT failures for one name, logins for it wait until the oldest leaves the window."""
    run(create_user, "alice", "$argon2id$h", Role.VIEWER, moments())
    for n in range(LIMIT):
        _fail(run, moments, address=f"10.0.0.{n}")
    assert run(throttled, "alice", "10.9.9.9", moments()) == WINDOW - (LIMIT - 1)
    assert run(begin_login, "alice", "10.9.9.9", moments()).user is None
    assert run(throttled, "bob", "10.9.9.9", moments()) is None
    assert run(throttled, "alice", "10.9.9.9", moments(WINDOW - LIMIT + 1)) is None


def test_five_failures_from_an_address_throttle_it(run, moments):
    """After LIMIT failures from one address, any name from there waits; other addresses do not."""
    for n in range(LIMIT):
        _fail(run, moments, name=f"user{n}")
    assert run(throttled, "someone", "10.0.0.9", moments()) is not None
    assert run(throttled, "someone", "10.0.0.8", moments()) is None


def test_failures_are_events_without_the_password_or_an_unknown_name(run, moments, engine):
    """A failure is an event naming a known user, never an unknown name; the stored name is a digest."""
    run(create_user, "alice", "$argon2id$h", Role.VIEWER, moments())
    _fail(run, moments)
    _fail(run, moments, name=PASSWORD_TYPED_AS_NAME)
    events, _ = run(list_events, None, None, 100, None)
    assert [e["message"] for e in events[1:]] == [
        "login as 'alice' from 10.0.0.9 failed", "login as an unknown user from 10.0.0.9 failed",
    ]
    with engine.connect() as connection:
        rows = connection.execute(select(schema.login_failures)).all()
    assert PASSWORD_TYPED_AS_NAME not in repr(rows) and len(rows) == 2


def test_the_failure_that_reaches_the_limit_says_so(run, moments):
    """The event of the LIMIT-th failure says further logins are refused for now."""
    for _ in range(LIMIT):
        _fail(run, moments)
    events, _ = run(list_events, None, None, 100, None)
    assert "refused for now" in events[-1]["message"] and "refused" not in events[-2]["message"]


def test_success_forgets_the_names_failures_and_a_disabled_user_fails(run, moments):
    """A login that succeeds clears the name's failures; one for a user disabled meanwhile fails."""
    user = run(create_user, "alice", "$argon2id$h", Role.VIEWER, moments())
    for _ in range(LIMIT - 1):
        _fail(run, moments, address="10.0.0.1")
    assert run(finish_login, user["id"], "alice", "10.0.0.2", moments()) is not None
    names = run(lambda c: c.execute(select(schema.login_failures.c.address)).scalars().all())
    assert names == []
    run(change_user, "alice", {"disabled": True}, moments())
    assert run(finish_login, user["id"], "alice", "10.0.0.2", moments()) is None
    assert run(list_events, None, None, 100, None)[0][-1]["message"] == "login as 'alice' (disabled) from 10.0.0.2 failed"
