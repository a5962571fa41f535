"""
Tests for pserv.region.ui.node_form over real HTTP on loopback, on SQLite
and PostgreSQL: the form generated for every power type, adding and
editing nodes, and refused forms shown again with their errors.
"""

import pytest
import pytest_twisted

from pserv.power.types import POWER_TYPES
from pserv.region.roles import Role
from pserv.region.store.nodes import get_node, list_nodes
from pserv.region.store.node_pages import nodes_view
from pserv.region.ui.node_form import differences
from tests.region.ui.pages import add_node, get, post

SECRET = "s3cret-bmc-password"
IPMI = {"power_type": "ipmi", "name": "node-1", "cluster": "", "drift_policy": "observe",
        "power_parameters.address": "10.0.0.1", "power_parameters.port": "623",
        "power_parameters.password": SECRET, "power_parameters.privilege": "admin"}


def count(served):
    return served.database.run_now(nodes_view, {})["total"]


@pytest.mark.parametrize("power_type", list(POWER_TYPES))
@pytest_twisted.ensureDeferred
async def test_the_form_is_generated_from_each_power_types_settings(served, power_type):
    """Every setting of the type is a labelled input: number, select, checkbox or password, with its rules and help."""
    answer = await get(served, f"/nodes/new?power_type={power_type}", served.session(Role.OPERATOR))
    assert answer.status == 200
    form = answer.html.one("form", id="node-form")
    assert form.one("input", name="power_type").attrs["value"] == power_type
    [described] = [d for d in POWER_TYPES.describe() if d["name"] == power_type]
    for s in described["settings"]:
        key = f"power_parameters.{s['name']}"
        assert form.one("label", **{"for": key}), key
        element = [e for e in form.all(id=key)]
        assert len(element) == 1, key
        field = element[0]
        if s["secret"]:
            assert (field.tag, field.attrs["type"], "value" in field.attrs) == ("input", "password", False)
        elif "choices" in s:
            assert field.tag == "select" and [o.attrs["value"] for o in field.all("option") if o.attrs["value"]] == s["choices"]
            if s["default"] is not None:
                assert field.one("option", selected=True).attrs["value"] == s["default"]
        elif s["type"] == "boolean":
            assert field.attrs["type"] == "checkbox" and ("checked" in field.attrs) == bool(s["default"])
            assert form.one("input", type="hidden", name=key).attrs["value"] == "false"
        elif s["type"] in ("integer", "number"):
            assert field.attrs["type"] == "number"
            if "maximum" in s:
                assert float(field.attrs["max"]) == s["maximum"]
        else:
            assert field.attrs["type"] == "text"
        if s["default"] is not None and s["type"] not in ("boolean",) and "choices" not in s and not s["secret"]:
            assert field.attrs["value"] == str(s["default"])
        assert ("required" in field.attrs) == (s["required"] and s["default"] is None)
        if s.get("help"):
            help_id = f"help-{key}"
            assert help_id in field.attrs["aria-describedby"].split()
            assert form.one("p", id=help_id).text() == s["help"]


@pytest_twisted.ensureDeferred
async def test_the_power_type_is_chosen_by_a_get_form(served):
    """The chooser is a GET form of its own (with a button without JS), and without a choice the first type is shown."""
    page = (await get(served, "/nodes/new", served.session(Role.OPERATOR))).html
    chooser = page.one("form", method="get")
    assert chooser.one("select", name="power_type").attrs.get("data-autosubmit") == ""
    assert chooser.one("button", data_autosubmit_button=True)
    first = served.api.power_types.describe()[0]["name"]
    assert page.one("form", id="node-form").one("input", name="power_type").attrs["value"] == first
    unknown = await get(served, "/nodes/new?power_type=telepathy", served.session(Role.OPERATOR, "other"))
    assert unknown.status == 400 and "unknown driver 'telepathy'" in unknown.html.one("p", id="error-power_type").text()


@pytest_twisted.ensureDeferred
async def test_adding_a_node_goes_to_its_page(served):
    """A good form makes the node (typed values converted) and answers 303 to its page."""
    answer = await post(served, "/nodes/new", IPMI, served.session(Role.OPERATOR))
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    node = served.database.run_now(get_node, "node-1")
    assert node["power_parameters"]["port"] == 623 and node["power_parameters"]["password"] == "set"
    assert node["cluster"] is None


@pytest_twisted.ensureDeferred
async def test_a_node_of_a_group_is_added_and_edited_without_its_cluster(served):
    """A form with a group makes a node of that group (the cluster typed beside it is the group's to choose); its page says which member holds it; clearing the group on edit names the cluster."""
    session = served.session(Role.OPERATOR)
    answer = await post(served, "/nodes/new", {**IPMI, "group": "row-a", "cluster": "ignored"}, session)
    assert answer.status == 303
    node = served.database.run_now(get_node, "node-1")
    assert (node["group"], node["cluster"]) == ("row-a", None)
    page = (await get(served, "/nodes/node-1", session)).html
    assert page.one("dd", data_field="group").text() == "row-a"
    assert page.one("dd", data_field="cluster").text() == "no member yet"
    edit = (await get(served, "/nodes/node-1/edit", session)).html
    version = edit.one("input", **{"name": "version"}).attrs["value"]
    assert edit.one("input", id="group").attrs["value"] == "row-a"
    edited = await post(served, "/nodes/node-1/edit", {**IPMI, "group": "", "cluster": "rack-1", "version": version},
                        session)
    assert edited.status == 303
    node = served.database.run_now(get_node, "node-1")
    assert (node["group"], node["cluster"]) == (None, "rack-1")


