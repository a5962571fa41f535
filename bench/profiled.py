"""
Run ``pserv-region`` with every thread under cProfile, for
``bench/api.py --profile DIR``: the reactor thread's profile goes to
``DIR/main.prof``, each other thread's (the database pool's) to
``DIR/<thread name>.prof``, when it ends (the region stops on SIGTERM).
Read them with ``python -m pstats``; the profiler slows the region
severalfold, so only the shares mean anything.

Usage: python bench/profiled.py DIR pserv-region-arguments...
"""

from __future__ import annotations

import cProfile
import re
import sys
import threading
from pathlib import Path


def profiled_threads(directory: Path) -> None:
    """Make every thread started from now on run under its own profile, saved in ``directory``."""
    run = threading.Thread.run

    def profiled(thread: threading.Thread) -> None:
        profile = cProfile.Profile()
        try:
            profile.runcall(run, thread)
        finally:
            profile.dump_stats(directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', thread.name)}.prof")

    threading.Thread.run = profiled  # type: ignore[method-assign]


def main() -> int:
    from pserv.scripts.region import main as region

    directory = Path(sys.argv[1])
    directory.mkdir(parents=True, exist_ok=True)
    profiled_threads(directory)
    profile = cProfile.Profile()
    try:
        return profile.runcall(region, sys.argv[2:])
    finally:
        profile.dump_stats(directory / "main.prof")


if __name__ == "__main__":
    sys.exit(main())
