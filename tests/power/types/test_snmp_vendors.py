"""
Unit tests of the PDU vendor table: well-formed rows, auto detection by
sysObjectID, and the generated Markdown the driver's doc must carry.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pserv.power.types import snmp_vendors as pdu_vendors
from pserv.power.types.snmp_vendors import (
    AUTO,
    ENTERPRISES,
    OUTLET,
    VENDORS,
    VENDORS_BY_NAME,
    instance,
    oid_parts,
    vendor_for_sys_object_id,
    vendor_names,
    vendor_table_markdown,
)
from pserv.power.states import PowerState

DOC = Path(__file__).resolve().parents[3] / "docs" / "drivers" / "snmp_pdu.md"
TABLE_START = "<!-- vendor-table:start -->"
TABLE_END = "<!-- vendor-table:end -->"

IRONIC_VENDORS = {
    "apc_masterswitch",
    "apc_masterswitchplus",
    "apc_rackpdu",
    "aten",
    "baytech_mrp27",
    "cyberpower",
    "eatonpower",
    "raritan_pdu2",
    "servertech_sentry3",
    "servertech_sentry4",
    "teltronix",
    "vertivgeist_pdu",
}


def test_at_least_the_twelve_ironic_vendors():
    """The table has 12+ rows, covering every PDU OpenStack Ironic supported."""
    assert len(VENDORS) >= 12
    assert IRONIC_VENDORS <= set(VENDORS_BY_NAME)


def test_names_are_unique_sorted_and_not_auto():
    """Row names are unique, sorted, and none is the reserved word auto."""
    names = [v.name for v in VENDORS]
    assert len(names) == len(set(names))
    assert names == sorted(names)
    assert AUTO not in names
    assert vendor_names() == (*names, AUTO)


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_every_oid_template_is_well_formed(vendor):
    """Each OID template has one {outlet} slot, lives under enterprises and parses."""
    templates = [vendor.control_oid, vendor.status_oid]
    templates += [vendor.off_control_oid] if vendor.off_control_oid else []
    for template in templates:
        assert template.count(OUTLET) == 1, template
        assert template.startswith(ENTERPRISES + "."), template
        arcs = oid_parts(instance(template, 7))
        assert arcs[:6] == (1, 3, 6, 1, 4, 1) and len(arcs) > 8, template
    for prefix in vendor.sys_object_ids:
        assert oid_parts(prefix)[:6] == (1, 3, 6, 1, 4, 1), prefix


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_every_row_distinguishes_on_from_off(vendor):
    """Status values are non-empty and disjoint; on and off SETs differ."""
    assert vendor.status_on and vendor.status_off
    assert not set(vendor.status_on) & set(vendor.status_off)
    on = vendor.control(3, PowerState.ON)
    off = vendor.control(3, PowerState.OFF)
    assert on != off
    assert vendor.label and vendor.state_of(vendor.status_on[0]) is PowerState.ON
    assert vendor.state_of(vendor.status_off[0]) is PowerState.OFF


@given(outlet=st.integers(min_value=1, max_value=10_000))
def test_instances_parse_and_end_with_the_outlet(outlet):
    """For any outlet, every row's OIDs parse and carry the outlet number."""
    for vendor in VENDORS:
        status = oid_parts(vendor.status(outlet))
        control = oid_parts(vendor.control(outlet, PowerState.ON)[0])
        assert outlet in status[-2:] and outlet in control[-2:]


def test_apc_masterswitch_facts():
    """APC MasterSwitch: sPDUOutletCtl.<outlet>, 1 on, 2 off, read back the same."""
    apc = VENDORS_BY_NAME["apc_masterswitch"]
    assert apc.control(5, PowerState.ON) == ("1.3.6.1.4.1.318.1.1.4.4.2.1.3.5", 1)
    assert apc.control(5, PowerState.OFF) == ("1.3.6.1.4.1.318.1.1.4.4.2.1.3.5", 2)
    assert apc.status(5) == "1.3.6.1.4.1.318.1.1.4.4.2.1.3.5"


def test_eaton_switches_through_two_objects():
    """Eaton writes 0 to separate on and off command objects, and reads a third."""
    eaton = VENDORS_BY_NAME["eatonpower"]
    assert eaton.control(2, PowerState.ON) == ("1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.2", 0)
    assert eaton.control(2, PowerState.OFF) == ("1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.2", 0)
    assert eaton.status(2) == "1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.2"


@pytest.mark.parametrize(
    "sys_object_id, expected",
    [
        (".1.3.6.1.4.1.318.1.3.4.5", "apc_rackpdu"),
        ("1.3.6.1.4.1.318.1.3.4.6", "apc_rackpdu"),
        (".1.3.6.1.4.1.318.1.3.4.4", "apc_masterswitchplus"),
        (".1.3.6.1.4.1.318.1.3.4.2", "apc_masterswitch"),
        (".1.3.6.1.4.1.13742.6", "raritan_pdu2"),
        (".1.3.6.1.4.1.1718.3", "servertech_sentry3"),
        (".1.3.6.1.4.1.1718.4.1", "servertech_sentry4"),
        (".1.3.6.1.4.1.534.6.6.7", "eatonpower"),
        (".1.3.6.1.4.1.21239.5.2", "vertivgeist_pdu"),
    ],
)
def test_sys_object_id_picks_the_longest_prefix(sys_object_id, expected):
    """auto maps a reported sysObjectID to the row with the longest matching prefix."""
    assert vendor_for_sys_object_id(sys_object_id).name == expected


@pytest.mark.parametrize("sys_object_id", [".1.3.6.1.4.1.8072.3.2.10", ".1.3.6.1.4.1.318.1.3.2", "1.3.6.1.4.1.13742.4"])
def test_unknown_sys_object_id_matches_nothing(sys_object_id):
    """A sysObjectID no row claims (net-snmp, an APC UPS, a Raritan PX1) gives None."""
    assert vendor_for_sys_object_id(sys_object_id) is None


def test_no_two_rows_claim_the_same_prefix():
    """Auto detection is unambiguous: every sysObjectID prefix belongs to one row."""
    prefixes = [p for v in VENDORS for p in v.sys_object_ids]
    assert len(prefixes) == len(set(prefixes))


@pytest.mark.parametrize("bad", ["", "1", "1.3.x", "1..3", "enterprises.318"])
def test_oid_parts_refuses_non_oids(bad):
    """oid_parts raises ValueError on anything but a dotted list of numbers."""
    with pytest.raises(ValueError):
        oid_parts(bad)


def test_markdown_has_a_row_per_vendor():
    """The generated table has a header, a rule and one line per row."""
    lines = vendor_table_markdown().splitlines()
    assert len(lines) == 2 + len(VENDORS)
    for vendor, line in zip(VENDORS, lines[2:]):
        assert line.startswith(f"| `{vendor.name}` |") and vendor.status_oid in line


def test_doc_carries_the_generated_table():
    """docs/drivers/snmp_pdu.md holds exactly the table generated from the data."""
    text = DOC.read_text()
    assert TABLE_START in text and TABLE_END in text
    section = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    assert section.strip("\n") + "\n" == vendor_table_markdown(), (
        "regenerate with: python -m pserv.power.drivers.snmp.vendors"
    )


def test_module_names_its_table_for_regeneration():
    """The module says how the doc's table is regenerated."""
    assert "vendor_table_markdown" in (pdu_vendors.__doc__ or "")
