"""
The roles a user or an API token has, from least to most allowed.

``viewer`` reads everything but users and tokens; ``operator`` also
enrols, changes and deletes nodes and asks for power; ``admin`` also
manages users and tokens, and anything added later.  A role allows all
that the roles below it allow.  What each route needs is the table in
:mod:`pserv.region.permissions`.
"""

from __future__ import annotations

from enum import Enum

from pserv.region.errors import Invalid


class Role(str, Enum):
    """A role, ordered: each allows what the ones before it allow."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """Its place in the order: viewer 0, operator 1, admin 2."""
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


ROLES = [role.value for role in Role]
"""The role names, least allowed first, as the API and the CLI spell them."""

MEANINGS = {
    Role.VIEWER: "reads nodes, actions, events, clusters and drivers",
    Role.OPERATOR: "also enrols, changes, locks, unlocks and deletes nodes, and requests and cancels power actions",
    Role.ADMIN: "also manages users and API tokens; everything",
}
"""What each role is for, in one line (docs/api.md shows it)."""


def role_named(name: object, field: str = "role") -> Role:
    """
    The role called ``name``.

    :raises Invalid: naming ``field`` when there is none.
    """
    try:
        return Role(name)
    except ValueError:
        raise Invalid(f"{field}: must be one of {', '.join(ROLES)}", field) from None
