"""
schemathesis against a real region: ``pserv-region`` (with the ``fake``
power type) on loopback over HTTP, on SQLite, and schemathesis's CLI
against its ``GET /api/v1/openapi.json`` with every check it has, every
phase (examples, coverage, fuzzing, stateful) and the document's links,
deterministic (``tests/region/schemathesis.toml``).  A failure prints the
end of schemathesis's report, which says how to reproduce it.

Loaded from its URL, the document's own operation (``GET
/api/v1/openapi.json``) is left out by schemathesis, and the event stream
(``streamEvents``) by ``schemathesis.toml``: it stays open until the
client leaves, so schemathesis would wait on it for ever
(tests/region/test_stream.py tests it).  Every other one runs.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest_twisted
from twisted.internet.utils import getProcessOutputAndValue

from tests.region.contract import operations
from tests.region.process import start_region
from tests.region.test_restart import init

CONFIG = Path(__file__).with_name("schemathesis.toml")

FOLLOWED = {
    "GET /api/v1/nodes/{node}": {200}, "PATCH /api/v1/nodes/{node}": {200},
    "DELETE /api/v1/nodes/{node}": {204}, "POST /api/v1/nodes/{node}/power": {202},
    "GET /api/v1/actions/{action}": {200}, "POST /api/v1/actions/{action}/cancel": {200, 409},
    "GET /api/v1/batches/{batch}": {200},
}
"""Operations the stateful phase must reach through a link (declared or
inferred from ``Location``), each with one of these answers: it reaches
real nodes, actions and batches, and changes, powers, cancels (or finds
already ended) and deletes them."""


LEFT_OUT = {"GET /api/v1/openapi.json", "GET /api/v1/events/stream"}
"""Operations schemathesis does not run: the document's own, and the stream (see above)."""


REACHED_ANYHOW = {"POST /api/v1/actions/{action}/cancel", "GET /api/v1/batches/{batch}"}
"""Operations that count when reached in any phase: a cancel needs an
action still in play, which the stateful phase's links seldom find (the
next power request supersedes it first), and a batch a bulk request that
names real nodes, which its scenarios seldom reach; an id reused from an
earlier answer still reaches a real action or batch."""


async def schemathesis(url: str, token: str, reports: Path) -> tuple[int, str]:
    """Run ``st run`` against the region at ``url``; its exit code and output."""
    argv = ["-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json",
            "--checks", "all", "--no-color", "--report", "ndjson", "--report-dir", str(reports)]
    env = {**os.environ, "PSERV_TOKEN": token}
    out, err, code = await getProcessOutputAndValue(sys.executable, argv, env=env, path=str(reports.parent))
    return code, (out + err).decode(errors="replace")


def fuzzer_token(data_dir: Path) -> str:
    """
    An admin token of schemathesis's own, under a name it cannot guess:
    it may revoke any token it can name (the document's examples name the
    first admin's), and would then run on refused.
    """
    name = f"fuzzer-{uuid.uuid4().hex}"
    done = subprocess.run([sys.executable, "-m", "pserv.scripts.region", "--data-dir", str(data_dir),
                           "create-token", name, "--role", "admin"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def register_a_cluster(data_dir: Path) -> None:
    """A cluster the region knows, for ``PATCH /api/v1/clusters/{cluster}`` to reach."""
    from datetime import datetime

    from pserv.region.db import Database, make_engine
    from pserv.region.store.clusters import register_cluster

    database = Database(make_engine(f"sqlite:///{data_dir / 'region.sqlite'}"), reactor=None)
    try:
        database.run_now(register_cluster, "rack-1", datetime(2026, 12, 1), group="row-a")
    finally:
        database.engine.dispose()


def followed(reports: Path) -> set[tuple[str, int]]:
    """Each operation the stateful phase reached through a link (or, for :data:`REACHED_ANYHOW`, at all), with its answer."""
    seen = set()
    for line in next(reports.glob("*.ndjson")).read_text().splitlines():
        recorder = json.loads(line).get("ScenarioFinished", {}).get("recorder") or {}
        for case_id, case in recorder.get("cases", {}).items():
            link = (case.get("transition") or {}).get("id", "")
            response = (recorder["interactions"].get(case_id) or {}).get("response") or {}
            if " -> " in link:
                seen.add((link.rsplit(" -> ", 1)[1], response.get("status_code")))
            elif f"{case['value']['method']} {case['value']['path']}" in REACHED_ANYHOW:
                seen.add((f"{case['value']['method']} {case['value']['path']}", response.get("status_code")))
    return seen


@pytest_twisted.ensureDeferred
async def test_schemathesis_finds_nothing(tmp_path):
    """Every operation, every check, the links followed to real nodes and actions: no failure, no warning."""
    init(tmp_path / "region")
    register_a_cluster(tmp_path / "region")
    token = fuzzer_token(tmp_path / "region")
    region = start_region("--data-dir", str(tmp_path / "region"), fake=True)
    url = await region.ready
    try:
        code, report = await schemathesis(url, token, tmp_path / "reports")
    finally:
        await region.kill("TERM")
    assert code == 0, report[-8000:]
    assert f"Tested: {len(operations()) - len(LEFT_OUT)}" in report and "No issues found" in report, report[-3000:]
    generated = int(re.search(r"(\d+) generated", report).group(1))
    assert generated >= 800, report[-3000:]
    seen = followed(tmp_path / "reports")
    missed = [op for op, answers in FOLLOWED.items() if not any((op, code) in seen for code in answers)]
    assert not missed, (missed, sorted(seen, key=str))
    assert b"Traceback" not in region.output and token.encode() not in region.output