@pytest_twisted.ensureDeferred
async def test_a_bad_port_is_shown_next_to_its_field_and_nothing_is_written(served):
    """Port 70000 is a 400 form with the error beside the port, the typed values kept, never the password."""
    answer = await post(served, "/nodes/new", {**IPMI, "power_parameters.port": "70000"},
                        served.session(Role.OPERATOR))
    assert answer.status == 400 and SECRET not in answer.text
    port = answer.html.one("input", id="power_parameters.port")
    assert port.attrs["value"] == "70000" and port.attrs["aria-invalid"] == "true"
    assert "error-power_parameters.port" in port.attrs["aria-describedby"].split()
    error = answer.html.one("p", class_="field-error")
    assert error.attrs["id"] == "error-power_parameters.port" and "at most 65535" in error.text()
    assert answer.html.one("input", id="name").attrs["value"] == "node-1"
    assert "value" not in answer.html.one("input", id="power_parameters.password").attrs
    assert count(served) == 0


@pytest_twisted.ensureDeferred
async def test_errors_of_the_store_land_next_to_their_field_too(served):
    """A taken name (the store's refusal, 409) is shown next to the name; a port that is no number next to the port."""
    add_node(served, "node-1")
    session = served.session(Role.OPERATOR)
    taken = await post(served, "/nodes/new", IPMI, session)
    assert taken.status == 409 and "exists" in taken.html.one("p", id="error-name").text()
    words = await post(served, "/nodes/new", {**IPMI, "name": "node-2", "power_parameters.port": "six"}, session)
    assert words.status == 400 and words.html.one("p", id="error-power_parameters.port")
    assert count(served) == 1


@pytest_twisted.ensureDeferred
async def test_a_form_without_the_csrf_token_or_the_role_writes_nothing(served):
    """Without the CSRF token, or as a viewer, adding a node is a 403 page and no node is made."""
    forged = await post(served, "/nodes/new", IPMI, served.session(Role.OPERATOR), csrf=False)
    viewer = await post(served, "/nodes/new", IPMI, served.session(Role.VIEWER))
    assert (forged.status, viewer.status) == (403, 403) and count(served) == 0
    assert (await get(served, "/nodes/new", served.session(Role.VIEWER, "v2"))).status == 403


@pytest_twisted.ensureDeferred
async def test_editing_keeps_an_empty_secret_and_says_whether_one_is_set(served):
    """The edit form shows the stored values, a secret only as set/not set; left empty, the secret is kept."""
    add_node(served, "node-1", "ipmi", address="10.0.0.1", password=SECRET)
    session = served.session(Role.OPERATOR)
    page = await get(served, "/nodes/node-1/edit", session)
    assert SECRET not in page.text
    form = page.html.one("form", id="node-form")
    assert form.one("input", id="power_parameters.address").attrs["value"] == "10.0.0.1"
    assert "· set" in form.one("label", **{"for": "power_parameters.password"}).text()
    assert "· not set" in form.one("label", **{"for": "power_parameters.kg"}).text()
    assert [i.attrs["value"] for i in form.all("input", name="version")] == ["1"]
    fields = {**IPMI, "power_parameters.password": "", "power_parameters.port": "6230", "cluster": "rack-9"}
    answer = await post(served, "/nodes/node-1/edit", fields, session)
    assert (answer.status, answer.header("location")) == (303, "/nodes/node-1")
    from pserv.region.store.nodes import power_settings
    kind, settings = served.database.run_now(power_settings, "node-1")
    assert (kind, settings["port"], settings["password"]) == ("ipmi", 6230, SECRET)
    assert served.database.run_now(get_node, "node-1")["cluster"] == "rack-9"


@pytest_twisted.ensureDeferred
async def test_a_refused_edit_is_shown_again_and_changes_nothing(served):
    """An edit with a bad address is a 400 form with the error by the address, and the node is as it was."""
    before = add_node(served, "node-1", "ipmi", address="10.0.0.1", password=SECRET)
    answer = await post(served, "/nodes/node-1/edit", {**IPMI, "power_parameters.address": "not an address!"},
                        served.session(Role.OPERATOR))
    assert answer.status == 400 and SECRET not in answer.text
    assert answer.html.one("p", id="error-power_parameters.address")
    assert "· set" in answer.html.one("label", **{"for": "power_parameters.password"}).text()
    assert served.database.run_now(get_node, "node-1") == before


