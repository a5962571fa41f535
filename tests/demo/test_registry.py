"""
Tests for pserv.demo.registry, run on a Clock instead of the real reactor.
"""

from twisted.internet.task import Clock

from pserv.demo.registry import _demo
from pserv.testing.power import advance_until_idle


def run_demo_on_clock(nodes=4):
    clock = Clock()
    lines = []
    status = []
    _demo(clock, nodes, 1, lines.append).addCallback(status.append)
    advance_until_idle(clock)
    return status, "\n".join(lines)


def test_demo_tells_every_story():
    """The demo finishes with status 0 and shows coalescing, superseding, escalation and a fatal failure."""
    status, text = run_demo_on_clock()
    assert status == [0]
    assert "-> superseded, by #" in text
    assert "(escalating)" in text and "(off_verified)" in text
    assert "failed: fake BMC node-bad-password: authentication failed" in text
    assert "already on: one read, no command" in text


def test_demo_final_states():
    """Every node ends where the script's last request for it says."""
    _, text = run_demo_on_clock()
    summary = text.split("commands the BMC received")[1]
    rows = {line.split()[0]: line.split()[1] for line in summary.strip().splitlines()}
    assert rows == {
        "node-1": "on", "node-2": "off", "node-3": "on", "node-4": "off", "node-bad-password": "off",
    }


def test_demo_with_one_node():
    """The demo still runs with a single node."""
    status, _ = run_demo_on_clock(nodes=1)
    assert status == [0]
