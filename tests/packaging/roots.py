"""
A fresh Debian 12 root for the packaging tests: made by ``debootstrap``
from Debian's mirror (minbase, plus systemd and man-db, as a server has),
with /proc mounted, commands run in it by ``chroot``.  It shares the
host's network, so daemons in it and emulators outside meet on loopback.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import IO

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
BASE_PACKAGES = ("systemd", "man-db")


class DebianRoot:
    """A Debian 12 root in ``path``; :meth:`close` unmounts and deletes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, log: IO[bytes]) -> DebianRoot:
        """debootstrap a minimal bookworm into ``path`` and mount its /proc."""
        subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(path), MIRROR], check=True,
                       stdout=log, stderr=subprocess.STDOUT, timeout=900)
        root = cls(path)
        subprocess.run(["mount", "-t", "proc", "proc", str(path / "proc")], check=True)
        root.run("apt-get", "update", "-q", log=log)
        root.apt_install(*BASE_PACKAGES, log=log, recommends=False)
        return root

    def run(self, *command: str, user: str | None = None, log: IO[bytes] | None = None,
            check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``command`` in the root (as ``user``); its output is returned, or written to ``log``."""
        done = subprocess.run(self._chroot(command, user), env=self.environment(),
                              stdout=log or subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout)
        if check and done.returncode != 0:
            said = "" if log else done.stdout.decode(errors="replace")
            raise AssertionError(f"{' '.join(command)} exited {done.returncode} in the root\n{said}")
        return done

    def output(self, *command: str, user: str | None = None) -> str:
        """The text ``command`` prints in the root; it must succeed."""
        return self.run(*command, user=user).stdout.decode(errors="replace")

    def start(self, command: list[str], user: str, log: IO[bytes], environ: dict[str, str]) -> subprocess.Popen:
        """Start ``command`` in the root as ``user``, in the background."""
        return subprocess.Popen(self._chroot(command, user), env={**self.environment(), **environ},
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def apt_install(self, *packages: str, log: IO[bytes], recommends: bool = True) -> None:
        """``apt-get install`` in the root, dependencies from Debian's mirror."""
        options = [] if recommends else ["--no-install-recommends"]
        self.run("apt-get", "install", "-y", "-q", "-o", "Dpkg::Options::=--force-confold", *options,
                 *packages, log=log)

    def file(self, path: str) -> Path:
        """The host's path of ``path`` in the root."""
        return self.path / path.lstrip("/")

    def close(self) -> None:
        """Unmount /proc and delete the root."""
        proc = self.path / "proc"
        if proc.is_mount():
            subprocess.run(["umount", "--lazy", str(proc)], check=True)
        if not proc.is_mount():
            shutil.rmtree(self.path, ignore_errors=True)

    def _chroot(self, command: list[str] | tuple[str, ...], user: str | None) -> list[str]:
        userspec = [f"--userspec={user}:{user}"] if user else []
        return ["chroot", *userspec, str(self.path), *command]

    @staticmethod
    def environment() -> dict[str, str]:
        """A plain environment, as a unit's or a root shell's, not the test run's."""
        return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}
