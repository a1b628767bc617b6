"""`apepy cache info` and `prune`: real cache entries, made and used through `cache.entry`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import run_apepy

from apepy import cache, cachecli

DAY = 86400


def made(path: Path, layout: cache.Layout = "dir") -> Path:
    with cache.entry(path, layout=layout, marker="done") as entry:
        if layout == "file":
            entry.work.write_bytes(b"x" * 1000)
            entry.publish()
        else:
            (entry.work / "payload").write_bytes(b"x" * 1000)
            entry.publish("done")
    return path


def age(path: Path, days: float) -> None:
    """As if made and last used ``days`` ago."""
    when = time.time() - days * DAY
    for p in (path, path.with_name(path.name + ".lock")):
        if p.exists():
            os.utime(p, (when, when))


def test_prune_removes_old_builds_only(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    old_tree = made(root / "cpython" / "aaaa", "in-place")
    used_tree = made(root / "cpython" / "bbbb", "in-place")
    new_interp = made(root / "interpreters" / "cccc")
    held = made(root / "extensions" / "dddd")
    source = made(root / "sources" / "Python-3.13.15.tar.xz", "file")
    for path in (old_tree, used_tree, held, source):
        age(path, 40)
    # What a run killed while making an entry left: its work directory, old too.
    stale = root / "interpreters" / ".eeee.tmp-abc123"
    stale.mkdir()
    age(stale, 40)
    (root / "logs").mkdir()
    (root / "logs" / "build-old.log").write_text("old")
    age(root / "logs" / "build-old.log", 40)
    (root / "logs" / "build-new.log").write_text("new")

    # Using an entry is what keeps it: cache.entry records the use on its lock.
    with cache.entry(used_tree, layout="in-place", marker="done") as entry:
        assert entry.ready
    surveyed = {f.path.name: f for f in cachecli.survey(root)["cpython"]}
    assert surveyed["bbbb"].last_used > time.time() - 60
    assert surveyed["aaaa"].last_used < time.time() - 39 * DAY
    assert surveyed["aaaa"].size >= 1000

    # An entry another run holds is left, however old.
    with cache.locked(held.with_name(held.name + ".lock")):
        age(held, 40)
        dry = cachecli.prune(root, 30 * DAY, dry_run=True)
        assert old_tree.is_dir()  # a dry run removes nothing
        removed = cachecli.prune(root, 30 * DAY)
    assert {f.path for f in removed} == {old_tree, stale, root / "logs" / "build-old.log"}
    assert {f.path for f in dry} == {old_tree, stale, held, root / "logs" / "build-old.log"}
    assert not old_tree.exists() and not stale.exists()
    assert used_tree.is_dir() and new_interp.is_dir() and held.is_dir()
    assert source.is_file()  # downloads are never pruned
    assert (root / "logs" / "build-new.log").is_file()
    # The pruned entry is made again on its next use.
    with cache.entry(old_tree, layout="in-place", marker="done") as entry:
        assert not entry.ready
        entry.publish("done")


def test_cache_commands(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    env = {"APEPY_CACHE_DIR": str(root)}
    tree = made(root / "cpython" / "aaaa", "in-place")
    made(root / "sources" / "Python-3.13.15.tar.xz", "file")
    age(tree, 10)
    info = run_apepy("cache", "info", env=env)
    assert info.returncode == 0, info.stderr
    assert "cpython" in info.stdout and "1 entries (built" in info.stdout
    assert "sources" in info.stdout and "kept by prune" in info.stdout
    kept = run_apepy("cache", "prune", env=env)
    assert kept.returncode == 0 and "removed 0 cache entries" in kept.stderr
    dry = run_apepy("cache", "prune", "--older-than", "7", "--dry-run", env=env)
    assert "would remove 1 cache entries" in dry.stderr and tree.is_dir()
    gone = run_apepy("cache", "prune", "--older-than", "7", env=env)
    assert "removed 1 cache entries" in gone.stderr and not tree.exists()
    bad = run_apepy("cache", "prune", "--older-than", "-1", env=env)
    assert bad.returncode != 0 and "is not a number of days" in bad.stderr
    assert "Traceback" not in bad.stderr
