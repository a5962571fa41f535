"""
The metrics of a running system: a real region and a real cluster
process (with ``--metrics-listen``) driving an emulated IPMI BMC, scraped
over HTTP after a power action and read with Prometheus' own text parser.
"""

import json

import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families

from tests.system.processes import api_call, stop_all

PASSWORD = "s3cret-pw"
NODE = "metrics-node-n1"


@pytest_twisted.async_yield_fixture
async def system(tmp_path):
    from twisted.internet import reactor

    from pserv.testing.emulators.ipmi_emulators import PyghmiBMCs
    from tests.system.processes import init_region, start_cluster, start_region

    bmcs = PyghmiBMCs(reactor, 1, "admin", PASSWORD)
    (port,) = await bmcs.start()
    data, token, secret = init_region(tmp_path)
    region, url, rpc = await start_region(reactor, data)
    cluster = await start_cluster(reactor, rpc, secret, "--metrics-listen", "127.0.0.1:0")
    metrics = await cluster.wait_for(r"metrics on (http://[\d.]+:\d+/metrics)", 0)
    world = {"bmc_port": port, "token": token, "url": url, "metrics": metrics.group(1), "region": region,
             "cluster": cluster}
    yield world
    await stop_all(cluster, region)
    await bmcs.stop()


call = api_call


async def scrape(url, headers=None):
    response = await treq.get(url, headers=headers or {})
    return response.code, response.headers.getRawHeaders("content-type", [""])[0], await response.text()


def families(text):
    return {family.name: family for family in text_string_to_metric_families(text)}


def labels(family):
    return {tuple(sorted(sample.labels)) for sample in family.samples}


async def act(world):
    """Enrol the emulated BMC's node, switch it on, and wait until the region records the action done."""
    node = {"name": NODE, "cluster": "rack-1", "power_type": "ipmi",
            "power_parameters": {"address": "127.0.0.1", "port": world["bmc_port"], "username": "admin",
                                 "password": PASSWORD}}
    assert (await call(world, "POST", "/api/v1/nodes", node))[0] == 201
    code, action = await call(world, "POST", f"/api/v1/nodes/{NODE}/power", {"action": "on"})
    assert code == 202, action
    await world["region"].wait_for(rf"action {action['id']} done \(power on\)", 0)


@pytest_twisted.ensureDeferred
async def test_the_region_and_the_cluster_serve_their_metrics(system):
    """After a power action, both scrapes parse and hold every family with its labels, no node name nor password."""
    await act(system)
    code, kind, text = await scrape(system["url"] + "/metrics", {"Authorization": [f"Bearer {system['token']}"]})
    assert (code, kind.split(";")[0]) == (200, "text/plain")
    region = families(text)
    assert labels(region["pserv_actions"]) == {("kind", "status")}
    done = [s for s in region["pserv_actions"].samples
            if s.name == "pserv_actions_total" and s.labels == {"kind": "on", "status": "done"}]
    assert [s.value for s in done] == [1.0]
    count = [s for s in region["pserv_action_seconds"].samples if s.name == "pserv_action_seconds_count"
             and s.labels == {"kind": "on"}]
    assert [s.value for s in count] == [1.0]
    assert ("method", "route", "status") in labels(region["pserv_api_request_seconds"])
    routes = {s.labels["route"] for s in region["pserv_api_request_seconds"].samples}
    assert {"/api/v1/nodes", "/api/v1/nodes/{node}/power"} <= routes
    assert [s.value for s in region["pserv_clusters_connected"].samples] == [1.0]
    for name in ("pserv_database_seconds", "pserv_reports", "pserv_report_batches_recording",
                 "pserv_database_backlog", "pserv_actions_timed_out"):
        assert name in region, name

    cluster_code, cluster_kind, cluster_text = await scrape(system["metrics"])
    assert (cluster_code, cluster_kind.split(";")[0]) == (200, "text/plain")
    cluster = families(cluster_text)
    calls = {(s.labels["driver"], s.labels["operation"]) for s in cluster["pserv_cluster_bmc_call_seconds"].samples}
    assert {("ipmi", "query"), ("ipmi", "power_on")} <= calls
    assert labels(cluster["pserv_cluster_actions_in_flight"]) == {("kind",)}
    assert [s.value for s in cluster["pserv_cluster_region_connected"].samples] == [1.0]
    assert [s.value for s in cluster["pserv_cluster_nodes"].samples] == [1.0]
    for name in ("pserv_cluster_bmc_errors", "pserv_cluster_sweep_seconds", "pserv_cluster_sweep_lag_seconds",
                 "pserv_cluster_actions_waiting", "pserv_cluster_reports_queued", "pserv_cluster_sessions_open"):
        assert name in cluster, name
    sessions = {s.labels["driver"]: s.value for s in cluster["pserv_cluster_sessions_open"].samples}
    assert sessions.keys() == {"ipmi"}
    for scraped in (text, cluster_text):
        assert PASSWORD not in scraped and NODE not in scraped and "127.0.0.1" not in scraped


@pytest_twisted.ensureDeferred
async def test_the_region_s_metrics_need_a_credential(system):
    """GET /metrics without a token is 401, with a JSON body; the cluster's serves nothing but /metrics."""
    code, kind, text = await scrape(system["url"] + "/metrics")
    assert (code, kind, json.loads(text)["error"] != "") == (401, "application/json", True)
    code, _, _ = await scrape(system["metrics"].replace("/metrics", "/"))
    assert code == 404
