"""
Tests for pserv.demo.system: the whole system, as ``pserv demo`` runs it.
"""

import subprocess
import sys

from pserv.power.drivers.ipmi.driver import IPMIDriver  # noqa: F401 - the demo needs it importable
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
