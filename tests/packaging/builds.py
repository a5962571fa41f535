"""
Building pserv's Debian packages for the packaging tests: from a copy of
the checkout (what git tracks and what it would track), with
``dpkg-buildpackage -us -uc -b``, cached by the copy's content, so that
a second run of the tests on the same source builds nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path("/var/tmp/pserv-packaging")
"""Where builds are kept between runs (not in the checkout: the build
copies the checkout)."""

PACKAGES = ("pserv-common", "pserv-region", "pserv-cluster", "pserv-cli")

TEST_BUILD = {"DPKG_DEB_COMPRESSOR_TYPE": "gzip"}
"""The tests' builds compress with gzip, not dpkg's xz: 9 s instead of 36
for pserv-common's 63 MB, twice a run; the packages are the same."""


NOT_BUILT = ("tests/", "bench/", ".ci/")
"""What the packages are not built from: a change there needs no new build."""


def source_files() -> list[str]:
    """The checkout's files as git sees them (tracked, or untracked and not ignored), less :data:`NOT_BUILT`."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout
    return sorted(name for name in listed.decode().split("\0")
                  if name and not name.startswith(NOT_BUILT) and (ROOT / name).is_file())


def source_digest(files: list[str]) -> str:
    """A digest of the files' names and contents."""
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (ROOT / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def build(version: str | None = None) -> dict[str, Path]:
    """
    The packages built from the checkout, at the version of
    debian/changelog or, if ``version`` is given, at that version (a new
    changelog entry on a copy).  Returns each package's name -> its .deb.
    """
    files = source_files()
    out = CACHE / f"{source_digest(files)}-{version or 'as-is'}"
    debs = _debs(out)
    if len(debs) == len(PACKAGES):
        return debs
    _forget_other_sources(out)
    tree = out / "pserv"
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    if version is not None:
        _new_version(tree / "debian" / "changelog", version)
    log = out / "build.log"
    with log.open("wb") as output:
        done = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=tree, stdout=output,
                              stderr=subprocess.STDOUT, timeout=900, env={**os.environ, **TEST_BUILD})
    if done.returncode != 0:
        raise AssertionError(f"dpkg-buildpackage failed ({done.returncode}); its output: {log}\n"
                             + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
    return _debs(out)


def _forget_other_sources(out: Path) -> None:
    """Delete the builds of other sources, and any half-made one of this."""
    for old in CACHE.glob("*-*"):
        if old == out or not old.name.startswith(out.name.split("-")[0]):
            shutil.rmtree(old, ignore_errors=True)


def _debs(out: Path) -> dict[str, Path]:
    found = {}
    for deb in out.glob("*.deb"):
        name = deb.name.split("_")[0]
        if name in PACKAGES:
            found[name] = deb
    return found


def _new_version(changelog: Path, version: str) -> None:
    """Put an entry for ``version`` on top of ``changelog``, as dch would."""
    old = changelog.read_text()
    author = old.split("\n -- ", 1)[1].split("  ", 1)[0]
    date = subprocess.run(["date", "-R"], check=True, capture_output=True, text=True).stdout.strip()
    entry = (f"pserv ({version}) bookworm; urgency=medium\n\n  * Rebuilt by the packaging tests, "
             f"to test an upgrade.\n\n -- {author}  {date}\n\n")
    changelog.write_text(entry + old)


def version_of(deb: Path) -> str:
    """The Version field of a .deb."""
    return subprocess.run(["dpkg-deb", "--field", str(deb), "Version"], check=True,
                          capture_output=True, text=True).stdout.strip()
