"""
The API holds to its document, over real HTTP on SQLite and PostgreSQL:
what the document accepts is never refused as bad input, what it refuses
is refused, and what names nothing is a 404, never a 500.  The cases are
the ones schemathesis found, or the rules it made the document declare.
"""

import pytest
import pytest_twisted

from pserv.region.store.common import MAX_ID
from tests.region.test_api import api, clusters, enrol  # noqa: F401  (fixtures)


@pytest.mark.parametrize(
    "path, params",
    [
        ("/api/v1/nodes", {"after": str(MAX_ID)}),
        ("/api/v1/events", {"after": str(MAX_ID), "since": "2026-12-31T23:59:60Z"}),
        ("/api/v1/events", {"since": "0000-01-01t00:00:00z"}),
        ("/api/v1/events", {"since": "9999-12-31T23:59:59-23:59"}),
        ("/api/v1/nodes/node-1/actions", {"before": str(MAX_ID)}),
        ("/api/v1/nodes", {"cluster": ""}),
    ],
)
@pytest_twisted.ensureDeferred
async def test_what_the_document_allows_is_answered(api, path, params):
    """Bounds up to the largest id and every RFC 3339 date-time (leap seconds, year 0) are accepted."""
    await enrol(api)
    template = "/api/v1/nodes/{node}/actions" if "actions" in path else path
    answer = await api.call("GET", template, node="node-1", params=params)
    assert answer.status == 200, answer


@pytest.mark.parametrize(
    "path, params",
    [
        ("/api/v1/nodes", {"after": str(MAX_ID + 1)}),
        ("/api/v1/nodes", {"limit": "1_0"}),
        ("/api/v1/nodes", {"limit": " 10"}),
        ("/api/v1/nodes", {"limit": "\u0661\u0660"}),
        ("/api/v1/nodes", {"cluster": "rack 1"}),
        ("/api/v1/events", {"since": "2026-12-01"}),
        ("/api/v1/events", {"since": "2026-02-29T00:00:00Z"}),
        ("/api/v1/events", {"node": "a\x00b"}),
    ],
)
@pytest_twisted.ensureDeferred
async def test_what_the_document_refuses_is_400(api, path, params):
    """An argument out of its declared bounds, type, pattern or format is a 400 naming it."""
    answer = await api.call("GET", path, params=params)
    assert (answer.status, answer.body["field"]) == (400, next(iter(params))), answer


@pytest_twisted.ensureDeferred
async def test_events_of_a_node_by_id(api):
    """The events' node argument is an id or a name: by id it is the same page."""
    node = await enrol(api)
    by_id = await api.call("GET", "/api/v1/events", params={"node": str(node["id"])})
    by_name = await api.call("GET", "/api/v1/events", params={"node": "node-1"})
    assert by_id.status == 200 and by_id.body == by_name.body and by_id.body["items"]


@pytest.mark.parametrize("ref", ["a%00b", "%C2%A3", "-1", "node-1%0A"])
@pytest_twisted.ensureDeferred
async def test_what_names_no_node_is_404(api, ref):
    """A node reference that is no id and no name (NUL, non-ASCII, a sign, a newline) is a 404, never a 500."""
    await enrol(api)
    for method, template in [("GET", "/api/v1/nodes/{node}"), ("GET", "/api/v1/nodes/{node}/actions")]:
        answer = await api.call(method, template, node=ref)
        assert answer.status == 404, (template, answer)


@pytest_twisted.ensureDeferred
async def test_ids_past_the_columns_are_404(api):
    """An id past 32 bits (the id columns are INTEGER in PostgreSQL) names nothing: 404, never a 500."""
    for template, name in [("/api/v1/nodes/{node}", "node"), ("/api/v1/nodes/{node}/actions", "node"),
                           ("/api/v1/actions/{action}", "action")]:
        for past in (2**31, 2**40):
            answer = await api.call("GET", template, **{name: str(past)})
            assert answer.status == 404, (template, answer)
    answer = await api.call("POST", "/api/v1/power", body={"action": "on", "nodes": [2**31]})
    assert answer.status == 404


@pytest_twisted.ensureDeferred
async def test_bulk_names_with_nul_are_404(api):
    """A bulk request naming a node with a NUL in it is a 404, never a 500."""
    await enrol(api)
    answer = await api.call("POST", "/api/v1/power", body={"action": "on", "nodes": ["node-1", "a\x00b"]})
    assert answer.status == 404


