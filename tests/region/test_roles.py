"""
Tests for pserv.region.roles.
"""

import pytest

from pserv.region.errors import Invalid
from pserv.region.roles import MEANINGS, ROLES, Role, role_named


def test_roles_are_ordered_least_first():
    """viewer < operator < admin, and each allows what the ones below it allow."""
    assert ROLES == ["viewer", "operator", "admin"]
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)
    assert set(MEANINGS) == set(Role)


def test_an_unknown_role_names_the_field():
    """A role name that is not one is refused naming the field and the choices."""
    assert role_named("operator") is Role.OPERATOR
    with pytest.raises(Invalid) as refused:
        role_named("root")
    assert (refused.value.field, refused.value.message) == ("role", "role: must be one of viewer, operator, admin")
