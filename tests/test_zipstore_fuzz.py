"""The zip store reader runs on files users hand it: any bytes give an Archive or one ZipStoreError.

CI runs a few hundred cases; `scripts/fuzz-zipstore` runs as many as you ask for.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apepy import zipstore, zipverify

EXAMPLES = int(os.environ.get("APEPY_FUZZ_EXAMPLES", "300"))


def _seed_archive() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "prog"
        exe.write_bytes(b"\x7fELF" + b"\x00" * 60)
        entries = [
            zipstore.Entry("Lib/a.pyc", b"\x00\x01" * 40, compress=False),
            zipstore.Entry("Lib/b.txt", b"hello world " * 20),
            zipstore.Entry(".args", b"-m\nmod\n...\n", compress=False),
        ]
        zipstore.append(exe, zipstore.directory_entries(e.name for e in entries) + entries, epoch=0)
        return exe.read_bytes()


SEED = _seed_archive()


def exercise(data: bytes) -> None:
    """Everything the CLI does with an untrusted file; only ZipStoreError may escape."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data)
        try:
            archive = zipstore.read_archive(path)
        except zipstore.ZipStoreError:
            return
        zipverify.verify(archive)
        for member in archive.members:
            with contextlib.suppress(zipstore.ZipStoreError):
                zipstore.read_data(archive, member)
        try:
            zipstore.rewrite(archive, Path(tmp) / "out", keep=lambda m: not m.name.endswith(".txt"))
        except zipstore.ZipStoreError:
            return
        zipstore.read_archive(Path(tmp) / "out")


mutation = st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=8), st.integers(0, len(SEED)))
def test_mutated_archives(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(SEED)
    for offset, value in flips:
        data[offset] = value
    exercise(bytes(data[: max(cut, len(data) - 200)]))
    exercise(bytes(data))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    exercise(data)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.binary(max_size=64),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(0, 0xFFFFFFFF),
)
def test_forged_end_records(prefix: bytes, count: int, size: int, offset: int) -> None:
    """End records that claim huge counts, sizes or offsets must not hang or allocate wildly."""
    import struct

    record = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, offset, 0)
    exercise(prefix + record)


def test_seed_is_valid() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(SEED)
        archive = zipstore.read_archive(path)
        assert [m.name for m in archive.members][-1] == ".args"
        assert zipverify.verify(archive) == ([], [])
        assert shutil.which("unzip") is None or os.system(f"unzip -tqq {path} >/dev/null") == 0
