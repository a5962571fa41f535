"""
Tests for pserv.region.ui.settings_form.
"""

from pserv.power.types import POWER_TYPES
from pserv.region.ui.settings_form import (
    blank_fields, field_key, find_type, parameters_of, stored_fields, submitted_fields,
)

IPMI = find_type(POWER_TYPES.describe(), "ipmi")
REDFISH = find_type(POWER_TYPES.describe(), "redfish")


def test_a_new_form_holds_the_defaults():
    """Each setting's field holds its default; a boolean is ticked by a true default."""
    fields = {f.key: f for f in blank_fields(IPMI)}
    assert fields["power_parameters.port"].value == "623" and fields["power_parameters.address"].value == ""
    assert fields["power_parameters.port"].input_type == "number" and fields["power_parameters.port"].step == "1"
    assert fields["power_parameters.privilege"].input_type == "select"
    assert fields["power_parameters.password"].input_type == "password"
    assert {f.key: f for f in blank_fields(REDFISH)}["power_parameters.verify_tls"].checked is True


def test_an_edit_form_says_which_secrets_are_set_and_never_holds_one():
    """A stored secret shows as set with an empty input; an unset one as not set."""
    fields = {f.key: f for f in stored_fields(IPMI, {"address": "h", "port": 700, "password": "set"})}
    assert (fields["power_parameters.password"].value, fields["power_parameters.password"].secret_set) == ("", True)
    assert fields["power_parameters.kg"].secret_set is False and fields["power_parameters.port"].value == "700"
    assert fields["power_parameters.address"].secret_set is None


def test_a_submitted_form_is_shown_as_typed_but_for_secrets():
    """What was typed comes back with its error; a secret typed never does."""
    form = {"power_parameters.port": "70000", "power_parameters.password": "typed-secret"}
    fields = {f.key: f for f in submitted_fields(IPMI, form, {"power_parameters.port": "too big"}, {})}
    assert (fields["power_parameters.port"].value, fields["power_parameters.port"].error) == ("70000", "too big")
    assert fields["power_parameters.password"].value == ""


def test_parameters_are_typed_and_empty_ones_left_out():
    """Numbers and booleans take their JSON type; what does not convert is sent as typed; empty is left out."""
    form = {"power_parameters.port": "623", "power_parameters.address": "h", "power_parameters.kg": "",
            "power_parameters.cipher_suite": "three"}
    assert parameters_of(IPMI, form) == {"port": 623, "address": "h", "cipher_suite": "three"}
    assert parameters_of(REDFISH, {"power_parameters.verify_tls": "false"}) == {"verify_tls": False}


def test_an_errors_field_names_its_input():
    """The store's setting names and the contract's power_parameters.NAME both name the setting's input."""
    assert field_key(IPMI, "port") == "power_parameters.port"
    assert field_key(IPMI, "power_parameters.port") == "power_parameters.port"
    assert field_key(IPMI, "name") == "name" and field_key(None, "port") == "port" and field_key(IPMI, None) is None
