"""
Tests for pserv.rpc.auth: the secret file and the proofs.
"""

import os

import pytest

from pserv.rpc import auth
from pserv.rpc.auth import SecretError, cluster_proof, load_secret, proofs_match, region_proof

SECRET_TEXT = "a1" * 32


def secret_file(tmp_path, text=SECRET_TEXT + "\n", mode=0o600):
    """A secret file with ``text`` and ``mode``."""
    path = tmp_path / "secret"
    path.write_text(text)
    os.chmod(path, mode)
    return path


def test_load_secret_strips_the_newline(tmp_path):
    """The secret is the file's text without surrounding white space."""
    assert load_secret(secret_file(tmp_path)) == SECRET_TEXT.encode()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602])
def test_group_or_others_access_is_refused(tmp_path, mode):
    """A secret file of its reader's that group or others can access is refused, in one line naming the path only."""
    path = secret_file(tmp_path, mode=mode)
    with pytest.raises(SecretError) as raised:
        load_secret(path)
    message = str(raised.value)
    assert str(path) in message and "\n" not in message and SECRET_TEXT not in message
    assert f"{mode:04o}" in message


@pytest.mark.parametrize("mode, allowed", [(0o640, True), (0o440, True), (0o660, False), (0o644, False)])
def test_a_file_another_user_owns_may_be_read_by_the_group(tmp_path, mode, allowed):
    """The packages' root:pserv 0640: group-readable is accepted when the reader does not own the file."""
    path = secret_file(tmp_path, mode=mode)
    os.chown(path, os.geteuid() + 1, -1)
    if allowed:
        assert load_secret(path) == SECRET_TEXT.encode()
    else:
        with pytest.raises(SecretError, match="chmod 640"):
            load_secret(path)


@pytest.mark.parametrize("text, why", [("", "empty"), ("  \n", "empty"), ("short\n", "too short")])
def test_empty_or_short_is_refused(tmp_path, text, why):
    """An empty (or blank) or short secret file is refused, naming the path and not the content."""
    path = secret_file(tmp_path, text=text)
    with pytest.raises(SecretError, match=why) as raised:
        load_secret(path)
    message = str(raised.value)
    assert str(path) in message and "\n" not in message


def test_missing_file_is_refused(tmp_path):
    """A missing secret file is refused in one line naming it."""
    with pytest.raises(SecretError, match="cannot read") as raised:
        load_secret(tmp_path / "nope")
    assert str(tmp_path / "nope") in str(raised.value)


ARGS = ("rack-1", b"c" * 32, b"r" * 32, b"channel")


def test_the_two_proofs_differ():
    """The region's and the cluster's proofs carry different labels, so neither replays as the other."""
    name, cluster_nonce, region_nonce, channel = ARGS
    assert region_proof(b"k" * 32, name, cluster_nonce, region_nonce, channel) != cluster_proof(
        b"k" * 32, name, cluster_nonce, region_nonce, channel)


@pytest.mark.parametrize("proof", [region_proof, cluster_proof])
def test_every_input_changes_the_proof(proof):
    """Changing the secret, the name, either nonce or the channel changes the proof."""
    base = proof(b"k" * 32, *ARGS)
    assert proof(b"K" * 32, *ARGS) != base
    for index in range(len(ARGS)):
        changed = list(ARGS)
        changed[index] = changed[index] + ("x" if isinstance(changed[index], str) else b"x")
        assert proof(b"k" * 32, *changed) != base


def test_fields_are_length_prefixed():
    """Moving bytes between adjacent fields changes the proof (no ambiguous concatenation)."""
    assert region_proof(b"k", "ab", b"c", b"r", b"x") != region_proof(b"k", "a", b"bc", b"r", b"x")


def test_proofs_match():
    """proofs_match compares proofs."""
    assert proofs_match(b"abc", b"abc") and not proofs_match(b"abc", b"abd")


def test_nonces():
    """Nonces are fresh and of the fixed size; others are invalid."""
    assert auth.new_nonce() != auth.new_nonce() and auth.valid_nonce(auth.new_nonce())
    assert not auth.valid_nonce(b"x" * 31) and not auth.valid_nonce("x" * 32)


@pytest.mark.parametrize("name, ok", [("rack-1", True), ("r.a_c-k", True), ("-rack", False), ("", False),
                                      ("a" * 63, True), ("a" * 64, False), ("rack 1", False)])
def test_cluster_names(name, ok):
    """Cluster names follow the region's node-name rule."""
    assert bool(auth.CLUSTER_NAME.match(name)) is ok
