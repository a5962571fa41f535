"""
Fixtures for the packaging tests: the packages, built once per source,
and a fresh Debian 12 root to install them in.  They need what CI has:
root, Debian 12, debhelper, lintian and debootstrap (``make setup``
installs them as root), and Debian's mirror.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.packaging import builds
from tests.packaging.roots import DebianRoot

NEEDED = ("dpkg-buildpackage", "lintian", "debootstrap", "chroot")


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "building and installing Debian packages needs root (CI runs as root)"
    if not Path("/etc/debian_version").read_text().startswith("12"):
        return "the packages are for Debian 12"
    missing = [tool for tool in NEEDED if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)}: not installed (make setup installs them as root)"
    return None


@pytest.fixture(scope="session")
def packages() -> dict[str, Path]:
    """The four packages, built from this checkout."""
    why = _why_not()
    if why:
        pytest.skip(why)
    return builds.build()


@pytest.fixture(scope="session")
def newer_packages(packages: dict[str, Path]) -> dict[str, Path]:
    """The same source rebuilt at a higher version, to upgrade to."""
    return builds.build(version=builds.version_of(packages["pserv-common"]) + "+1")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory):
    """One file for everything the root's commands print, for a failure to point at."""
    path = tmp_path_factory.mktemp("packaging") / "root.log"
    with path.open("ab") as file:
        yield file


@pytest.fixture(scope="module")
def root(packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, log) -> DebianRoot:
    """A fresh Debian 12 root, deleted afterwards."""
    made = DebianRoot.create(tmp_path_factory.mktemp("debian-root") / "root", log)
    yield made
    made.close()
