"""`apepy cache`: where the cache is, what it holds, and pruning what was not used.

Builds fill the cache fast (a CPython tree is about 1 GB, and every change of
apepy, of a flag or of an extension makes another); downloads are small and may
not come back on a machine offline. So ``prune`` removes only what can be built
again, and only entries nobody has used for a while: each use of a cache entry
touches its lock file (``cache.entry``), and an entry another run holds is left.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy import cache, ui
from apepy.errors import ApepyError

# What builds make, one entry a child (each with KEY.lock beside it), and the logs.
BUILT = ("cpython", "interpreters", "extensions", "hostpython", "testsuite")
LOGS = "logs"
# Kept by prune: downloads (sources, sdists, wheels, cosmocc, crates) and the
# sysroots, which several builds share at once.
_DAY = 86400.0


@dataclass(frozen=True)
class Found:
    path: Path
    size: int
    last_used: float  # seconds since the epoch


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cache_cmd = subparsers.add_parser(
        "cache",
        help="show, prune or clear apepy's cache",
        description="path: print the cache's location; info: its size, area by area; "
        "prune: remove builds not used for --older-than days (downloads are kept); "
        "clean: delete the whole cache.",
    )
    cache_cmd.add_argument("action", choices=["path", "info", "prune", "clean"])
    cache_cmd.add_argument(
        "--older-than",
        type=float,
        default=30,
        metavar="DAYS",
        help="prune: builds last used more than DAYS ago (default 30; 0: every build not in use)",
    )
    cache_cmd.add_argument(
        "--dry-run", action="store_true", help="prune: say what would go, remove nothing"
    )


def cmd(args: argparse.Namespace) -> int:
    root = cache.cache_root()
    if args.action == "path":
        ui.out.print(str(root), markup=False)
    elif args.action == "info":
        _info(root)
    elif args.action == "prune":
        if args.older_than < 0:
            raise ApepyError(
                f"--older-than {args.older_than:g} is not a number of days",
                hint="give 0 or more days",
            )
        removed = prune(root, args.older_than * _DAY, dry_run=args.dry_run)
        verb = "would remove" if args.dry_run else "removed"
        ui.info(
            f"{verb} {len(removed)} cache entries not used for {args.older_than:g} days "
            f"({_mb(sum(f.size for f in removed))})"
        )
    else:
        if root.exists():
            shutil.rmtree(root)
        ui.info(f"removed {root}")
    return 0


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _size(path: Path) -> int:
    if path.is_symlink() or not path.is_dir():
        return path.lstat().st_size if path.exists() or path.is_symlink() else 0
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue  # removed while we counted
    return total


def survey(root: Path, areas: Iterable[str] | None = None) -> dict[str, list[Found]]:
    """The entries of each area of the cache (of ``areas`` only, if given): built
    areas and logs by their use, the others (downloads) one entry each."""
    found: dict[str, list[Found]] = {}
    if not root.is_dir():
        return found
    wanted = None if areas is None else set(areas)
    for area in sorted(p for p in root.iterdir() if p.is_dir()):
        if wanted is not None and area.name not in wanted:
            continue
        entries = []
        for child in sorted(area.iterdir()):
            if child.name.endswith(".lock"):
                continue
            lock = cache.lock_of(child)
            try:
                used = max(child.lstat().st_mtime, lock.stat().st_mtime if lock.exists() else 0.0)
                entries.append(Found(child, _size(child), used))
            except OSError:
                continue  # removed while we looked
        found[area.name] = entries
    return found


def prune(root: Path, older_than: float, *, dry_run: bool = False) -> list[Found]:
    """Remove the built entries and logs last used more than ``older_than`` seconds ago.

    Each entry is removed holding its lock, taken without waiting: an entry a run is
    using (or making) right now is left. Work a killed run left behind (``.KEY.tmp-*``)
    goes with it when nobody holds KEY's lock. Logs have no lock: nobody reads old ones."""
    cutoff = time.time() - older_than
    removed = []
    for area, entries in survey(root, (*BUILT, LOGS)).items():
        for found in entries:
            if found.last_used > cutoff:
                continue
            if not dry_run and area == LOGS:
                found.path.unlink(missing_ok=True)
            elif not dry_run and not cache.remove_unless_held(found.path):
                continue
            removed.append(found)
    return removed


def _info(root: Path) -> None:
    areas = survey(root)
    now = time.time()
    ui.out.print(str(root), markup=False)
    total = 0
    for area, found in areas.items():
        size = sum(f.size for f in found)
        total += size
        kind = "built" if area in (*BUILT, LOGS) else "kept by prune"
        oldest = (
            f", the least recently used {(now - min(f.last_used for f in found)) / _DAY:.1f} "
            "days ago"
            if found and area in BUILT
            else ""
        )
        ui.out.print(
            f"  {area:14s} {_mb(size):>12s}  {len(found):5d} entries ({kind}{oldest})",
            markup=False,
        )
    ui.out.print(f"  {'total':14s} {_mb(total):>12s}", markup=False)
