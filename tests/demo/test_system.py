"""
Tests for pserv.demo.system: the whole system, as ``pserv demo`` runs it.
"""

import json
import os
import subprocess
import sys

from pserv.power.drivers.ipmi.driver import IPMIDriver  # noqa: F401 - the demo needs it importable
from tests.browser.rest import Api
from tests.demo.process import start_demo


def test_demo_runs_the_whole_system():
    """pserv demo starts region, cluster, BMCs and PDU, switches all on, cycles one, logs its UI user in, exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "pserv.scripts.pserv", "demo", "--exit", "--nodes", "2",
         "--listen", "127.0.0.1:0", "--rpc-listen", "127.0.0.1:0"],
        capture_output=True, text=True, timeout=180,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "cluster demo-cluster connected over TLS" in out and "pserv demo: token pserv_" in out
    assert "emulated APC rack PDU" in out
    assert "pserv demo: UI user admin password " in out and "pserv demo: UI logged in as admin" in out
    actions = [line for line in out.splitlines() if line.startswith("  action ")]
    assert len(actions) == 5 and all(": done, power on" in line for line in actions), actions
    assert "Traceback" not in out + done.stderr


def test_an_interrupted_demo_stops_its_parts_and_exits(tmp_path):
    """Interrupted while serving (Ctrl-C), pserv demo stops every part while its reactor runs, and exits 0."""
    demo = start_demo(tmp_path)
    assert demo.url.startswith("http://127.0.0.1:") and demo.token.startswith("pserv_")
    assert demo.admin is not None and len(demo.bmc_ports) == 4
    assert demo.stop() == 0, demo.output()
    assert "Traceback" not in demo.output()


def test_spare_bmcs_are_started_but_not_enrolled_and_answer_the_printed_user(tmp_path):
    """pserv demo --spare-bmcs 2 prints two more BMCs no node uses; a node added on one with its user reads power."""
    demo = start_demo(tmp_path / "demo", nodes=1, spare_bmcs=2)
    try:
        api = Api(demo.url, demo.token)
        [line] = [line for line in demo.lines if " spare emulated IPMI BMCs" in line]
        assert "throwaway emulator credentials" in line
        spare = demo.spare_bmcs
        assert len({bmc.port for bmc in spare}) == 2 and not {bmc.port for bmc in spare} & set(demo.bmc_ports)
        ipmi = api.get("/api/v1/nodes?power_type=ipmi")["items"]
        assert [(n["name"], n["power_parameters"]["port"]) for n in ipmi] == [("ipmi-1", demo.bmc_ports[0])]

        bmc = spare[0]
        parameters = {"address": bmc.address, "port": bmc.port, "username": bmc.username, "password": bmc.password}
        added = api.call("POST", "/api/v1/nodes", {"name": "spare-1", "cluster": "demo-cluster",
                                                   "power_type": "ipmi", "power_parameters": parameters})
        assert added.status == 201, added
        env = dict(os.environ, PSERV_URL=demo.url, PSERV_TOKEN=demo.token, PSERV_CONFIG=str(tmp_path / "cli.yaml"))
        query = subprocess.run([sys.executable, "-m", "pserv.scripts.pserv", "power", "query", "spare-1",
                                "--wait", "--timeout", "60", "--json"],
                               capture_output=True, text=True, timeout=90, env=env)
        assert query.returncode == 0, query.stdout + query.stderr
        action = json.loads(query.stdout)
        assert (action["status"], action["power_state"]) == ("done", "off")
    finally:
        assert demo.stop() == 0, demo.output()
