"""How a build runs, apart from what it builds: one object, passed whole down the pipeline.

Nothing here changes the bytes of what is built, so none of it is in a cache key.
Every step takes the whole context rather than the flags it uses today, so a flag
cannot be dropped between two steps (``--offline`` once was, before the re-link, and
``-j`` was replaced by the machine's core count in the extension steps).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from apepy import cache


def default_jobs() -> int:
    return os.cpu_count() or 1


@dataclass(frozen=True)
class Context:
    # Parallel jobs for every compile: CPython's make, the C libraries, the packages.
    jobs: int
    # Never download: every source, sdist and crate comes from the cache.
    offline: bool
    # The log every step appends its programs' output to.
    log: Path


def new(kind: str, *, jobs: int | None = None, offline: bool = False) -> Context:
    """A context whose log is a new file in the cache's logs/ (``kind``: build, bundle)."""
    # The process id keeps two runs started in the same second apart.
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    return Context(
        jobs=default_jobs() if jobs is None else jobs,
        offline=offline,
        log=cache.cache_dir("logs") / f"{kind}-{stamp}.log",
    )
