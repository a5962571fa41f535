"""
The shared secret, and the mutual HMAC-SHA256 handshake built on it.

The secret never travels: each side proves it knows it by an HMAC over
both nonces, the cluster's name and the channel (the SHA-256 fingerprint
of the region's TLS certificate as that side sees it).  The two proofs
carry different labels, so neither can be replayed as the other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from pathlib import Path

#: How many random bytes each side's nonce holds.
NONCE_BYTES = 32

#: The fewest characters a secret may hold (``pserv-region init`` writes 64).
MIN_SECRET = 32

#: A cluster's name, as the region's nodes name it.
CLUSTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


class SecretError(Exception):
    """The secret file cannot be used; the one-line message names its path."""


def check_private(path: Path) -> os.stat_result:
    """
    The ``stat`` of a file no one else may change or read: others have no
    access, the group never writes, and the group may read only a file
    another user owns (the packages' ``root:pserv 0640``, which the daemon,
    running as ``pserv``, can neither change nor widen).

    :raises SecretError: if it cannot be read, or its mode allows more.
    """
    try:
        info = path.stat()
    except OSError as e:
        raise SecretError(f"{path}: cannot read: {e.strerror}") from None
    mode = stat.S_IMODE(info.st_mode)
    theirs = info.st_uid != os.geteuid()
    if mode & 0o077 and not (theirs and mode & 0o077 == 0o040):
        fix = "chmod 640" if theirs else "chmod 600"
        raise SecretError(f"{path}: group or others may access it (mode {mode:04o}); run {fix} {path}")
    return info


def load_secret(path: Path | str) -> bytes:
    """
    The shared secret in ``path``: its text, surrounding white space
    stripped.  Errors name the path, never the content.

    :raises SecretError: if the file is missing, unreadable, open to more
        than :func:`check_private` allows, empty, or shorter than
        ``MIN_SECRET`` characters.
    """
    path = Path(path)
    check_private(path)
    try:
        text = path.read_bytes().strip()
    except OSError as e:
        raise SecretError(f"{path}: cannot read: {e.strerror}") from None
    if not text:
        raise SecretError(f"{path}: the secret file is empty")
    if len(text) < MIN_SECRET:
        raise SecretError(f"{path}: the secret is too short (fewer than {MIN_SECRET} characters)")
    return text


def new_nonce() -> bytes:
    """A fresh random nonce."""
    return os.urandom(NONCE_BYTES)


def valid_nonce(nonce: bytes) -> bool:
    """Whether ``nonce`` is the size a nonce must be."""
    return isinstance(nonce, bytes) and len(nonce) == NONCE_BYTES


def _mac(secret: bytes, label: bytes, *fields: bytes) -> bytes:
    """HMAC-SHA256 over ``label`` and ``fields``, each prefixed with its length."""
    message = b"".join(len(f).to_bytes(4, "big") + f for f in (label, *fields))
    return hmac.new(secret, message, hashlib.sha256).digest()


def region_proof(secret: bytes, name: str, cluster_nonce: bytes, region_nonce: bytes, channel: bytes) -> bytes:
    """
    The region's proof: ``HMAC(secret, "pserv-region" | name |
    cluster_nonce | region_nonce | channel)``.
    """
    return _mac(secret, b"pserv-region", name.encode("utf-8"), cluster_nonce, region_nonce, channel)


def cluster_proof(secret: bytes, name: str, region_nonce: bytes, cluster_nonce: bytes, channel: bytes) -> bytes:
    """
    The cluster's proof: ``HMAC(secret, "pserv-cluster" | name |
    region_nonce | cluster_nonce | channel)``.
    """
    return _mac(secret, b"pserv-cluster", name.encode("utf-8"), region_nonce, cluster_nonce, channel)


def proofs_match(expected: bytes, given: bytes) -> bool:
    """Compare two proofs in constant time."""
    return hmac.compare_digest(expected, given)
