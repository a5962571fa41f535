"""
Users' passwords, hashed with argon2id (argon2-cffi, its recommended
parameters) and checked in constant time.  Hashing is deliberately slow
(tens of milliseconds and 64 MiB), so the region does it on the reactor's
thread pool, never on the reactor thread nor on the database's threads.
A password is never logged, stored, shown or put in an error.
"""

from __future__ import annotations

import secrets
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool

from pserv.region.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 1024
HASHER = PasswordHasher()
"""The hasher; its parameters are written into each hash, so a change of
them still verifies the old hashes."""

_unknown_user_hash: list[str] = []


def check_password(password: Any) -> str:
    """
    ``password`` if it is acceptable: text of 8 to 1024 characters.

    :raises Invalid: naming ``password``, never showing it.
    """
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid(f"password: must be {MIN_LENGTH} to {MAX_LENGTH} characters", "password")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of an acceptable ``password``, to store."""
    return HASHER.hash(check_password(password))


def verify_password(stored: str | None, password: str) -> bool:
    """
    Whether ``password`` matches the ``stored`` hash.  With ``None`` (no
    such user) it checks against a hash of a random password, so an
    unknown name takes as long to refuse as a wrong password.
    """
    if not isinstance(password, str) or len(password) > MAX_LENGTH:
        password = ""
    try:
        return HASHER.verify(stored if stored is not None else _unknown(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def _unknown() -> str:
    if not _unknown_user_hash:
        _unknown_user_hash.append(HASHER.hash(secrets.token_urlsafe(16)))
    return _unknown_user_hash[0]


def off_the_reactor(reactor: Any, work: Any, *args: Any) -> Deferred[Any]:
    """
    ``work(*args)`` (hashing or verifying) on ``reactor``'s thread pool;
    fires on the reactor.
    """
    return deferToThreadPool(reactor, reactor.getThreadPool(), work, *args)
