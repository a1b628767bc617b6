"""The archive appended to an executable, checked byte by byte."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

from apepy import zipstore


def test_append_writes_absolute_offsets_and_explicit_dirs(tmp_path: Path) -> None:
    exe = tmp_path / "prog"
    shutil.copy("/bin/true", exe)
    head = exe.read_bytes()
    entries = [
        zipstore.Entry("Lib/pkg/ns/mod.pyc", b"\x00" * 10, compress=False),
        zipstore.Entry("Lib/data.txt", b"hello " * 100),
    ]
    zipstore.append(
        exe, zipstore.directory_entries(e.name for e in entries) + entries, epoch=1_700_000_000
    )

    data = exe.read_bytes()
    assert data.startswith(head)  # the program itself is untouched
    assert subprocess.run([str(exe)]).returncode == 0  # and still runs
    with zipfile.ZipFile(exe) as archive:
        names = archive.namelist()
        assert names == ["Lib/", "Lib/pkg/", "Lib/pkg/ns/", "Lib/pkg/ns/mod.pyc", "Lib/data.txt"]
        assert archive.read("Lib/data.txt") == b"hello " * 100
        for info in archive.infolist():
            # Absolute: the local header sits at the recorded offset of the whole file.
            assert data[info.header_offset : info.header_offset + 4] == b"PK\x03\x04"
            assert info.header_offset >= len(head)
            assert info.flag_bits & 0x08 == 0
            assert info.date_time == (2023, 11, 14, 22, 13, 20)
        mod = archive.getinfo("Lib/pkg/ns/mod.pyc")
        assert mod.compress_type == zipfile.ZIP_STORED and mod.external_attr >> 16 == 0o100644
        assert archive.getinfo("Lib/pkg/").external_attr >> 16 == 0o040755
    # End of central directory: offset of the central directory is absolute too.
    eocd = data.rindex(b"PK\x05\x06")
    cd_offset = struct.unpack("<I", data[eocd + 16 : eocd + 20])[0]
    assert data[cd_offset : cd_offset + 4] == b"PK\x01\x02"


def test_same_input_same_bytes(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        exe = tmp_path / name
        shutil.copy("/bin/true", exe)
        zipstore.append(exe, [zipstore.Entry("x.txt", b"same")], epoch=0)
        outputs.append(exe.read_bytes())
    assert outputs[0] == outputs[1]
