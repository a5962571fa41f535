"""
Tests for pserv.region.passwords.
"""

import pytest
import pytest_twisted
from twisted.internet import reactor

from pserv.region.errors import Invalid
from pserv.region.passwords import check_password, hash_password, off_the_reactor, verify_password


def test_a_hash_is_argon2id_and_verifies_only_its_password():
    """A password hashes to argon2id, with a salt, and verifies against itself only."""
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert stored != hash_password("correct horse battery")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery!")


def test_unknown_user_and_junk_never_verify():
    """No user (None), a hash that is not one, or an overlong password never verify, and never raise."""
    assert not verify_password(None, "anything-at-all")
    assert not verify_password("not a hash", "anything-at-all")
    assert not verify_password(hash_password("x" * 8), "x" * 5000)


@pytest.mark.parametrize("password", ["short", "", "x" * 1025, None, 12345678])
def test_unacceptable_passwords_are_refused_without_being_shown(password):
    """Too short, too long or not text is refused with one message naming the field, never the password."""
    with pytest.raises(Invalid) as refused:
        check_password(password)
    assert (refused.value.field, refused.value.message) == ("password", "password: must be 8 to 1024 characters")


@pytest_twisted.ensureDeferred
async def test_hashing_runs_off_the_reactor_thread():
    """Hashing through off_the_reactor runs on another thread and fires on the reactor."""
    import threading

    seen = []
    result = await off_the_reactor(reactor, lambda: seen.append(threading.current_thread()) or "done")
    assert result == "done" and seen[0] is not threading.main_thread()
