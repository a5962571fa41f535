"""
Tests for pserv.region.openapi_settings: each power type's parameters, as
the document declares them, are accepted by the power type (the document
is no looser than the region's checks), and what the document refuses the
region refuses.  Bodies are generated from the document by schemathesis
(as its run against a real region does) and checked in process.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from pserv.power.errors import PowerSettingsError
from pserv.power.settings import REDACTED
from pserv.region.errors import Invalid
from pserv.region.openapi import document
from pserv.region.openapi_settings import CREATE, UPDATE, component, keeping_secrets
from pserv.region.validation import Contract
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.power.types.answers import settings_answers

DOCUMENT = document(POWER_TYPES_WITH_FAKE)
CONTRACT = Contract(DOCUMENT)
API = schemathesis.openapi.from_dict(DOCUMENT)
SETTINGS = settings(max_examples=60, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))


def bad_body(case) -> bool:
    """Whether schemathesis made this negative case by breaking the body (not a header)."""
    return case.meta.components[ParameterLocation.BODY].mode == GenerationMode.NEGATIVE


@pytest.mark.parametrize("name", sorted(POWER_TYPES_WITH_FAKE))
def test_captured_inputs_the_document_accepts_are_accepted(name):
    """Of the inputs the drivers once answered, every one the document accepts the power type accepts."""
    kind = POWER_TYPES_WITH_FAKE[name]
    accepted = 0
    for case in settings_answers():
        if case["power_type"] != name or not isinstance(case["raw"], dict):
            continue
        try:
            CONTRACT.body(component(CREATE, name), case["raw"])
        except Invalid:
            continue
        kind.validate(case["raw"])
        accepted += 1
    assert accepted > 5


@SETTINGS
@given(API["/api/v1/nodes"]["POST"].as_strategy())
def test_every_body_the_document_allows_is_enrolled(case):
    """A node body generated from the document passes the region's check and the power type's: never a 400."""
    body = CONTRACT.body("NodeCreate", case.body)
    kind = POWER_TYPES_WITH_FAKE[body["power_type"]]
    kind.validate(body.get("power_parameters", {}))


@SETTINGS
@given(API["/api/v1/nodes/{node}"]["PATCH"].as_strategy())
def test_every_change_the_document_allows_is_checked_as_sent(case):
    """A change generated from the document passes the region's check; with its secrets given, the power type's too."""
    body = CONTRACT.body("NodeUpdate", case.body)
    if "power_type" not in body:
        return
    kind = POWER_TYPES_WITH_FAKE[body["power_type"]]
    sent = body["power_parameters"]
    if any(sent.get(s.name) in (None, REDACTED) for s in kind.settings if s.secret):
        return
    kind.validate(sent)


@settings(SETTINGS, max_examples=40)
@given(API["/api/v1/nodes"]["POST"].as_strategy(GenerationMode.NEGATIVE))
def test_every_body_the_document_refuses_is_refused(case):
    """A node body the document refuses (schemathesis's negative cases) the region refuses too."""
    assume(bad_body(case))
    with pytest.raises(Invalid):
        CONTRACT.body("NodeCreate", case.body)


@settings(SETTINGS, max_examples=40)
@given(API["/api/v1/power"]["POST"].as_strategy(GenerationMode.NEGATIVE))
def test_every_bulk_request_the_document_refuses_is_refused(case):
    """A bulk request the document refuses the region refuses too."""
    assume(bad_body(case))
    with pytest.raises(Invalid):
        CONTRACT.body("BulkPowerRequest", case.body)


def test_a_change_may_keep_secrets():
    """On change, a secret may be "set" or left out: it is neither required nor held to its rules."""
    schema = {"required": ["a", "secret"], "properties": {"secret": {"minLength": 8}, "a": {"type": "string"}},
              "then": {"required": ["secret"]}}
    assert keeping_secrets(schema, ["secret"]) == {
        "required": ["a"],
        "properties": {"secret": {"anyOf": [{"const": REDACTED}, {"minLength": 8}]}, "a": {"type": "string"}},
        "then": {},
    }


def test_each_power_type_has_both_schemas():
    """Every power type has its create and its update parameters in the document, and NodeCreate chooses by type."""
    schemas = DOCUMENT["components"]["schemas"]
    for name in POWER_TYPES_WITH_FAKE:
        assert component(CREATE, name) in schemas and component(UPDATE, name) in schemas
    chosen = [rule["if"]["properties"]["power_type"]["const"] for rule in schemas["NodeCreate"]["allOf"]]
    assert chosen == list(POWER_TYPES_WITH_FAKE)


def test_the_document_refuses_what_a_rule_refuses():
    """Rules between settings are declared: pyghmi's cipher suites, SNMPv3 keys, a MAC's form, a Redfish URL's path."""
    refused = [
        ("ipmi", {"address": "10.0.0.1", "cipher_suite": 5}, "power_parameters.cipher_suite"),
        ("ipmi", {"address": "::1", "backend": "python-ipmi"}, "power_parameters.address"),
        ("ipmi", {"address": "10.0.0.1", "password": "p" * 21}, "power_parameters.password"),
        ("snmp_pdu", {"address": "pdu", "outlet": 1, "version": "3", "v3_user": "u", "v3_auth_key": "short",
                      "v3_priv_protocol": "none"}, "power_parameters.v3_auth_key"),
        ("snmp_pdu", {"address": "pdu", "outlet": 1}, "power_parameters.community"),
        ("wol", {"mac": "aa:bb-cc:dd:ee:ff"}, "power_parameters.mac"),
        ("redfish", {"address": "https://bmc/x"}, "power_parameters.address"),
    ]
    for power_type, parameters, field in refused:
        with pytest.raises(PowerSettingsError):
            POWER_TYPES_WITH_FAKE[power_type].validate(parameters)
        with pytest.raises(Invalid) as caught:
            CONTRACT.body("NodeCreate", {"name": "n", "power_type": power_type, "power_parameters": parameters})
        assert caught.value.field == field, (power_type, parameters)
