"""CPython source handling: the pinned table, local tarballs, downloads and their checks."""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_apepy, serve_directory

from apepy import sources
from apepy.errors import ApepyError


def fake_tarball(path: Path, version: str, *, extra: dict[str, bytes] | None = None) -> Path:
    """A small tarball shaped like a CPython release (only what version detection reads)."""
    members = {
        f"Python-{version}/Include/patchlevel.h": f'#define PY_VERSION "{version}"\n'.encode()
    }
    members.update(extra or {})
    with tarfile.open(path, "w:xz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


def incompressible(size: int) -> bytes:
    """Bytes xz cannot shrink: a cut through a tarball that holds them is a cut through its data."""
    return random.Random(size).randbytes(size)


@contextlib.contextmanager
def serve_release(tmp_path: Path, release: sources.Release, data: bytes) -> Iterator[str]:
    """A local mirror laid out like python.org's, serving ``data`` as the release tarball."""
    mirror = tmp_path / "mirror" / release.version
    mirror.mkdir(parents=True)
    (mirror / release.filename).write_bytes(data)
    with serve_directory(tmp_path / "mirror") as url:
        yield url


def test_resolve_series_and_exact_versions() -> None:
    assert sources.resolve(None).version == sources.newest("3.13").version
    assert sources.resolve("3.13").version == "3.13.15"
    assert sources.resolve("3.11.2").filename == "Python-3.11.2.tgz"


@pytest.mark.parametrize("spec", ["3", "three", "3.13.99", "2.7", "3.13.15rc1", "3.10"])
def test_unsupported_versions_are_refused(spec: str) -> None:
    with pytest.raises(ApepyError) as info:
        sources.resolve(spec)
    assert info.value.hint


def test_local_tarball_is_verified_and_cached(
    isolated_cache: Path, source_tarball: Path, release: sources.Release
) -> None:
    found = sources.obtain(None, source_tarball)
    assert (found.version, found.sha256, found.pinned) == (release.version, release.sha256, True)
    assert (
        isolated_cache / "sources" / release.filename
    ).read_bytes() == source_tarball.read_bytes()
    # Now the cache alone serves it, offline.
    again = sources.obtain(release.version, offline=True)
    assert again.path == isolated_cache / "sources" / release.filename


def test_source_directory_is_searched(
    isolated_cache: Path, source_tarball: Path, release: sources.Release, tmp_path: Path
) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    shutil.copy(source_tarball, shelf / release.filename)
    found = sources.obtain(release.version, shelf, offline=True)
    assert found.path == shelf / release.filename


def test_checksum_mismatch_is_refused(isolated_cache: Path, tmp_path: Path) -> None:
    bad = fake_tarball(tmp_path / "Python-3.13.15.tar.xz", "3.13.15")
    with pytest.raises(ApepyError, match="checksum mismatch"):
        sources.obtain(None, bad)
    assert not (isolated_cache / "sources" / "Python-3.13.15.tar.xz").exists()


def test_truncated_and_non_tarball_sources(isolated_cache: Path, tmp_path: Path) -> None:
    whole = fake_tarball(
        tmp_path / "whole.tar.xz", "3.13.99", extra={"Python-3.13.99/x": incompressible(400_000)}
    )
    truncated = tmp_path / "cut.tar.xz"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ApepyError, match=r"not a readable tarball|truncated"):
        sources.obtain(None, truncated)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ApepyError, match="not a readable tarball"):
        sources.obtain(None, text)


def test_version_must_agree_with_python_flag(isolated_cache: Path, tmp_path: Path) -> None:
    release = sources.newest(sources.DEFAULT_SERIES)
    tarball = fake_tarball(tmp_path / release.filename, release.version)
    with pytest.raises(ApepyError, match=r"--python asks for 3\.12"):
        sources.obtain("3.12", tarball)


def test_unpinned_tarball_needs_explicit_flag(isolated_cache: Path, tmp_path: Path) -> None:
    other = fake_tarball(tmp_path / "Python-3.13.99.tar.xz", "3.13.99")
    with pytest.raises(ApepyError, match="not in apepy's pinned table") as info:
        sources.obtain(None, other)
    assert "--allow-unpinned-source" in (info.value.hint or "")
    allowed = sources.obtain(None, other, allow_unpinned=True)
    assert (allowed.version, allowed.pinned) == ("3.13.99", False)


def test_unsafe_members_are_not_extracted(isolated_cache: Path, tmp_path: Path) -> None:
    evil = fake_tarball(tmp_path / "evil.tar.xz", "3.13.99", extra={"../escape.txt": b"x"})
    source = sources.obtain(None, evil, allow_unpinned=True)
    dest = tmp_path / "unpack"
    dest.mkdir()
    with pytest.raises(ApepyError, match="refusing to unpack"):
        sources.extract(source, dest)
    assert not (tmp_path / "escape.txt").exists()


def test_download_verifies_and_caches(
    isolated_cache: Path,
    source_tarball: Path,
    release: sources.Release,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with serve_release(tmp_path, release, source_tarball.read_bytes()) as url:
        monkeypatch.setenv("APEPY_PYTHON_MIRROR", url)
        found = sources.obtain(release.version)
    assert found.path == isolated_cache / "sources" / release.filename
    assert sources.sha256_of(found.path) == release.sha256


def test_tampered_download_is_refused_and_not_kept(
    isolated_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = sources.newest(sources.DEFAULT_SERIES)
    data = bytearray(fake_tarball(tmp_path / "fake.tar.xz", release.version).read_bytes())
    data[len(data) // 2] ^= 0xFF
    with serve_release(tmp_path, release, bytes(data)) as url:
        monkeypatch.setenv("APEPY_PYTHON_MIRROR", url)
        with pytest.raises(ApepyError, match="checksum mismatch"):
            sources.obtain(release.version)
    assert list((isolated_cache / "sources").iterdir()) == []


def test_offline_with_nothing_local_says_what_to_pass(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A mirror that refuses connections stands for a machine without internet.
    monkeypatch.setenv("APEPY_PYTHON_MIRROR", "http://127.0.0.1:9")
    result = run_apepy("build", "--python", "3.13", "-o", isolated_cache.parent / "python")
    assert result.returncode == 1
    assert "cannot download CPython 3.13.15 source" in result.stderr
    assert "--source Python-3.13.15.tar.xz" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (isolated_cache.parent / "python").exists()
