"""
A test client for the region's API that holds every answer to the
OpenAPI contract: the status must be documented for that operation, the
headers it declares (required ones present) must match their schemas, and
the body must match the documented schema.  It records which operations
were exercised.
"""

import json
import re
from typing import Any

import treq
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from pserv.region.openapi import document

DOCUMENT = document()
_REGISTRY = Registry().with_resource("urn:pserv", DRAFT202012.create_resource(DOCUMENT))
EXERCISED: set[tuple[str, str]] = set()


def operations() -> set[tuple[str, str]]:
    """Every (METHOD, path template) the document lists."""
    return {
        (method.upper(), path)
        for path, item in DOCUMENT["paths"].items()
        for method in item
        if method != "parameters"
    }


class Answer:
    def __init__(self, status: int, headers: Any, body: Any) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        values = self.headers.getRawHeaders(name)
        return values[0] if values else None

    def __repr__(self) -> str:
        return f"<Answer {self.status} {self.body!r}>"


class APIClient:
    def __init__(self, base: str, token: str | None, headers: dict | None = None) -> None:
        self.base, self.token = base, token
        self.headers = headers or {}

    async def call(self, method: str, template: str, *, body: Any = None, raw: bytes | None = None,
                   token: Any = "default", params: dict | None = None, headers: dict | None = None,
                   **path: Any) -> Answer:
        url = self.base + template.format(**path)
        headers = {**self.headers, **(headers or {})}
        token = self.token if token == "default" else token
        if token is not None:
            headers["Authorization"] = [f"Bearer {token}"]
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            headers["Content-Type"] = ["application/json"]
        response = await treq.request(method, url, headers=headers, data=data, params=params)
        content = await response.content()
        parsed = json.loads(content) if content else None
        answer = Answer(response.code, response.headers, parsed)
        check(method, template, answer)
        return answer


def check(method: str, template: str, answer: Answer) -> None:
    """The answer is one the contract documents, body and all."""
    operation = DOCUMENT["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(answer.status) in responses, f"{method} {template} answered undocumented {answer}"
    EXERCISED.add((method, template))
    for name, header in responses[str(answer.status)].get("headers", {}).items():
        value = answer.header(name)
        assert value is not None or not header.get("required"), f"{method} {template}: no {name} header"
        if value is not None:
            Draft202012Validator(header["schema"]).validate(value)
    content = responses[str(answer.status)].get("content")
    if content is None:
        return
    kind = (answer.header("content-type") or "application/json").split(";")[0]
    assert kind in content, f"{method} {template} answered {kind}, not one of {sorted(content)}"
    if kind != "application/json":
        return
    schema = dict(content["application/json"]["schema"])
    schema = _resolve(schema)
    Draft202012Validator(schema, registry=_REGISTRY).validate(answer.body)


def _resolve(schema: dict) -> dict:
    text = json.dumps(schema)
    text = re.sub(r'"#/components', '"urn:pserv#/components', text)
    return json.loads(text)
