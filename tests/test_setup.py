"""
Tests for setup.py: every third-party module pserv imports is declared,
at run time in ``install_requires`` (the drivers' BMC libraries in the
``cluster`` extra), in pserv/testing and the tests in the
``test`` extra as well.
"""

import ast
import os
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def declared() -> dict[str, set[str]]:
    """``install_requires`` and each extra of setup.py, as normalized distribution names."""
    call = next(node for node in ast.walk(ast.parse((ROOT / "setup.py").read_text()))
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "setup")
    options = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg in ("install_requires", "extras_require")}
    groups = {"install_requires": options["install_requires"], **options["extras_require"]}
    return {group: {normalized(re.split(r"[\[<>=!~;\s]", r, maxsplit=1)[0]) for r in requirements}
            for group, requirements in groups.items()}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(paths: list[Path]) -> dict[str, Path]:
    """Each third-party top-level module imported anywhere in ``paths``, with one file importing it."""
    found: dict[str, Path] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("pserv", "tests", "__future__"):
                    found.setdefault(top, path)
    return found


def undeclared(paths: list[Path], allowed: set[str]) -> list[str]:
    providers = packages_distributions()
    missing = []
    for module, path in sorted(third_party_imports(paths).items()):
        distributions = {normalized(d) for d in providers.get(module, [])}
        if not distributions & allowed:
            missing.append(f"{module} ({path.relative_to(ROOT)}; from {sorted(distributions) or 'nothing installed'})")
    return missing


def sources(under: str, leaving_out: str | None = None) -> list[Path]:
    return [p for p in sorted((ROOT / under).rglob("*.py")) if leaving_out is None or leaving_out not in p.parts]


def test_runtime_imports_are_install_requires():
    """Every third-party module imported under pserv/ (the drivers and pserv/testing aside) is an install_requires entry, or the postgres extra's (psycopg: the regions' LISTEN on PostgreSQL, which needs that extra anyway)."""
    outside = [p for p in sources("pserv", leaving_out="testing") if "drivers" not in p.parts]
    groups = declared()
    assert undeclared(outside, groups["install_requires"] | groups["postgres"]) == []


def test_the_drivers_imports_are_install_requires_or_the_cluster_extra():
    """The drivers import only what install_requires and the cluster extra (the BMC libraries) declare."""
    groups = declared()
    assert undeclared(sources("pserv/power/drivers"), groups["install_requires"] | groups["cluster"]) == []


def test_the_region_and_the_client_load_no_bmc_library():
    """Importing the region's and the client's commands and the power types loads none of the cluster extra's modules."""
    code = ("import sys, pserv.scripts.region, pserv.scripts.pserv, pserv.region.service, pserv.power.types; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pyghmi', 'pyipmi', 'pysnmp', 'pyasn1'}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("tree", ["pserv/testing", "tests"])
def test_testing_imports_are_declared_with_the_test_and_cluster_extras(tree):
    """pserv/testing and the tests import only what install_requires, the test and the cluster extras declare."""
    groups = declared()
    assert undeclared(sources(tree), groups["install_requires"] | groups["test"] | groups["cluster"]) == []


def test_jsonschema_is_a_runtime_dependency():
    """The region validates request bodies with jsonschema, so installing pserv installs it."""
    assert "jsonschema" in declared()["install_requires"]