@pytest_twisted.ensureDeferred
async def test_a_name_ending_in_a_newline_is_refused(api):
    """The name pattern's $ ends the text, as the document's (ECMA) pattern means: "node-1\\n" is refused."""
    answer = await api.call("POST", "/api/v1/nodes", body={"name": "node-1\n", "power_type": "fake",
                                                            "power_parameters": {"address": "a"}})
    assert (answer.status, answer.body["field"]) == (400, "name")


@pytest_twisted.ensureDeferred
async def test_a_filter_matching_nothing_is_404(api):
    """A bulk filter that matches no node is a 404 (nothing to act on), not a 400: the body was good."""
    await enrol(api)
    answer = await api.call("POST", "/api/v1/power", body={"action": "on", "filter": {"cluster": "nowhere"}})
    assert (answer.status, answer.body["field"]) == (404, "filter")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "on"}, "nodes"),
        ({"action": "on", "nodes": ["node-1"], "filter": {}}, "nodes"),
        ({"action": "on", "nodes": []}, "nodes"),
    ],
)
@pytest_twisted.ensureDeferred
async def test_bulk_gives_nodes_or_filter(api, body, field):
    """A bulk request gives exactly one of nodes (not empty) or filter: otherwise 400 naming nodes."""
    answer = await api.call("POST", "/api/v1/power", body=body)
    assert (answer.status, answer.body["field"]) == (400, field)


@pytest_twisted.ensureDeferred
async def test_settings_are_their_json_types(api):
    """A setting's value is of its JSON type: "0.5" for a number is refused, 623.0 for an integer taken as 623."""
    refused = await api.call("POST", "/api/v1/nodes", body={"name": "n", "power_type": "fake",
                                                             "power_parameters": {"address": "a", "latency": "0.5"}})
    assert (refused.status, refused.body["field"]) == (400, "power_parameters.latency")
    taken = await api.call("POST", "/api/v1/nodes", body={"name": "w", "power_type": "wol",
                                                           "power_parameters": {"mac": "52:54:00:12:34:56", "port": 9.0}})
    assert (taken.status, taken.body["power_parameters"]["port"]) == (201, 9)


@pytest_twisted.ensureDeferred
async def test_a_new_power_type_drops_the_old_secrets(api):
    """Changing a node to a type without its secrets is accepted: secrets the new type lacks are dropped, not sent on."""
    await enrol(api)
    changed = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={
        "power_type": "wol", "power_parameters": {"mac": "52:54:00:12:34:56"}})
    assert (changed.status, changed.body["power_type"]) == (200, "wol"), changed
    assert "password" not in changed.body["power_parameters"]


@pytest_twisted.ensureDeferred
async def test_a_kept_secret_that_is_not_stored_is_409(api):
    """A secret sent as "set" that the node has no value for is the node's state to blame: 409 naming it."""
    await enrol(api, name="pdu", power_type="snmp_pdu",
                power_parameters={"address": "pdu-1", "outlet": 1, "community": "public"})
    answer = await api.call("PATCH", "/api/v1/nodes/{node}", node="pdu", body={
        "power_type": "snmp_pdu", "power_parameters": {"address": "pdu-1", "outlet": 1, "version": "3",
                                                        "v3_user": "ops", "v3_auth_key": "set",
                                                        "v3_priv_protocol": "none"}})
    assert (answer.status, answer.body["field"]) == (409, "v3_auth_key"), answer


@pytest_twisted.ensureDeferred
async def test_power_settings_change_with_their_type(api):
    """A change gives power_type and power_parameters together: one alone is a 400 naming the other."""
    await enrol(api)
    alone = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={"power_parameters": {"address": "b"}})
    assert (alone.status, alone.body["field"]) == (400, "power_type")
    both = await api.call("PATCH", "/api/v1/nodes/{node}", node="node-1", body={
        "power_type": "fake", "power_parameters": {"address": "b", "password": "set"}})
    assert (both.status, both.body["power_parameters"]) == (200, {
        "address": "b", "username": "admin", "latency": None, "min_command_interval": None, "max_concurrent": None,
        "password": "set"})
