"""
Tests for pserv.region.validation.
"""

import pytest

from pserv.region.errors import Invalid
from pserv.region.validation import check_body


@pytest.mark.parametrize(
    "schema, body, field, reason",
    [
        ("PowerRequest", {}, "action", "is required"),
        ("PowerRequest", {"action": "reboot"}, "action", "must be one of on, off, cycle, soft_off, query"),
        ("PowerRequest", {"action": "on", "x": 1}, "x", "is not a known field"),
        ("PowerRequest", [], None, "the body must be a JSON object"),
        ("NodeCreate", {"name": 5, "power_type": "fake"}, "name", "must be string"),
        ("BulkPowerRequest", {"action": "on", "filter": {"rack": 1}}, "filter.rack", "is not a known field"),
        ("PowerRequest", {"action": "on", "escalate_after": 5}, "escalate_after", "only for soft_off"),
        ("PowerRequest", {"escalate_after": 5}, "action", "is required"),
        ("PowerRequest", {"action": "soft_off", "escalate_after": -1}, "escalate_after", "must be more than 0"),
        ("BulkPowerRequest", {"action": "soft_off", "escalate_after": 1e9}, "escalate_after", "must be at most 300"),
    ],
)
def test_errors_name_the_field(schema, body, field, reason):
    """A body that breaks the contract is refused naming the field and the reason."""
    with pytest.raises(Invalid) as caught:
        check_body(schema, body)
    assert (caught.value.field, caught.value.message.split(": ")[-1]) == (field, reason)


def test_good_body_passes():
    """A body that fits the contract comes back unchanged."""
    assert check_body("PowerRequest", {"action": "soft_off"}) == {"action": "soft_off"}
    assert check_body("PowerRequest", {"action": "soft_off", "escalate_after": 0.5})["escalate_after"] == 0.5
