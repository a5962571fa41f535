"""
How a Redfish reply's status becomes a power error, with the BMC's message.

Every message names the BMC (``redfish ADDRESS``) and what failed.  Text the
BMC sent back is untrusted: it is shortened, stripped of control characters
and scrubbed of our secrets before it goes into a message.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Iterable

from pserv.power.errors import (
    PowerAuthError,
    PowerError,
    PowerFatalError,
    PowerProtocolError,
    PowerSettingsError,
    PowerTransientError,
    PowerUnsupportedError,
)

MAX_MESSAGE = 300
"""The most characters of BMC text one error message carries."""

_UNSUPPORTED_IDS = ("ActionNotSupported", "ActionParameterNotSupported", "PropertyValueNotInList")


class RedfishProtocolError(PowerProtocolError):
    """
    The BMC answered, but not as a Redfish service does.
    """


class RedfishTLSError(PowerFatalError):
    """
    The TLS handshake failed, most often because certificate verification did.
    """


def bmc_message(body: bytes) -> str:
    """
    The human message of a Redfish error body, or ``""``.

    Joins ``error.message`` and each ``error.@Message.ExtendedInfo[].Message``
    (their ``MessageId`` values when there is no text at all).
    """
    error = _error_object(body)
    if error is None:
        return ""
    infos = _extended_info(error)
    texts = _texts([error.get("message")] + [i.get("Message") for i in infos])
    return "; ".join(texts or _texts(i.get("MessageId") for i in infos))


def message_ids(body: bytes) -> list[str]:
    """
    Every ``MessageId`` in a Redfish error body.
    """
    error = _error_object(body)
    if error is None:
        return []
    ids = [error.get("code")] + [i.get("MessageId") for i in _extended_info(error)]
    return [i for i in ids if isinstance(i, str)]


def clean_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """
    ``text`` made safe for a message: secrets replaced, control characters
    dropped, at most :data:`MAX_MESSAGE` characters.
    """
    text = "".join(c if c.isprintable() else " " for c in text)
    hidden = [s for s in secrets if s]
    marker = _marker("".join(hidden))
    while any(s in text for s in hidden):
        for secret in hidden:
            text = text.replace(secret, marker)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def _marker(secret_chars: str) -> str:
    # Made of a character no secret holds, so each replacement removes
    # secret characters and adds none: the loop ends with no secret left.
    candidates = itertools.chain("*#~", map(chr, itertools.count(0x2580)))
    return next(c for c in candidates if c not in secret_chars) * 3


def error_for_status(
    what: str,
    code: int,
    phrase: str,
    body: bytes,
    *,
    secrets: Iterable[str | None] = (),
    not_found_field: str = "address",
) -> PowerError:
    """
    The error for an unsuccessful reply.

    401/403 are refused credentials; 404 is a settings error naming
    ``not_found_field``; 405/501 and a refused action value are unsupported;
    409, 429 and 5xx mean the BMC is busy or failing (transient); any other
    4xx is fatal.  3xx is a protocol error: we do not follow redirects.

    :param what: names the BMC and the request, e.g.
        ``"redfish 10.0.0.9: GET /redfish/v1/Systems"``.
    """
    said = clean_text(bmc_message(body), secrets)
    text = f"{what}: HTTP {code} {clean_text(phrase)}".rstrip() + (f": {said}" if said else "")
    if code in (401, 403):
        return PowerAuthError(f"{text} (check username and password)")
    if code == 404:
        return PowerSettingsError(text, field=not_found_field)
    if code in (405, 501) or _refused_value(code, body):
        return PowerUnsupportedError(text)
    if code in (409, 429) or code >= 500:
        return PowerTransientError(text)
    if 300 <= code < 400:
        return RedfishProtocolError(f"{text} (redirect not followed)")
    if 400 <= code < 500:
        return PowerFatalError(text)
    return RedfishProtocolError(f"{text} (unexpected status)")


def _refused_value(code: int, body: bytes) -> bool:
    return code == 400 and any(i.endswith(_UNSUPPORTED_IDS) for i in message_ids(body))


def _texts(values: Iterable[Any]) -> list[str]:
    texts = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    return list(dict.fromkeys(texts))


def _error_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = document.get("error") if isinstance(document, dict) else None
    return error if isinstance(error, dict) else None


def _extended_info(error: dict[str, Any]) -> list[dict[str, Any]]:
    infos = error.get("@Message.ExtendedInfo")
    if not isinstance(infos, list):
        return []
    return [i for i in infos if isinstance(i, dict)]
