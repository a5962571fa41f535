"""
Tests for pserv.power.admission: each node's intent generation.
"""

from pserv.power.admission import Admission
from pserv.power.outcome import OutcomeStatus
from pserv.power.states import ActionKind


def test_power_requests_count_the_generation_up_per_node():
    """Each power request without a generation counts its node's up by one; other nodes are apart."""
    admission = Admission()
    assert [admission.admit("a", ActionKind.ON, None) for _ in range(3)] == [1, 2, 3]
    assert admission.admit("b", ActionKind.OFF, None) == 1
    assert (admission.generation("a"), admission.generation("b"), admission.generation("c")) == (3, 1, 0)


def test_the_regions_generation_is_taken_and_an_older_one_is_stale():
    """A power request brings the region's generation; an equal one is admitted, an older one not."""
    admission = Admission()
    assert admission.admit("a", ActionKind.CYCLE, 7) == 7
    assert admission.admit("a", ActionKind.ON, 7) == 7
    assert admission.admit("a", ActionKind.OFF, 6) is None
    assert admission.generation("a") == 7


def test_a_query_is_admitted_at_the_current_generation():
    """A query changes nothing: it never counts up and is never stale."""
    admission = Admission()
    admission.admit("a", ActionKind.ON, 4)
    assert admission.admit("a", ActionKind.QUERY, 1) == 4
    assert admission.generation("a") == 4


def test_a_refusal_names_the_current_generation_and_the_newest_action():
    """A stale request is answered superseded, at the current generation, by the request carrying it (or the
    newest action in play, when that request brought no id)."""
    admission = Admission()
    admission.admit("a", ActionKind.ON, 5)
    admission.carried_by("a", 12)
    refusal = admission.refusal("a", ActionKind.OFF, 3)
    assert (refusal.status, refusal.action_id, refusal.kind, refusal.generation) == (
        OutcomeStatus.SUPERSEDED, 3, ActionKind.OFF, 5)
    assert refusal.superseded_by == 12 and "generation 5" in refusal.error
    admission.carried_by("a", None)
    assert admission.refusal("a", ActionKind.OFF, None).superseded_by is None
    assert admission.refusal("a", ActionKind.OFF, None, 9).superseded_by == 9, "the newest action in play, then"


def test_a_seed_raises_the_generation_and_never_lowers_it():
    """A seeded generation is taken if newer, refused if older; it forgets which action carried the old one."""
    admission = Admission()
    admission.admit("a", ActionKind.ON, 5)
    admission.carried_by("a", 12)
    assert admission.seed("a", 7) and not admission.seed("a", 6) and not admission.seed("a", 7)
    assert (admission.generation("a"), admission.carrier("a")) == (7, None)
    assert admission.admit("a", ActionKind.OFF, 6) is None
