"""
Tests for pserv.region.store.nodes, on SQLite and PostgreSQL.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from pserv.region import schema
from pserv.region.errors import Conflict, Invalid, NotFound, PreconditionFailed
from pserv.region.store.actions import request_power
from pserv.region.store.nodes import (
    create_node,
    delete_node,
    get_node,
    list_nodes,
    lock_for_intent,
    node_filter,
    power_settings,
    split_settings,
    update_node,
)
from pserv.testing.fake_driver import POWER_TYPES_WITH_FAKE
from tests.power.types.answers import as_captured, settings_answers

SECRET = "s3cret-hunter2"


def enrol(run, moments, name="node-1", **extra):
    body = {"name": name, "power_type": "fake", "power_parameters": {"address": name, "password": SECRET}}
    body.update(extra)
    return run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)


def test_create_and_show(run, moments):
    """A new node has unknown power, generation 0, and its secret shows as 'set'."""
    node = enrol(run, moments, cluster="rack-1")
    assert node["power_parameters"] == {"address": "node-1", "username": "admin", "password": "set", "latency": None,
                                        "min_command_interval": None, "max_concurrent": None}
    assert (node["desired_power_state"], node["power_state"], node["generation"]) == ("unknown", "unknown", 0)
    assert run(get_node, "node-1") == run(get_node, node["id"]) == node
    assert SECRET not in repr(node)


def test_secret_kept_apart_for_the_cluster(run, moments):
    """Only power_settings returns the secret, for the cluster that drives the node."""
    node = enrol(run, moments)
    assert run(power_settings, node["id"])[1]["password"] == SECRET


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "bad name", "power_type": "fake"}, "name"),
        ({"name": "1234", "power_type": "fake"}, "name"),
        ({"name": "n", "power_type": "teleport"}, "power_type"),
        ({"name": "n", "power_type": "fake", "power_parameters": {}}, "address"),
        ({"name": "n", "power_type": "fake", "power_parameters": {"address": "a", "latency": "x"}}, "latency"),
        ({"name": "n", "power_type": "fake", "power_parameters": []}, "power_parameters"),
        ({"name": "n", "power_type": "fake", "cluster": "no spaces", "power_parameters": {"address": "a"}}, "cluster"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(run, moments, engine, body, field):
    """Invalid enrolment raises naming the field, and leaves no row behind."""
    with pytest.raises(Invalid) as caught:
        run(create_node, body, moments(), power_types=POWER_TYPES_WITH_FAKE)
    assert caught.value.field == field
    with engine.connect() as connection:
        assert connection.execute(select(schema.nodes)).first() is None


def test_duplicate_name_conflicts(run, moments):
    """A second node with the same name is a conflict on 'name'."""
    enrol(run, moments)
    with pytest.raises(Conflict) as caught:
        enrol(run, moments)
    assert caught.value.field == "name"


def test_update_keeps_secret_sent_as_set(run, moments):
    """Settings sent back with the secret as 'set' keep the stored secret."""
    node = enrol(run, moments)
    params = dict(node["power_parameters"], latency=2)
    updated = run(update_node, node["id"], {"power_parameters": params, "cluster": "rack-2"}, moments(1),
                  power_types=POWER_TYPES_WITH_FAKE)
    assert updated["power_parameters"]["latency"] == 2.0 and updated["cluster"] == "rack-2"
    assert run(power_settings, node["id"])[1]["password"] == SECRET
    assert updated["updated_at"] > node["updated_at"]


def test_a_change_counts_the_version_up(run, moments):
    """A new node is at version 1; each update_node that changes something counts it up; power requests do not."""
    node = enrol(run, moments)
    assert node["version"] == 1
    assert run(update_node, "node-1", {"drift_policy": "enforce"}, moments())["version"] == 2
    assert run(update_node, "node-1", {}, moments())["version"] == 2
    run(request_power, "node-1", "on", "a", moments())
    assert run(update_node, "node-1", {"cluster": "rack-2"}, moments(), expected_version=2)["version"] == 3


def test_a_change_from_an_old_version_is_refused(run, moments):
    """update_node from a version the node has left raises PreconditionFailed naming If-Match, and changes nothing."""
    enrol(run, moments)
    run(update_node, "node-1", {"name": "renamed"}, moments(), expected_version=1)
    with pytest.raises(PreconditionFailed) as refused:
        run(update_node, "renamed", {"cluster": "rack-9"}, moments(), expected_version=1)
    assert (refused.value.status, refused.value.field) == (412, "If-Match")
    assert refused.value.message == "node renamed changed since version 1 was read (now 2)"
    node = run(get_node, "renamed")
    assert (node["cluster"], node["version"]) == (None, 2)


def test_update_rename_conflict(run, moments):
    """Renaming onto a taken name is a conflict; nothing changes."""
    enrol(run, moments, "a")
    enrol(run, moments, "b")
    with pytest.raises(Conflict):
        run(update_node, "b", {"name": "a"}, moments())
    assert run(get_node, "b")["name"] == "b"


def test_list_filters_and_pages(run, moments):
    """Listing filters by cluster and pages by id."""
    for n in range(5):
        enrol(run, moments, f"n{n}", cluster="even" if n % 2 == 0 else "odd")
    items, cursor = run(list_nodes, {"cluster": "even"}, 2, None)
    assert [i["name"] for i in items] == ["n0", "n2"] and cursor is not None
    items, cursor = run(list_nodes, {"cluster": "even"}, 2, cursor)
    assert [i["name"] for i in items] == ["n4"] and cursor is None


def test_search_matches_part_of_a_name_case_ignored_and_wildcards_literally(run, moments):
    """The filter q finds nodes whose name holds the text, any case; % and _ in it are plain characters."""
    for name in ("rack1-a", "RACK2-b", "other", "x_1", "x21"):
        enrol(run, moments, name)
    names = lambda q: [i["name"] for i in run(list_nodes, {"q": q}, 10, None)[0]]
    assert names("rack") == ["rack1-a", "RACK2-b"] and names("_") == ["x_1"] and names("%") == []


def test_an_unknown_filter_is_refused_naming_the_field():
    """node_filter refuses a name it does not know, as the filter field."""
    with pytest.raises(Invalid) as e:
        node_filter({"colour": "red"})
    assert e.value.field == "filter"


def test_delete_without_actions(run, moments):
    """A node with nothing in flight is deleted at once; its pending actions are cancelled."""
    node = enrol(run, moments)
    run(request_power, node["id"], "on", "admin", moments())
    assert run(delete_node, node["id"], moments()) is None
    with pytest.raises(NotFound):
        run(get_node, node["id"])


def test_ids_of_deleted_nodes_and_actions_are_never_reused(run, moments):
    """After the newest node and its action are deleted, the next node and action get new ids."""
    node = enrol(run, moments)
    action, _ = run(request_power, node["id"], "on", "admin", moments())
    run(delete_node, node["id"], moments())
    again = enrol(run, moments, name="node-2")
    second, _ = run(request_power, again["id"], "on", "admin", moments())
    assert again["id"] > node["id"]
    assert second["id"] > action["id"]


def test_delete_with_action_in_flight(run, moments, engine):
    """A node with an action in flight goes to 'deleting' and asks that action to stop."""
    node = enrol(run, moments)
    action, _ = run(request_power, node["id"], "on", "admin", moments())
    with engine.begin() as connection:
        connection.execute(schema.power_actions.update().values(status="sent"))
    deleting = run(delete_node, node["id"], moments())
    assert deleting["lifecycle"] == "deleting"
    with engine.connect() as connection:
        assert connection.execute(select(schema.power_actions.c.cancel_requested)).scalar() is True
    with pytest.raises(Conflict):
        run(update_node, node["id"], {"cluster": "x"}, moments())


def test_driver_cross_checks_apply_at_enrolment(run, moments):
    """A setting only the driver's cross-checks refuse (an IPMI 2.0 password over 20 bytes) is refused at enrolment."""
    body = {"name": "n", "power_type": "ipmi",
            "power_parameters": {"address": "10.0.0.5", "username": "admin", "password": "x" * 21}}
    with pytest.raises(Invalid) as caught:
        run(create_node, body, moments())
    assert caught.value.field == "password"


