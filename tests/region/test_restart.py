"""
The region loses nothing when it is killed: a 202 means committed.
"""

import json
import subprocess
import sys

import pytest_twisted
import treq

from tests.region.process import start_region

SECRET = "kill-test-secret-7731"


def init(data_dir):
    done = subprocess.run(
        [sys.executable, "-m", "pserv.scripts.region", "--data-dir", str(data_dir), "init"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return done.stdout.split("admin token (shown once): ")[1].strip()


@pytest_twisted.ensureDeferred
async def test_sigkill_right_after_202_loses_nothing(tmp_path):
    """An action answered 202 is found after the region is killed with SIGKILL and restarted."""
    token = init(tmp_path)
    auth = {"Authorization": [f"Bearer {token}"]}
    first = start_region("--data-dir", str(tmp_path), fake=True)
    url = await first.ready
    node = {"name": "n1", "power_type": "fake", "power_parameters": {"address": "b1", "password": SECRET}}
    await (await treq.post(f"{url}/api/v1/nodes", json=node, headers=auth)).content()
    response = await treq.post(f"{url}/api/v1/nodes/n1/power", json={"action": "cycle"}, headers=auth)
    accepted = json.loads(await response.content())
    assert response.code == 202
    await first.kill("KILL")
    second = start_region("--data-dir", str(tmp_path), fake=True)
    url = await second.ready
    try:
        found = json.loads(await (await treq.get(f"{url}/api/v1/actions/{accepted['id']}", headers=auth)).content())
        shown = json.loads(await (await treq.get(f"{url}/api/v1/nodes/n1", headers=auth)).content())
    finally:
        await second.kill("TERM")
    assert found == accepted
    assert (shown["desired_power_state"], shown["generation"]) == ("on", 1)
    logs = first.output + second.output
    assert SECRET.encode() not in logs and token.encode() not in logs
