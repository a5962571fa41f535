"""
Tests for pserv.region.openapi: the document is valid OpenAPI 3.1.
"""

import json

from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from pserv.region.openapi import PATHS, SCHEMAS, document
from pserv.power.types import POWER_TYPES
from pserv.region.openapi_schemas import SCHEMAS as COMPONENTS
from pserv.region.openapi_schemas import schemas


def test_document_is_valid_openapi_3_1():
    """The validator accepts the whole document as OpenAPI 3.1."""
    validate(document(), cls=OpenAPIV31SpecValidator)


def test_every_reference_resolves():
    """Every $ref in the document names a component schema it holds."""
    text = json.dumps(document())
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs and refs <= set(document()["components"]["schemas"])


def test_document_holds_the_paths_and_the_component_schemas():
    """The document is made of this module's paths and the schemas module's components, with the power types'."""
    assert document()["paths"] is PATHS and COMPONENTS is SCHEMAS
    assert document()["components"]["schemas"] == schemas(POWER_TYPES)
    assert set(SCHEMAS) < set(schemas(POWER_TYPES))