def test_production_nodes_cannot_be_fake(run, moments):
    """Without power types given, the store knows no fake type: enrolment names power_type and lists the real ones."""
    with pytest.raises(Invalid) as caught:
        run(create_node, {"name": "n", "power_type": "fake", "power_parameters": {"address": "a"}}, moments())
    assert caught.value.field == "power_type"
    assert caught.value.message == "power_type: unknown driver 'fake'; known: ipmi, manual, redfish, snmp_pdu, wol"


def test_split_settings_answers_as_the_drivers_did():
    """split_settings, with the power types alone, answers every captured input exactly as it did when it built drivers."""
    answers = settings_answers()
    for case in answers:
        try:
            plain, secrets = split_settings(POWER_TYPES_WITH_FAKE, case["power_type"], case["raw"])
        except Invalid as error:
            assert {"error": error.message, "field": error.field} == case["outcome"], case
        else:
            assert {"plain": as_captured(plain), "secrets": secrets} == case["outcome"], case
    assert len(answers) > 4000


VALIDATE_EVERY_TYPE = """
import sys
from pserv.power.types import POWER_TYPES
from pserv.region.api import RegionAPI
from pserv.region.errors import Invalid
from pserv.region.store.nodes import split_settings
from tests.power.types.answers import settings_answers
for case in settings_answers():
    if isinstance(case["power_type"], str) and case["power_type"] in POWER_TYPES:
        try:
            split_settings(POWER_TYPES, case["power_type"], case["raw"])
        except Invalid:
            pass
POWER_TYPES.describe()
print(sorted({m.split(".")[0] for m in sys.modules} & {"pyghmi", "pyipmi", "pysnmp", "pyasn1", "OpenSSL", "treq"}))
"""


def test_validating_every_type_loads_no_bmc_library():
    """Validating nodes of every power type, as the region does, imports no BMC library (driver_class() did)."""
    done = subprocess.run([sys.executable, "-c", VALIDATE_EVERY_TYPE], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parents[3])
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "[]\n")


@pytest.mark.parametrize("ref", ["node-1", "1"])
def test_a_power_request_finds_its_node_by_name_or_id_with_just_what_it_reads(run, moments, ref):
    """lock_for_intent finds a node as find does, by id or name, with its power type and its lock, and reads no settings (so no secret)."""
    node = enrol(run, moments)
    found = run(lock_for_intent, ref if ref != "1" else str(node["id"]))
    assert found._asdict() == {"id": node["id"], "name": "node-1", "lifecycle": "ready", "generation": 0,
                               "desired_power_state": "unknown", "power_type": node["power_type"], "locked": False,
                               "locked_by": None, "lock_reason": None}


@pytest.mark.parametrize("ref", ["node-2", "99999", str(2**31), "bad name", "x" * 64, "n\x00"])
def test_a_power_request_for_no_node_is_refused_naming_the_node(run, moments, ref):
    """An unknown name or id, an id past the column's range and a name no node can have: NotFound, for node."""
    enrol(run, moments)
    with pytest.raises(NotFound) as refused:
        run(lock_for_intent, ref)
    assert refused.value.field == "node" and repr(ref) in refused.value.message
