"""
Tests for debian/: the packages build, satisfy lintian, and install,
run, upgrade, remove and purge in a fresh Debian 12 root.

The tests after the lintian and contents checks are the steps of one
operator's life with the packages, in order, on one root: each takes up
where the one before left it.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packaging.builds import version_of
from tests.packaging.roots import DebianRoot

VENV = "/usr/lib/pserv/venv"
PYTHON = f"{VENV}/bin/python3"
UNITS = ("pserv-region", "pserv-cluster")
BMC_LIBRARIES = ("pyghmi", "pyipmi", "pysnmp", "pyasn1")
BMC_PASSWORD = "bmc-secret-0451"
READY_SECONDS = 120
DATABASE = "sqlite:////var/lib/pserv/region.sqlite"


def test_lintian_finds_no_errors_and_no_warnings(packages):
    """lintian, on the four packages, reports no error and no warning (overrides say why)."""
    changes = next(packages["pserv-common"].parent.glob("*.changes"))
    done = subprocess.run(["lintian", "--no-tag-display-limit", str(changes)], capture_output=True, text=True)
    findings = [line for line in done.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert findings == [] and done.returncode == 0, done.stdout + done.stderr


def test_only_the_cluster_package_carries_the_bmc_libraries(packages):
    """pserv-common and pserv-region hold no BMC library; pserv-cluster holds every one."""
    def libraries(name):
        listing = subprocess.run(["dpkg-deb", "--contents", str(packages[name])], check=True,
                                 capture_output=True, text=True).stdout
        return {lib for lib in BMC_LIBRARIES if f"/site-packages/{lib}/" in listing}

    assert (libraries("pserv-common"), libraries("pserv-region"), libraries("pserv-cluster")) == (
        set(), set(), set(BMC_LIBRARIES))


@pytest.fixture(scope="module")
def installed(root: DebianRoot, packages, log) -> str:
    """The four packages installed with apt-get from their files; what the install printed."""
    for deb in packages.values():
        (root.file("/tmp") / deb.name).write_bytes(deb.read_bytes())
    done = root.run("apt-get", "install", "-y", "-q", *[f"/tmp/{deb.name}" for deb in packages.values()])
    log.write(done.stdout)
    return done.stdout.decode(errors="replace")


def test_installing_makes_the_user_the_data_directory_and_the_secret(root, installed):
    """The user pserv has no login shell; the secret is root:pserv 0640; the token goes to a file."""
    user = root.output("getent", "passwd", "pserv").strip().split(":")
    assert int(user[2]) < 1000 and user[6] == "/usr/sbin/nologin"
    assert _owner_and_mode(root, "/var/lib/pserv") == ("pserv", "pserv", "750")
    assert _owner_and_mode(root, "/var/lib/pserv/secret") == ("root", "pserv", "640")
    assert _owner_and_mode(root, "/etc/pserv/secret") == ("root", "pserv", "640")
    assert _owner_and_mode(root, "/var/lib/pserv/admin-token") == ("root", "root", "600")
    token = root.file("/var/lib/pserv/admin-token").read_text().strip()
    assert "/var/lib/pserv/admin-token" in installed and token not in installed
    conffiles = root.output("dpkg-query", "-W", "-f=${Conffiles}\n", "pserv-region", "pserv-cluster")
    assert "/etc/pserv/region.yaml" in conffiles and "/etc/pserv/cluster.yaml" in conffiles


@pytest.mark.parametrize("unit", UNITS)
def test_the_unit_passes_systemd_analyze_verify(root, installed, unit):
    """systemd-analyze verify, on the installed system, finds nothing wrong with the unit."""
    done = root.run("systemd-analyze", "verify", f"/lib/systemd/system/{unit}.service", check=False)
    assert done.returncode == 0 and done.stdout == b"", done.stdout.decode()


@pytest.mark.parametrize("unit", UNITS)
def test_the_unit_is_hardened_to_an_exposure_of_3_or_less(root, installed, unit):
    """systemd-analyze security rates the unit 3.0 or better ('OK')."""
    said = root.output("systemd-analyze", "security", "--offline=true", "--no-pager",
                       f"/lib/systemd/system/{unit}.service")
    exposure = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", said).group(1))
    assert exposure <= 3.0, said


@pytest.fixture(scope="module")
def bmc():
    """An emulated IPMI BMC on loopback, outside the root; yields (port, its control pipe)."""
    emulator = subprocess.Popen(
        [sys.executable, "-m", "pserv.testing.emulators.ipmi_bmc_server", "--count", "1",
         "--username", "admin", "--password", BMC_PASSWORD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = json.loads(emulator.stdout.readline())["ports"][0]
    yield port, emulator
    emulator.stdin.close()
    emulator.wait(timeout=30)


def _bmc_power(bmc) -> str:
    port, emulator = bmc
    emulator.stdin.write(f"stats {port}\n")
    emulator.stdin.flush()
    return json.loads(emulator.stdout.readline())["power"]


@pytest.fixture(scope="module")
def ports() -> dict[str, int]:
    """Free loopback ports for the installed region's API and RPC."""
    return {"api": _free_port(), "rpc": _free_port()}


