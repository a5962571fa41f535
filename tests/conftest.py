"""
Each part's tests run on the reactor its daemon runs on.

pytest-twisted installs one reactor per process, chosen by ``--reactor``:
``make test`` runs pytest twice, ``--reactor=default`` and then
``--reactor=asyncio``, and each run keeps the tests of the parts that use
its reactor (:data:`REACTORS`), deselecting the rest.  The region
(``pserv-region``), the ``pserv`` client, the RPC's region end and the
simulation run on Twisted's default reactor; the cluster
(``pserv-cluster``), its drivers (pysnmp needs asyncio), the demo and the
whole system in one process run on asyncio.  The browser tests drive a
demo in a child process with Playwright's sync API, which runs its own
asyncio loop and refuses to start inside a running one: they run on the
default reactor.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DEFAULT, ASYNCIO = "default", "asyncio"

REACTORS: dict[str, str] = {
    "tests/client": DEFAULT,
    "tests/region": DEFAULT,
    "tests/sim": DEFAULT,
    "tests/util": DEFAULT,
    "tests/test_setup.py": DEFAULT,
    "tests/rpc": DEFAULT,
    "tests/rpc/test_cluster.py": ASYNCIO,
    "tests/rpc/test_service.py": ASYNCIO,
    "tests/scripts": DEFAULT,
    "tests/scripts/test_cluster.py": ASYNCIO,
    "tests/scripts/test_power_test.py": ASYNCIO,
    "tests/testing/test_region_stub.py": DEFAULT,
    "tests/testing": ASYNCIO,
    "tests/cluster": ASYNCIO,
    "tests/power": ASYNCIO,
    "tests/demo": ASYNCIO,
    "tests/system": ASYNCIO,
    "tests/system/test_regions.py": DEFAULT,
    "tests/browser": DEFAULT,
    "tests/packaging": DEFAULT,
}
"""Test directory or module -> the reactor its part runs on; the longest
entry that holds a test wins.  The RPC's shared modules (arguments,
protocol, shapes, TLS) run with its region end."""


def reactor_for(relative: Path) -> str:
    """
    The reactor the tests at ``relative`` (to the repository) run on.

    :raises pytest.UsageError: for a test no entry of :data:`REACTORS` holds.
    """
    parts = relative.parts
    for length in range(len(parts), 0, -1):
        found = REACTORS.get("/".join(parts[:length]))
        if found is not None:
            return found
    raise pytest.UsageError(f"{relative}: add its part to REACTORS in tests/conftest.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests whose part runs on this run's reactor."""
    reactor = config.getoption("reactor")
    kept, other = [], []
    for item in items:
        on = reactor_for(item.path.relative_to(config.rootpath))
        (kept if on == reactor else other).append(item)
    if other:
        config.hook.pytest_deselected(items=other)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    """Say which parts this run tests, and how to run the others."""
    reactor = config.getoption("reactor")
    return (f"reactor: {reactor}; tests of parts on another reactor are deselected "
            "(make test runs pytest with --reactor=default and --reactor=asyncio)")