@pytest_twisted.ensureDeferred
async def test_an_edit_can_choose_another_power_type(served):
    """?power_type= on the edit form shows the other type's settings, and saving moves the node to it."""
    add_node(served, "node-1", "ipmi", address="10.0.0.1")
    session = served.session(Role.OPERATOR)
    page = (await get(served, "/nodes/node-1/edit?power_type=manual", session)).html
    assert page.one("input", id="power_parameters.instructions")
    fields = {"power_type": "manual", "name": "node-1", "cluster": "rack-1", "power_parameters.instructions": "press"}
    assert (await post(served, "/nodes/node-1/edit", fields, session)).status == 303
    node = served.database.run_now(list_nodes, {}, 10, None)[0][0]
    assert (node["power_type"], node["power_parameters"]) == ("manual", {"instructions": "press"})


@pytest_twisted.ensureDeferred
async def test_an_edit_of_a_node_changed_meanwhile_is_shown_again_and_writes_nothing(served):
    """Saving a form read at version 1 after someone made version 2 is a 409 form: what differs, what was typed kept."""
    from pserv.region.store.nodes import power_settings, update_node

    add_node(served, "node-1", "ipmi", address="10.0.0.1", password=SECRET)
    session = served.session(Role.OPERATOR)
    opened = (await get(served, "/nodes/node-1/edit", session)).html
    assert opened.one("input", name="version").attrs["value"] == "1"
    theirs = served.database.run_now(update_node, "node-1", {
        "drift_policy": "enforce", "power_type": "ipmi", "power_parameters": {"address": "10.0.0.1", "port": 624}},
        served.api.now())
    assert theirs["version"] == 2
    mine = {**IPMI, "cluster": "rack-1", "power_parameters.address": "10.0.0.5", "version": "1"}
    answer = await post(served, "/nodes/node-1/edit", mine, session)
    assert answer.status == 409 and SECRET not in answer.text
    assert served.database.run_now(get_node, "node-1") == theirs
    notice = answer.html.one("div", id="conflict")
    assert notice.attrs["role"] == "alert"
    assert "Someone changed this node since you opened the form" in notice.text()
    assert "version 1; it is now version 2" in notice.text()
    differ = {r.attrs["data-field"]: (r.one("td", data_value="now").text(), r.one("td", data_value="yours").text())
              for r in notice.all("tr", data_field=True)}
    assert differ == {"drift_policy": ("enforce", "observe"), "power_parameters.port": ("624", "623"),
                      "power_parameters.address": ("10.0.0.1", "10.0.0.5")}
    form = answer.html.one("form", id="node-form")
    assert form.one("input", name="version").attrs["value"] == "2"
    assert form.one("input", id="power_parameters.address").attrs["value"] == "10.0.0.5"
    assert form.one("select", id="drift_policy").one("option", selected=True).attrs["value"] == "observe"
    again = await post(served, "/nodes/node-1/edit", {**mine, "version": "2"}, session)
    assert (again.status, again.header("location")) == (303, "/nodes/node-1")
    kind, settings = served.database.run_now(power_settings, "node-1")
    assert (settings["address"], settings["port"], settings["password"]) == ("10.0.0.5", 623, SECRET)
    assert served.database.run_now(get_node, "node-1")["version"] == 3


@pytest_twisted.ensureDeferred
async def test_an_edit_with_a_version_that_is_none_is_refused(served):
    """version=abc is a 400 form naming version; without a version at all the edit applies as before."""
    before = add_node(served, "node-1", "ipmi", address="10.0.0.1")
    session = served.session(Role.OPERATOR)
    bad = await post(served, "/nodes/node-1/edit", {**IPMI, "version": "abc"}, session)
    assert bad.status == 400 and "version:" in bad.html.one("div", role="alert").text()
    assert served.database.run_now(get_node, "node-1") == before
    assert (await post(served, "/nodes/node-1/edit", IPMI, session)).status == 303


def test_differences_leave_secrets_out_and_count_an_empty_setting_as_its_default():
    """Only fields that differ are listed; an empty port is its default 623; a secret is never compared."""
    [ipmi] = [d for d in POWER_TYPES.describe() if d["name"] == "ipmi"]
    now = {"name": "n", "cluster": None, "drift_policy": "observe", "power_type": "ipmi",
           "power_parameters": {"address": "a", "port": 623, "password": "set"}}
    form = {"name": "n", "cluster": "", "drift_policy": "observe", "power_parameters.address": "a",
            "power_parameters.port": "", "power_parameters.password": "other"}
    assert differences(now, ipmi, form) == []
    assert differences(now, ipmi, {**form, "name": "m", "cluster": "rack-2"}) == [
        {"field": "name", "label": "Name", "now": "n", "yours": "m"},
        {"field": "cluster", "label": "Cluster", "now": "none", "yours": "rack-2"}]
    [manual] = [d for d in POWER_TYPES.describe() if d["name"] == "manual"]
    assert differences(now, manual, form) == [
        {"field": "power_type", "label": "Power type", "now": "ipmi", "yours": "manual"}]
