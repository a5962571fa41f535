"""
Tests for pserv.cluster.metrics_server: the cluster's metrics over plain
HTTP on loopback.
"""

import pytest
import pytest_twisted
import treq
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.task import Clock

from pserv.cluster.daemon import ClusterDaemon
from pserv.cluster.driver_set import DriverSet
from pserv.cluster.metrics import ClusterMetrics
from pserv.cluster.metrics_server import listen_metrics
from pserv.util.config import ConfigError


@pytest_twisted.async_yield_fixture
async def served():
    from twisted.internet import reactor

    clock = Clock()
    metrics = ClusterMetrics(clock).watch(ClusterDaemon(clock, DriverSet(clock)))
    port = listen_metrics(reactor, "127.0.0.1:0", metrics)
    yield f"http://127.0.0.1:{port.getHost().port}"
    await port.stopListening()


@pytest_twisted.ensureDeferred
async def test_metrics_are_served_in_the_text_format(served):
    """GET /metrics answers 200 in Prometheus' text format, with the cluster's families, never cached."""
    response = await treq.get(served + "/metrics")
    assert response.code == 200
    assert response.headers.getRawHeaders("content-type")[0].startswith("text/plain; version=")
    assert response.headers.getRawHeaders("cache-control") == ["no-store"]
    names = {family.name for family in text_string_to_metric_families(await response.text())}
    assert {"pserv_cluster_bmc_call_seconds", "pserv_cluster_actions_in_flight", "pserv_cluster_reports_queued"} <= names


@pytest_twisted.ensureDeferred
async def test_nothing_else_is_served(served):
    """Any other path is 404; a POST to /metrics is 405."""
    assert (await treq.get(served + "/")).code == 404
    assert (await treq.get(served + "/api/v1/nodes")).code == 404
    assert (await treq.post(served + "/metrics", data=b"")).code == 405


def test_a_bad_address_is_refused_naming_the_setting():
    """An address that is no HOST:PORT is a ConfigError naming metrics_listen."""
    from twisted.internet import reactor

    with pytest.raises(ConfigError, match="metrics_listen: must be HOST:PORT"):
        listen_metrics(reactor, "nowhere", ClusterMetrics(Clock()))
