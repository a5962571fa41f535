"""
TLS for the RPC: the region's self-signed certificate and key, and the
options each side connects with.

The cluster does not verify the region's certificate against any CA: the
handshake binds both proofs to the certificate's SHA-256 fingerprint *as
each side sees it*, so only a region that holds the shared secret *and*
presents the certificate the cluster sees can complete it.  A relay that
presents its own certificate changes what the cluster sees, and the proofs
no longer match.  TLS keeps power parameters (BMC passwords) private on the
wire; the secret itself never travels.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import ssl

from pserv.rpc.auth import SecretError, check_private

CERTIFICATE_FILE = "rpc.crt"
KEY_FILE = "rpc.key"
#: Nobody checks the expiry (there is no CA), so it is far away.
VALID_DAYS = 36500


class CertificateError(Exception):
    """The region's certificate or key cannot be used; the message names the file."""


@dataclass(frozen=True)
class RegionCertificate:
    """
    The region's TLS identity.

    :ivar options: server TLS options for ``listenSSL`` or
        ``TLSMemoryBIOFactory``.
    :ivar fingerprint: the certificate's SHA-256 fingerprint (32 bytes), the
        channel the region binds its handshakes to.
    """

    options: ssl.CertificateOptions
    fingerprint: bytes


def ensure_certificate(directory: Path | str) -> RegionCertificate:
    """
    The region's certificate and key in ``directory``, made (once) if
    either is missing: ``rpc.key`` (mode 0600) and ``rpc.crt``.

    :raises CertificateError: if the key is accessible to group or others,
        or a file cannot be read or parsed.
    """
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_path, certificate_path = directory / KEY_FILE, directory / CERTIFICATE_FILE
    if not (key_path.exists() and certificate_path.exists()):
        _create(key_path, certificate_path)
    try:
        check_private(key_path)
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    except SecretError as e:
        raise CertificateError(str(e)) from None
    except (OSError, ValueError, TypeError):
        raise CertificateError(f"{directory}: cannot load {CERTIFICATE_FILE} and {KEY_FILE}") from None
    # pyOpenSSL takes ``cryptography`` objects (its own X509 is deprecated).
    options = ssl.CertificateOptions(
        privateKey=key, certificate=certificate, raiseMinimumTo=ssl.TLSVersion.TLSv1_2  # type: ignore[arg-type]
    )
    try:
        options.getContext()
    except Exception:
        raise CertificateError(f"{directory}: {KEY_FILE} does not match {CERTIFICATE_FILE}") from None
    return RegionCertificate(options, certificate_fingerprint(certificate))


def _create(key_path: Path, certificate_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_atomically(key_path, key_pem, 0o600)
    certificate = _self_signed(key)
    _write_atomically(certificate_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pserv-region")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .sign(key, hashes.SHA256())
    )


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.replace(temporary, path)


def client_options() -> ssl.CertificateOptions:
    """
    The cluster's TLS options: TLS 1.2 or later, no CA check (the
    handshake's channel binding authenticates the region, see above).
    """
    return ssl.CertificateOptions(raiseMinimumTo=ssl.TLSVersion.TLSv1_2)


def certificate_fingerprint(certificate: Any) -> bytes:
    """The SHA-256 fingerprint of a pyOpenSSL or ``cryptography`` certificate."""
    if not isinstance(certificate, x509.Certificate):
        certificate = certificate.to_cryptography()
    return certificate.fingerprint(hashes.SHA256())


def peer_fingerprint(transport: Any) -> bytes:
    """
    The SHA-256 fingerprint of the certificate the peer presented on this
    TLS ``transport``.

    :raises ValueError: if the transport has no peer certificate (not TLS,
        or the TLS handshake has not completed).
    """
    get = getattr(transport, "getPeerCertificate", None)
    certificate = get() if get is not None else None
    if certificate is None:
        raise ValueError("the connection has no TLS peer certificate")
    return certificate_fingerprint(certificate)
