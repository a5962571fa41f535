"""
Tests for pserv.power.types.snmp_pdu: the settings each SNMP version requires.
"""

import pytest

from pserv.power.errors import PowerSettingsError
from pserv.power.types.snmp_pdu import MIN_V3_KEY, SETTINGS, SNMP_PDU, check_credentials
from pserv.power.types.snmp_vendors import vendor_names

KEY = "k" * MIN_V3_KEY


def settings(**values):
    return SETTINGS.validate({"address": "10.0.0.2", "outlet": 1, **values})


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"version": "1"}, "community", "community: is required for SNMP version 1"),
        ({"version": "2c", "write_community": "private"}, "community", "community: is required for SNMP version 2c"),
        ({"version": "3"}, "v3_user", "v3_user: is required for SNMP version 3"),
        ({"version": "3", "v3_user": "ops"}, "v3_auth_key", "v3_auth_key: is required for SNMP version 3"),
        ({"version": "3", "v3_user": "ops", "v3_auth_key": "short"}, "v3_auth_key",
         "v3_auth_key: must be at least 8 characters"),
        ({"version": "3", "v3_user": "ops", "v3_auth_key": KEY}, "v3_priv_key",
         "v3_priv_key: is required for SNMP version 3"),
    ],
)
def test_each_version_requires_its_credentials(values, field, message):
    """v1 and v2c need a community; v3 a user, an auth key and, with privacy, a priv key of 8 or more."""
    with pytest.raises(PowerSettingsError) as caught:
        check_credentials(settings(**values))
    assert (caught.value.field, str(caught.value)) == (field, message)


def test_complete_credentials_pass():
    """A community for v2c, or v3 with keys (no priv key for authNoPriv), is enough."""
    check_credentials(settings(community="public"))
    check_credentials(settings(version="3", v3_user="ops", v3_auth_key=KEY, v3_priv_key=KEY))
    check_credentials(settings(version="3", v3_user="ops", v3_auth_key=KEY, v3_priv_protocol="none"))


def test_vendor_choices_are_the_vendor_table():
    """The vendor setting offers every row of the vendor table and auto, auto by default."""
    assert SETTINGS["vendor"].choices == vendor_names() and SETTINGS["vendor"].default == "auto"
    assert SNMP_PDU.validate({"address": "pdu", "outlet": 2, "community": "public"})["vendor"] == "auto"
