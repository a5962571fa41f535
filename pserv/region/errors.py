"""
What region operations refuse, mapped by the API to 400, 404, 409 and 412.
"""

from __future__ import annotations


class RegionError(Exception):
    """
    A refusal that a client can act on.

    :ivar field: the field to blame, if one is.
    """

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def body(self) -> dict[str, str]:
        """The JSON error body: ``{"error", "field"}``."""
        body = {"error": self.message}
        if self.field is not None:
            body["field"] = self.field
        return body


class Invalid(RegionError):
    """Bad input."""

    status = 400


class NotFound(RegionError):
    """No such node or action."""

    status = 404


class Conflict(RegionError):
    """The node's lifecycle, a unique name or an action's status forbids it."""

    status = 409


class PreconditionFailed(RegionError):
    """The request's precondition (``If-Match``: the version read) no longer holds."""

    status = 412
