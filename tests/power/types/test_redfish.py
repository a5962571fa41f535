"""
Tests for pserv.power.types.redfish: the settings, the address and the system id.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.types.redfish import REDFISH, endpoint, system_id
from pserv.power.types.redfish_endpoint import Endpoint


def test_endpoint_honours_verify_tls():
    """The endpoint is the address's, verifying TLS unless verify_tls says not to."""
    assert endpoint({"address": "bmc:8443"}) == Endpoint("https", "bmc", 8443, True)
    assert endpoint({"address": "bmc", "verify_tls": "false"}).verify_tls is False
    assert endpoint({"address": "bmc", "verify_tls": None}).verify_tls is True


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), ("1", "1"),
                                             ("/redfish/v1/Systems/1", "/redfish/v1/Systems/1")])
def test_system_id_is_an_id_or_a_redfish_path(value, expected):
    """A system id is absent, an Id, or a path under /redfish/v1/."""
    assert system_id({"system_id": value}) == expected


def test_system_id_outside_redfish_is_refused():
    """A path outside /redfish/v1/ is a settings error naming system_id."""
    with pytest.raises(PowerSettingsError) as caught:
        system_id({"system_id": "Systems/1"})
    assert (caught.value.field, str(caught.value)) == ("system_id", "system_id: must be an Id or a /redfish/v1/ path")


def test_validate_checks_the_address_first():
    """The power type names a bad address before a bad system id."""
    with pytest.raises(PowerSettingsError) as caught:
        REDFISH.validate({"address": "https://root:pw@bmc", "system_id": "Systems/1"})
    assert caught.value.field == "address" and "pw" not in str(caught.value)
    assert REDFISH.validate({"address": "bmc", "system_id": "1"})["verify_tls"] is True