def test_the_installed_region_and_cluster_power_on_an_emulated_bmc(root, installed, bmc, ports, log):
    """Started from their units' ExecStart as pserv, the cluster joins with the secret and powers a BMC on."""
    _configure(root, ports)
    assert _bmc_power(bmc) == "off"
    with _daemons(root, log):
        api = f"http://127.0.0.1:{ports['api']}"
        _pserv(root, api, "nodes", "add", "--name", "bmc-1", "--power-type", "ipmi", "--cluster", "pkgtest",
               "--set", "address=127.0.0.1", "--set", f"port={bmc[0]}", "--set", "username=admin",
               "--set", f"password={BMC_PASSWORD}")
        _pserv(root, api, "power", "on", "bmc-1", "--wait", "--timeout", "120", "--reason", "packaging test")
        shown = json.loads(_pserv(root, api, "--json", "nodes", "show", "bmc-1"))
    assert (_bmc_power(bmc), shown["power_state"]) == ("on", "on")
    log.flush()
    assert BMC_PASSWORD not in Path(log.name).read_text(errors="replace")


def test_an_upgrade_runs_the_migrations_and_keeps_the_data(root, installed, newer_packages, log):
    """Upgraded from a schema one revision old, the region is migrated to head and keeps its node."""
    _as_pserv_python(root, "from alembic import command\nfrom sqlalchemy import create_engine\n"
                     "from pserv.region.migrate import _config\n"
                     "with create_engine(DATABASE).begin() as connection:\n"
                     "    command.downgrade(_config(connection), '-1')\n")
    before = _revision(root)
    for deb in newer_packages.values():
        (root.file("/tmp") / deb.name).write_bytes(deb.read_bytes())
    done = root.run("apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confold",
                    *[f"/tmp/{deb.name}" for deb in newer_packages.values()])
    log.write(done.stdout)
    head = _as_pserv_python(root, "from pserv.region.migrate import head_revision; print(head_revision())")
    assert before != head and _revision(root) == head
    assert "schema ready" in done.stdout.decode()
    assert _as_pserv_python(root, "import sqlite3; print(sqlite3.connect('/var/lib/pserv/region.sqlite')"
                            ".execute('select name from nodes').fetchall())") == "[('bmc-1',)]"
    assert root.output("dpkg-query", "-W", "-f=${Version}", "pserv-region") == version_of(newer_packages["pserv-region"])


