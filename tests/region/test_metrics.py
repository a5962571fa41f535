"""
Tests for pserv.region.metrics, and for ``GET /metrics`` that serves them
(pserv.region.api): what each metric counts, read back with Prometheus'
own text parser.
"""

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock

from pserv.region.metrics import RegionMetrics
from pserv.region.roles import Role
from pserv.region.store.ended import Ended


def samples(metrics):
    """name and labels -> value, of every sample ``metrics`` exposes."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.exposition().decode())
            for s in family.samples}


def test_every_kind_and_final_status_is_exposed_from_the_start():
    """Before any outcome, each kind and final status has its series at 0, so that rate() sees the first one."""
    found = samples(RegionMetrics(Clock()))
    kinds = {"on", "off", "cycle", "soft_off", "query"}
    statuses = {"done", "failed", "superseded", "cancelled"}
    assert {dict(labels)["kind"] for name, labels in found if name == "pserv_actions_total"} == kinds
    assert {dict(labels)["status"] for name, labels in found if name == "pserv_actions_total"} == statuses
    assert {v for (name, _), v in found.items() if name == "pserv_actions_total"} == {0.0}


def test_ended_actions_count_by_kind_and_status_and_time_from_request():
    """Each Ended counts once under its kind and status, and its seconds go to its kind's histogram."""
    metrics = RegionMetrics(Clock())
    metrics.actions_ended([Ended("on", "done", 2.0), Ended("on", "done", 40.0), Ended("cycle", "failed", None)])
    found = samples(metrics)
    assert found[("pserv_actions_total", (("kind", "on"), ("status", "done")))] == 2.0
    assert found[("pserv_actions_total", (("kind", "cycle"), ("status", "failed")))] == 1.0
    assert found[("pserv_action_seconds_count", (("kind", "on"),))] == 2.0
    assert found[("pserv_action_seconds_sum", (("kind", "on"),))] == 42.0
    assert found[("pserv_action_seconds_bucket", (("kind", "on"), ("le", "2.5")))] == 1.0
    assert found[("pserv_action_seconds_count", (("kind", "cycle"),))] == 0.0


def test_gauges_are_read_when_scraped():
    """Clusters connected and the database backlog are what their functions say at each scrape."""
    state = {"connected": 2, "backlog": 0}
    metrics = RegionMetrics(Clock(), lambda: state["connected"], lambda: state["backlog"])
    assert samples(metrics)[("pserv_clusters_connected", ())] == 2.0
    state.update(connected=1, backlog=7)
    found = samples(metrics)
    assert (found[("pserv_clusters_connected", ())], found[("pserv_database_backlog", ())]) == (1.0, 7.0)


def test_reports_timeouts_and_database_work_are_counted():
    """Reports count by kind, timed-out actions in total, database work by its function's name."""
    metrics = RegionMetrics(Clock())
    metrics.reports_received(running=2, progress=0, outcomes=1)
    metrics.states_received(5)
    metrics.actions_timed_out(3)
    metrics.database_work("report_actions_ended", 0.02)
    found = samples(metrics)
    assert found[("pserv_reports_total", (("kind", "running"),))] == 2.0
    assert found[("pserv_reports_total", (("kind", "observed"),))] == 5.0
    assert ("pserv_reports_total", (("kind", "progress"),)) not in found
    assert found[("pserv_actions_timed_out_total", ())] == 3.0
    assert found[("pserv_database_seconds_count", (("work", "report_actions_ended"),))] == 1.0


def test_two_regions_in_one_process_keep_their_own_metrics():
    """Each RegionMetrics has its own registry: one's outcomes are not the other's."""
    one, other = RegionMetrics(Clock()), RegionMetrics(Clock())
    one.actions_ended([Ended("off", "done", 1.0)])
    assert samples(other)[("pserv_actions_total", (("kind", "off"), ("status", "done")))] == 0.0


@pytest_twisted.ensureDeferred
async def test_get_metrics_needs_a_credential_of_any_role(served):
    """Without a token /metrics is a 401 JSON refusal; a viewer's token or session gets the text format."""
    refused = await treq.get(served.base + "/metrics")
    assert (refused.code, (await refused.json())["error"] != "") == (401, True)
    token = served.token(Role.VIEWER)
    answer = await treq.get(served.base + "/metrics", headers={"Authorization": [f"Bearer {token}"]})
    assert answer.code == 200
    assert answer.headers.getRawHeaders("content-type")[0].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(await answer.text())}
    assert {"pserv_actions", "pserv_api_request_seconds", "pserv_clusters_connected"} <= names
    session = served.session(Role.VIEWER)
    by_session = await treq.get(served.base + "/metrics", headers=session.headers(csrf=False))
    assert by_session.code == 200
