"""The one cache-entry primitive (`cache.entry`) and the records helper, without a build."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest

from apepy import cache, hashing, records
from apepy.errors import ApepyError

LAYOUTS: list[cache.Layout] = ["dir", "in-place", "file"]


def make(entry: cache.Entry, text: str = "done") -> None:
    if entry.layout == "file":
        entry.work.write_text("content")
        entry.publish()
    else:
        (entry.work / "payload").write_text("content")
        entry.publish(text)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_made_once_then_ready(tmp_path: Path, layout: cache.Layout) -> None:
    path = tmp_path / "kind" / "key"
    with cache.entry(path, layout=layout, marker="marker.json") as first:
        assert not first.ready
        make(first, '{"a": 1}')
    with cache.entry(path, layout=layout, marker="marker.json") as second:
        assert second.ready and second.work == path
        assert second.text == ("" if layout == "file" else '{"a": 1}')
    assert (path.read_text() if layout == "file" else (path / "payload").read_text()) == "content"
    assert cache.unfinished(tmp_path) == []
    assert (tmp_path / "kind" / "key.lock").is_file()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_failure_leaves_nothing(tmp_path: Path, layout: cache.Layout) -> None:
    path = tmp_path / "key"
    with (
        pytest.raises(KeyboardInterrupt),
        cache.entry(path, layout=layout, marker="m") as entry,
    ):
        if layout != "file":
            (entry.work / "half").write_text("x")
        else:
            entry.work.write_text("half")
        assert cache.unfinished(tmp_path) != []
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.lock"]


@pytest.mark.parametrize("layout", ["dir", "in-place"])
def test_leaving_without_publishing_is_an_error(tmp_path: Path, layout: cache.Layout) -> None:
    with (
        pytest.raises(RuntimeError, match="without being published"),
        cache.entry(tmp_path / "key", layout=layout, marker="m"),
    ):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key.lock"]


def test_in_place_is_made_at_its_own_path_with_a_sentinel_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "key"
    with cache.entry(path, layout="in-place", marker="m") as entry:
        assert entry.work == path and path.is_dir()
        assert [p.name for p in cache.unfinished(tmp_path)] == [".key.tmp-in-place"]
        entry.publish("x")
        assert cache.unfinished(tmp_path) == []
    assert (path / "m").read_text() == "x"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_what_a_killed_run_left_is_removed_and_made_again(
    tmp_path: Path, layout: cache.Layout
) -> None:
    """A process killed outright inside the block: the next run starts afresh."""
    path = tmp_path / "key"
    script = textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        from apepy import cache
        with cache.entry(Path({str(path)!r}), layout={layout!r}, marker="m") as e:
            if {layout!r} == "file":
                e.work.write_text("half")
            else:
                (e.work / "half").write_text("x")
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    killed = subprocess.run([sys.executable, "-c", script], check=False)
    assert killed.returncode == -9
    left = cache.unfinished(tmp_path)
    assert left != []
    seen: list[Path] = []
    with cache.entry(path, layout=layout, marker="m", on_damaged=seen.append) as entry:
        assert not entry.ready and not (path / "half").exists()
        assert all(not p.exists() for p in left if p.name != ".key.tmp-in-place")
        make(entry)
    assert cache.unfinished(tmp_path) == []
    # In place, the half-made tree was there to be removed; elsewhere only work beside it.
    assert seen == ([path] if layout == "in-place" else [])


def test_a_damaged_entry_is_reported_removed_and_made_again(tmp_path: Path) -> None:
    path = tmp_path / "key"
    with cache.entry(path, marker="m") as entry:
        (entry.work / "stale").write_text("old")
        entry.publish("bad")
    seen: list[Path] = []
    with cache.entry(
        path, marker="m", check=lambda p, text: text == "good", on_damaged=seen.append
    ) as entry:
        assert not entry.ready and not path.exists()
        make(entry, "good")
    assert seen == [path]
    assert sorted(p.name for p in path.iterdir()) == ["m", "payload"]


def test_a_marker_missing_means_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.mkdir()
    (path / "payload").write_text("from an older layout")
    with cache.entry(path, marker="m") as entry:
        assert not entry.ready
        make(entry)
    assert (path / "m").read_text() == "done"


def test_a_check_that_refuses_leaves_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "key"
    with cache.entry(path, marker="m") as entry:
        make(entry)

    def refuse(p: Path, text: str) -> bool:
        raise ApepyError("damaged", hint="run with --refresh")

    with pytest.raises(ApepyError), cache.entry(path, marker="m", check=refuse):
        pass
    assert (path / "m").read_text() == "done"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_rebuild_replaces_a_complete_entry(tmp_path: Path, layout: cache.Layout) -> None:
    path = tmp_path / "key"
    with cache.entry(path, layout=layout, marker="m") as entry:
        make(entry, "one")
    with cache.entry(path, layout=layout, marker="m", rebuild=True) as entry:
        assert not entry.ready
        if layout == "dir":
            # The old entry serves until the new one replaces it.
            assert (path / "m").read_text() == "one"
        make(entry, "two")
    if layout != "file":
        assert (path / "m").read_text() == "two"


def test_rebuild_that_fails_keeps_the_old_directory(tmp_path: Path) -> None:
    path = tmp_path / "key"
    with cache.entry(path, marker="m") as entry:
        make(entry, "one")
    with pytest.raises(OSError), cache.entry(path, marker="m", rebuild=True):
        raise OSError("network down")
    assert (path / "m").read_text() == "one"


def test_file_entry_keeps_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "thing.tar.gz"
    with cache.entry(path, layout="file") as entry:
        entry.publish("text")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert path.read_text() == "text"


def test_a_lock_held_by_the_caller(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with (
        cache.locked(store / "name.lock"),
        cache.entry(store / "name-1.0.tar.gz", layout="file", lock=False) as entry,
    ):
        entry.publish("x")
    assert sorted(p.name for p in store.iterdir()) == ["name-1.0.tar.gz", "name.lock"]


def test_a_lock_elsewhere_and_a_marker_file_entry(tmp_path: Path) -> None:
    """A marker file in a shared directory (a sysroot's per-library marker)."""
    root = tmp_path / "sysroot"
    marker = root / ".lib-1.0-abc.built"
    with cache.entry(
        marker, layout="file", lock=root / ".lib.lock", check=lambda p, text: True
    ) as entry:
        (root / "lib").mkdir(parents=True)
        entry.publish("1.0\n")
    assert marker.read_text() == "1.0\n"
    with cache.entry(marker, layout="file", lock=root / ".lib.lock") as entry:
        assert entry.ready
    assert cache.unfinished(tmp_path) == []


def test_a_directory_entry_needs_a_marker(tmp_path: Path) -> None:
    with pytest.raises(TypeError), cache.entry(tmp_path / "key"):
        pass


# --- keys -------------------------------------------------------------------------------------


def test_cache_key_values_are_stable() -> None:
    import hashlib

    table = {"b": 1, "a": [1, 2]}
    assert (
        hashing.cache_key(table)
        == hashlib.sha256(json.dumps(table, sort_keys=True).encode()).hexdigest()[:24]
    )
    assert (
        hashing.cache_key(table, sort_keys=False)
        == hashlib.sha256(json.dumps(table).encode()).hexdigest()[:24]
    )
    assert hashing.cache_key("text", length=16) == hashlib.sha256(b"text").hexdigest()[:16]
    assert hashing.cache_key(b"\x00raw", length=8) == hashlib.sha256(b"\x00raw").hexdigest()[:8]


# --- records ----------------------------------------------------------------------------------


class Pair(NamedTuple):
    path: str
    whole: bool


@dataclasses.dataclass(frozen=True)
class Inner:
    name: str
    where: Path
    pairs: tuple[Pair, ...]


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner
    items: tuple[Inner, ...]
    maybe: int | None
    table: dict[str, object]
    listed: tuple[str, ...]
    schema: int = 1


def sample() -> Outer:
    inner = Inner("a", Path("x/y"), (Pair("l.a", True),))
    return Outer(inner, (inner,), None, {"k": [1, {"z": None}]}, ("p", "q"))


def test_records_round_trip() -> None:
    obj = sample()
    assert records.from_json(Outer, records.to_json(obj)) == obj
    assert records.from_json(Outer, records.to_json(obj, indent=1).encode()) == obj
    assert records.to_data(obj.inner) == {
        "name": "a",
        "where": "x/y",
        "pairs": [{"path": "l.a", "whole": True}],
    }


def test_records_write_fields_in_order_or_sorted() -> None:
    text = records.to_json(sample().inner)
    assert text == '{"name": "a", "where": "x/y", "pairs": [{"path": "l.a", "whole": true}]}'
    assert list(json.loads(records.to_json(sample(), sort_keys=True))) == sorted(
        ["inner", "items", "maybe", "table", "listed", "schema"]
    )


def test_records_read_old_and_new_data() -> None:
    data = json.loads(records.to_json(sample()))
    del data["schema"], data["listed"]
    data["from_a_newer_apepy"] = 1
    read = records.from_json(Outer, data)
    assert read.schema == 1 and read.listed == ()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("inner"),
        lambda d: d.update(maybe="seven"),
        lambda d: d.update(maybe=True),
        lambda d: d["inner"].update(pairs={"not": "a list"}),
        lambda d: d.update(items=None),
    ],
)
def test_records_refuse_damaged_data(damage: object) -> None:
    data = json.loads(records.to_json(sample()))
    damage(data)  # type: ignore[operator]
    assert not records.readable(Outer, json.dumps(data))
    assert not records.readable(Outer, "{not json")