def test_removing_stops_the_services_and_keeps_data_and_settings(root, installed):
    """remove stops the units (their prerm), deletes the programs, keeps /var/lib/pserv and /etc/pserv."""
    for unit in UNITS:
        assert f"deb-systemd-invoke stop {unit}.service" in root.file(
            f"/var/lib/dpkg/info/{unit}.prerm").read_text().replace("'", "")
    root.run("apt-get", "remove", "-y", "-q", "pserv-region", "pserv-cluster", "pserv-cli", "pserv-common")
    programs = root.file("/usr/lib/pserv")
    assert not programs.exists(), sorted(str(p) for p in programs.rglob("*"))[:20]
    assert not any(root.file(f"/lib/systemd/system/{unit}.service").exists() for unit in UNITS)
    assert all(root.file(path).exists() for path in (
        "/var/lib/pserv/region.sqlite", "/var/lib/pserv/secret", "/etc/pserv/region.yaml", "/etc/pserv/cluster.yaml"))


def test_purging_deletes_the_data(root, installed):
    """purge deletes the database, the secrets and the settings; the pserv user stays, as Debian's do."""
    root.run("apt-get", "purge", "-y", "-q", "pserv-region", "pserv-cluster", "pserv-cli", "pserv-common")
    assert not root.file("/var/lib/pserv").exists() and not root.file("/etc/pserv").exists()
    assert root.run("getent", "passwd", "pserv", check=False).returncode == 0


def _owner_and_mode(root: DebianRoot, path: str) -> tuple[str, str, str]:
    return tuple(root.output("stat", "-c", "%U %G %a", path).split())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _configure(root: DebianRoot, ports: dict[str, int]) -> None:
    """Point the installed settings at loopback ports, as an operator edits them."""
    region = root.file("/etc/pserv/region.yaml")
    region.write_text(region.read_text().replace('"0.0.0.0:5240"', f'"127.0.0.1:{ports["api"]}"')
                      .replace('"0.0.0.0:5250"', f'"127.0.0.1:{ports["rpc"]}"'))
    cluster = root.file("/etc/pserv/cluster.yaml")
    cluster.write_text(cluster.read_text().replace('"127.0.0.1:5250"', f'"127.0.0.1:{ports["rpc"]}"')
                       .replace('name: ""', 'name: "pkgtest"'))


class _daemons:
    """The region, then the cluster, started from their units' ExecStart as their units' User."""

    def __init__(self, root: DebianRoot, log) -> None:
        self.root, self.log, self.running = root, log, []

    def __enter__(self) -> _daemons:
        for unit in UNITS:
            self.running.append(self._start(unit))
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.running):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)

    def _start(self, unit: str) -> subprocess.Popen:
        settings = _unit_settings(self.root.file(f"/lib/systemd/system/{unit}.service").read_text())
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
            address = f"\0pserv-packaging-{unit}-{id(self)}"
            notify.bind(address)
            notify.settimeout(READY_SECONDS)
            process = self.root.start(shlex.split(settings["ExecStart"]), settings["User"], self.log,
                                      {"NOTIFY_SOCKET": "@" + address[1:], "HOME": "/var/lib/pserv"})
            said = b""
            while b"READY=1" not in said:
                try:
                    said += notify.recv(4096) + b"\n"
                except TimeoutError:
                    process.kill()
                    raise AssertionError(f"{unit}: no READY=1 in {READY_SECONDS} s; see {self.log.name}") from None
        return process


def _unit_settings(unit: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))


def _pserv(root: DebianRoot, api: str, *args: str) -> str:
    token = root.file("/var/lib/pserv/admin-token").read_text().strip()
    return root.output("/usr/bin/pserv", "--url", api, "--token", token, *args)


def _as_pserv_python(root: DebianRoot, code: str) -> str:
    """Run Python ``code`` in the installed environment as pserv; ``DATABASE`` is the region's URL."""
    return root.output(PYTHON, "-c", f"DATABASE = {DATABASE!r}\n" + code, user="pserv").strip()


def _revision(root: DebianRoot) -> str:
    return _as_pserv_python(root, "from sqlalchemy import create_engine; from pserv.region.migrate import "
                            "current_revision; print(current_revision(create_engine("
                            "DATABASE)))")
