"""Resolving dependencies to wheels for the base: the only place apepy runs pip.

A resolution is cached by its inputs (requirements, the base's tags, index
options), so a warm bundle does no network I/O at all.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from apepy import cache, ui
from apepy.bundle.base import Base
from apepy.errors import ApepyError


@dataclass(frozen=True)
class IndexOptions:
    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False
    refresh: bool = False

    def pip_args(self) -> list[str]:
        args: list[str] = []
        for link in self.find_links:
            args += ["--find-links", link]
        if self.index_url:
            args += ["--index-url", self.index_url]
        if self.no_index:
            args.append("--no-index")
        return args


def resolve(requirements: list[str], base: Base, index: IndexOptions, log: Path) -> list[Path]:
    """Wheels for ``requirements`` and everything they need, for the base's version and tags."""
    if not requirements:
        return []
    tags = [
        "--only-binary=:all:",
        "--python-version",
        base.series,
        "--implementation",
        "cp",
        "--abi",
        base.abi,
        *(arg for platform in base.pip_platforms() for arg in ("--platform", platform)),
    ]
    key = hashlib.sha256(
        json.dumps({"req": sorted(requirements), "tags": tags, "index": index.pip_args()}).encode()
    ).hexdigest()[:24]
    entry = cache.cache_dir("wheels") / key
    done = entry / "resolved.json"
    with cache.locked(entry.with_name(key + ".lock")):
        if done.is_file() and not index.refresh:
            names = json.loads(done.read_text())
            wheels = [entry / n for n in names]
            if all(w.is_file() for w in wheels):
                ui.info(f"dependencies: {len(wheels)} wheels from the cache (no network)")
                return wheels
        with cache.atomic_directory(entry) as tmp:
            with ui.phase(
                "resolve", f"{len(requirements)} requirements with pip for {base.describe()}"
            ):
                _pip_download(requirements, tags, index, tmp, log)
            names = sorted(p.name for p in tmp.glob("*.whl"))
            (tmp / "resolved.json").write_text(json.dumps(names))
    return [entry / n for n in names]


def _pip_download(
    requirements: list[str], tags: list[str], index: IndexOptions, dest: Path, log: Path
) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "-d",
        str(dest),
        *tags,
        *index.pip_args(),
        *requirements,
    ]
    with open(log, "a", encoding="utf-8") as sink:
        sink.write("$ " + " ".join(cmd) + "\n")
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        sink.write(result.stdout + result.stderr)
    if result.returncode == 0:
        return
    text = result.stderr
    missing = re.search(r"No matching distribution found for (\S+)", text)
    tail = "\n".join(text.strip().splitlines()[-8:])
    if missing:
        raise ApepyError(
            f"no wheel of {missing.group(1)} fits the base",
            hint="apepy installs wheels only (pure-Python, or platform wheels whose C parts are "
            "optional); pin a version that ships a wheel, or build a base with the package "
            "compiled in",
            details=tail + f"\n\nfull log: {log}",
        )
    conflict = re.search(r"ResolutionImpossible|conflicting dependencies", text)
    raise ApepyError(
        "pip could not resolve the dependencies" + (" (they conflict)" if conflict else ""),
        hint="check the requirements and that the package index is reachable (offline: --find-links DIR --no-index)",
        details=tail + f"\n\nfull log: {log}",
    )
