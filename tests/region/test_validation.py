"""
Tests for pserv.region.validation.
"""

import pytest
from twisted.web.test.requesthelper import DummyRequest

from pserv.region.errors import Invalid
from pserv.region.openapi import document
from pserv.region.store.common import MAX_ID
from pserv.region.store.nodes import NAME
from pserv.region.validation import Contract, Recent, check_body, ecma


@pytest.mark.parametrize(
    "schema, body, field, reason",
    [
        ("PowerRequest", {}, "action", "is required"),
        ("PowerRequest", {"action": "reboot"}, "action", "must be one of on, off, cycle, soft_off, query"),
        ("PowerRequest", {"action": "on", "x": 1}, "x", "is not a known field"),
        ("PowerRequest", [], None, "the body must be a JSON object"),
        ("NodeCreate", {"name": 5, "power_type": "fake"}, "name", "must be a string"),
        ("BulkPowerRequest", {"action": "on", "filter": {"rack": 1}}, "filter.rack", "is not a known field"),
        ("PowerRequest", {"action": "on", "escalate_after": 5}, "escalate_after", "only for soft_off"),
        ("PowerRequest", {"escalate_after": 5}, "action", "is required"),
        ("PowerRequest", {"action": "soft_off", "escalate_after": -1}, "escalate_after", "must be more than 0"),
        ("BulkPowerRequest", {"action": "soft_off", "nodes": ["n1"], "escalate_after": 1e9}, "escalate_after", "must be at most 300"),
        ("BulkPowerRequest", {"action": "on"}, "nodes", "give either nodes or filter"),
        ("BulkPowerRequest", {"action": "on", "nodes": []}, "nodes", "must hold at least 1"),
        ("NodeCreate", {"name": "12", "power_type": "manual"}, "name",
         "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, not all digits"),
        ("NodeCreate", {"name": "n", "power_type": "ipmi", "power_parameters": {"address": "a", "port": 0}},
         "power_parameters.port", "must be at least 1"),
        ("NodeCreate", {"name": "n", "power_type": "ipmi"}, "power_parameters", "is required"),
        ("NodeUpdate", {"power_type": "ipmi"}, "power_parameters", "is required with power_type"),
        ("PowerRequest", {"action": "on", "reason": ""}, "reason",
         "must be 1 to 500 characters, one line, no control characters"),
        ("BulkPowerRequest", {"action": "on", "nodes": ["n"], "reason": "x" * 501}, "reason",
         "must be 1 to 500 characters, one line, no control characters"),
        ("PowerRequest", {"action": "on", "reason": "a\nb"}, "reason",
         "must be 1 to 500 characters, one line, no control characters"),
        ("BulkPowerRequest", {"action": "on", "nodes": ["n"], "dry_run": "yes"}, "dry_run", "must be true or false"),
        ("BulkPowerRequest", {"action": "on", "filter": {"q": "x" * 64}}, "filter.q",
         "must be part of a node's name (at most 63 characters), case ignored"),
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


CONTRACT = Contract(document())


def request_with(**args):
    request = DummyRequest([b""])
    request.args = {k.encode(): [v.encode()] for k, v in args.items()}
    return request


def query_parameters():
    """Every (operation id, query parameter) the document declares."""
    for item in document()["paths"].values():
        for method, operation in item.items():
            if method != "parameters":
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "query":
                        yield operation["operationId"], parameter


PATTERNED = {
    "cluster": (["rack-1", ""], ["rack 1"]),
    "group": (["rack-1", ""], ["rack 1"]),
    "power_type": (["ipmi", "snmp_pdu", ""], ["IPMI", "snmp-pdu", "x" * 33]),
    "q": (["Rack 1", "\u00fc", "x" * 63], ["x" * 64]),
}
"""Good and bad values of the arguments with a pattern."""


SCALARS = [(o, p) for o, p in query_parameters() if p["schema"].get("type") != "array"]
"""The query arguments of one value; arrays (ids) are tested below."""


@pytest.mark.parametrize("operation, parameter", SCALARS, ids=lambda p: p if isinstance(p, str) else p["name"])
def test_every_declared_rule_of_a_query_argument_is_the_rule_enforced(operation, parameter):
    """Each query argument's declared bounds, enum, pattern and need are exactly what the region accepts and refuses."""
    name, schema = parameter["name"], parameter["schema"]
    good, bad = [], ["\u0661"] if schema.get("type") == "integer" else []
    if "minimum" in schema:
        good.append(str(schema["minimum"]))
        bad.append(str(schema["minimum"] - 1))
    if "maximum" in schema:
        good.append(str(schema["maximum"]))
        bad.append(str(schema["maximum"] + 1))
    if "enum" in schema:
        good.extend(schema["enum"])
        bad.append("not-one")
    if "pattern" in schema:
        good.extend(PATTERNED[name][0])
        bad.extend(PATTERNED[name][1])
    for value in good:
        expected = int(value) if value.lstrip("-").isdigit() else value
        assert CONTRACT.query(operation, request_with(**{name: value}))[name] == expected, value
    for value in bad:
        with pytest.raises(Invalid) as caught:
            CONTRACT.query(operation, request_with(**{name: value}))
        assert caught.value.field == name, value
    if parameter.get("required"):
        with pytest.raises(Invalid, match=f"{name}: is required"):
            CONTRACT.query(operation, request_with())
    else:
        assert CONTRACT.query(operation, request_with())[name] == schema.get("default")


@pytest.mark.parametrize("text, ids", [("7", [7]), ("3,1,3", [3, 1, 3]), (",".join(["1"] * 500), [1] * 500),
                                       (f"1,{MAX_ID}", [1, MAX_ID]), ("007", [7])])
def test_an_array_argument_is_items_separated_by_commas(text, ids):
    """ids=1,2,3 is a list of integers, each checked as its schema says, up to 500."""
    assert CONTRACT.query("listActions", request_with(ids=text))["ids"] == ids


@pytest.mark.parametrize("text, reason", [
    ("", "must be 1 to 500 action ids, separated by commas"),
    ("1,,2", "must be 1 to 500 action ids, separated by commas"),
    ("1, 2", "must be 1 to 500 action ids, separated by commas"),
    ("one", "must be 1 to 500 action ids, separated by commas"),
    (",".join(["1"] * 501), "must hold at most 500"),
    ("1,0", "must be at least 1"),
    (f"{MAX_ID + 1}", "must be at most 2147483647"),
])
def test_a_bad_array_argument_names_it(text, reason):
    """A list not of integers separated by commas, too long, or with an item out of bounds is refused naming ids."""
    with pytest.raises(Invalid) as caught:
        CONTRACT.query("listActions", request_with(ids=text))
    assert caught.value.field == "ids" and caught.value.message.endswith(reason), caught.value.message


@pytest.mark.parametrize("value, expected", [('"3"', '"3"'), ("3", "3"), ("*", "*"), (None, None)])
def test_a_declared_header_is_read(value, expected):
    """If-Match is a version (quoted, or not) or *, or absent."""
    request = request_with()
    if value is not None:
        request.requestHeaders.setRawHeaders(b"if-match", [value.encode()])
    assert CONTRACT.header("updateNode", request, "If-Match") == expected


@pytest.mark.parametrize("value", ['W/"3"', '"3", "4"', '"3', '"x"', '"12345678901"', "\u00e9", ""])
def test_a_bad_header_names_it(value):
    """An If-Match that is not one version (quoted, or not) nor * is refused naming If-Match."""
    request = request_with()
    request.requestHeaders.setRawHeaders(b"if-match", [value.encode("latin-1")])
    with pytest.raises(Invalid) as caught:
        CONTRACT.header("updateNode", request, "If-Match")
    assert caught.value.field == "If-Match" and "the node's ETag" in caught.value.message


def test_query_integers_are_plain_digits():
    """An integer argument is ASCII digits with an optional '-': no spaces, underscores, '+', other digits or nothing."""
    for text in [" 5", "5 ", "1_0", "+5", "\u0665", "5.0", ""]:
        with pytest.raises(Invalid, match="limit: must be an integer"):
            CONTRACT.query("listNodes", request_with(limit=text))


def test_an_integer_header_is_read_as_an_integer_argument_is():
    """Last-Event-ID is converted to an integer and bounded by its schema, a bad one refused naming it."""
    def request(value=None):
        request = request_with()
        if value is not None:
            request.requestHeaders.setRawHeaders(b"last-event-id", [value.encode()])
        return request

    assert CONTRACT.header("streamEvents", request("42"), "Last-Event-ID") == 42
    assert CONTRACT.header("streamEvents", request(), "Last-Event-ID") is None
    for bad in ["x", "-1", "", " 5", str(MAX_ID + 1)]:
        with pytest.raises(Invalid) as caught:
            CONTRACT.header("streamEvents", request(bad), "Last-Event-ID")
        assert caught.value.field == "Last-Event-ID", bad


def test_a_final_dollar_ends_the_text():
    """A pattern's final $ ends the text as in ECMA 262, not before a final newline as in Python."""
    assert ecma("^a$").search("a") and not ecma("^a$").search("a\n")
    with pytest.raises(Invalid):
        check_body("NodeCreate", {"name": "node-1\n", "power_type": "manual"})


def test_ids_are_bounded_to_what_the_store_holds():
    """Every id path parameter, and the cursors, are bounded to the store's largest id."""
    paths = document()["paths"]
    assert paths["/api/v1/actions/{action}"]["parameters"][0]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_ID}
    assert paths["/api/v1/nodes/{node}"]["parameters"][0]["schema"]["oneOf"][0]["maximum"] == MAX_ID
    for _, parameter in query_parameters():
        if parameter["name"] in ("after", "before"):
            assert parameter["schema"]["maximum"] == MAX_ID


def test_the_node_name_rule_is_the_stores():
    """The document's node name pattern is the store's, with all-digit names (ids) refused."""
    name = document()["components"]["schemas"]["NodeCreate"]["properties"]["name"]
    assert name["pattern"] == NAME.pattern and name["not"] == {"pattern": "^[0-9]+$"}


def counted(contract, schema, monkeypatch):
    """Count the checks of ``schema``'s bodies that ``contract`` makes."""
    checks = []
    validator = contract._bodies[schema]

    class Counting:
        def iter_errors(self, body):
            checks.append(body)
            return validator.iter_errors(body)

    monkeypatch.setitem(contract._bodies, schema, Counting())
    return checks


def test_a_fitting_power_request_is_checked_once_then_remembered(monkeypatch):
    """The same PowerRequest body, keys in any order, is checked the first time only, and comes back each time."""
    contract = Contract(document())
    checks = counted(contract, "PowerRequest", monkeypatch)
    body = {"action": "soft_off", "escalate_after": 1}
    assert contract.body("PowerRequest", body) is body
    assert contract.body("PowerRequest", {"escalate_after": 1, "action": "soft_off"}) == body
    assert checks == [body]


def test_a_bad_body_is_refused_every_time_and_a_look_alike_is_checked(monkeypatch):
    """Refusals are not remembered, and true or 1.0 where 1 fitted is another body, checked on its own."""
    contract = Contract(document())
    checks = counted(contract, "PowerRequest", monkeypatch)
    contract.body("PowerRequest", {"action": "soft_off", "escalate_after": 1})
    for _ in range(2):
        with pytest.raises(Invalid, match="escalate_after: must be a number"):
            contract.body("PowerRequest", {"action": "soft_off", "escalate_after": True})
    assert contract.body("PowerRequest", {"action": "soft_off", "escalate_after": 1.0})["escalate_after"] == 1.0
    assert len(checks) == 4


def test_bodies_of_other_schemas_are_never_remembered(monkeypatch):
    """A node's body (which may hold a BMC password) is checked every time, and kept nowhere."""
    contract = Contract(document())
    checks = counted(contract, "NodeCreate", monkeypatch)
    body = {"name": "n1", "power_type": "ipmi", "power_parameters": {"address": "a", "password": "hunter2"}}
    contract.body("NodeCreate", body)
    contract.body("NodeCreate", body)
    assert len(checks) == 2 and "hunter2" not in repr(contract._fitting._keys)


def test_recent_keeps_the_last_ones_seen():
    """Recent forgets the least recently seen key beyond its size; seeing a key makes it the most recent."""
    recent = Recent(2)
    recent.add("a")
    recent.add("b")
    assert recent.seen("a")
    recent.add("c")
    assert (recent.seen("a"), recent.seen("b"), recent.seen("c")) == (True, False, True)
