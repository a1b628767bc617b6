"""The ZIP archive appended to an executable: writing it by the rules, and reading it back.

Rules (Cosmopolitan's zipos and zipimport both depend on them): central-directory
offsets are absolute file offsets; no data descriptors; only STORED and DEFLATE;
Unix modes in ``external_attr``; explicit directory entries; fixed timestamps.
"""

from __future__ import annotations

import os
import stat
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy import zipindex
from apepy.errors import ApepyError
from apepy.layout import INDEX_ARCNAME, INDEX_MAGIC, MANIFEST_ARCNAME

DOS_EPOCH = 315532800  # 1980-01-01 00:00:00 UTC, the earliest time a zip can hold


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes = b""
    compress: bool = True
    mode: int = 0o644

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")


def directory_entries(names: Iterable[str]) -> list[Entry]:
    """An explicit entry for every directory that holds a member (namespace packages need them)."""
    dirs: set[str] = set()
    for name in names:
        parts = name.rstrip("/").split("/")
        limit = len(parts) if name.endswith("/") else len(parts) - 1
        for i in range(1, limit + 1):
            dirs.add("/".join(parts[:i]) + "/")
    return [Entry(d, mode=0o755) for d in sorted(dirs)]


def date_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    stamp = time.gmtime(max(epoch, DOS_EPOCH))
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)


def _zipinfo(entry: Entry, when: tuple[int, int, int, int, int, int]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(entry.name, when)
    info.create_system = 3  # Unix, so that external_attr carries a mode
    if entry.is_dir:
        info.external_attr = ((stat.S_IFDIR | entry.mode) << 16) | 0x10
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.external_attr = (stat.S_IFREG | entry.mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED if entry.compress else zipfile.ZIP_STORED
    return info


def append(target: Path, entries: Iterable[Entry], epoch: int) -> None:
    """Append a new archive holding ``entries`` to ``target``, which must not have one yet."""
    size = target.stat().st_size
    empty = Archive(target, size, size, size, 0, size, b"", 0, ())
    tmp = target.with_name(target.name + ".zip-tmp")
    try:
        rewrite(empty, tmp, add=entries, epoch=epoch)
        os.chmod(tmp, target.stat().st_mode)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def read_member(path: Path, name: str) -> bytes | None:
    """One member of the zip appended to ``path``, or None if there is no such member."""
    archive = read_archive(path)
    member = archive.get(name)
    return None if member is None else read_data(archive, member)


# ---------------------------------------------------------------------------
# Reading an archive appended to any file, strictly: the code below runs on files
# users hand us, so every offset and size is checked before it is used.

_EOCD = struct.Struct("<4s4H2LH")
_CDH = struct.Struct("<4s6H3L5H2L")
_LFH = struct.Struct("<4s5H3L2H")
_MAX_COMMENT = 0xFFFF


class ZipStoreError(ApepyError):
    """The file's appended archive is missing, truncated or malformed."""


_NAME_ONE = "name an existing executable with an appended zip, such as one apepy built"


@dataclass(frozen=True)
class Member:
    name: str
    header_offset: int  # absolute offset of the local header
    data_offset: int  # absolute offset of the (compressed) data
    compressed_size: int
    size: int
    crc: int
    method: int
    flags: int
    mode: int
    date_time: tuple[int, int, int, int, int, int]
    central_record: bytes  # the raw central-directory record, offset field included

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def end(self) -> int:
        return self.data_offset + self.compressed_size


@dataclass(frozen=True)
class Archive:
    path: Path
    size: int
    start: int  # first byte of the archive: everything before it is the program
    cd_offset: int
    cd_size: int
    eocd_offset: int
    comment: bytes
    relative_by: int  # >0 when offsets were written relative to the archive (cat exe a.zip)
    members: tuple[Member, ...]

    def get(self, name: str) -> Member | None:
        for member in self.members:
            if member.name == name:
                return member
        return None


def _fail(path: Path, why: str) -> ZipStoreError:
    return ZipStoreError(
        f"{path}: {why}",
        hint="the file is truncated or its appended zip is damaged; rebuild it or restore a copy",
    )


def _dos_time(date: int, time_: int) -> tuple[int, int, int, int, int, int]:
    return (
        (date >> 9) + 1980,
        (date >> 5) & 0xF,
        date & 0x1F,
        time_ >> 11,
        (time_ >> 5) & 0x3F,
        (time_ & 0x1F) * 2,
    )


def read_archive(path: Path) -> Archive:
    """Parse the zip appended to ``path``; raise ZipStoreError naming what is wrong."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise ZipStoreError(f"{path} is a directory", hint=_NAME_ONE) from None
    except FileNotFoundError:
        raise ZipStoreError(f"{path} does not exist", hint=_NAME_ONE) from None
    except OSError as exc:
        raise ZipStoreError(f"cannot read {path}: {exc.strerror}", hint=_NAME_ONE) from exc
    return parse_archive(path, data)


def parse_archive(path: Path, data: bytes) -> Archive:
    size = len(data)
    tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
    eocd = data.rfind(b"PK\x05\x06", tail_start)
    while eocd >= 0 and eocd + _EOCD.size > size:
        eocd = data.rfind(b"PK\x05\x06", tail_start, eocd)
    if eocd < 0:
        raise ZipStoreError(
            f"{path} has no zip archive at its end",
            hint="name an executable built by apepy (or another file with an appended zip); "
            "a file cut short loses its archive's end record",
        )
    _, disk, cd_disk, count_disk, count, cd_size, cd_offset, comment_len = _EOCD.unpack_from(
        data, eocd
    )
    if disk != 0 or cd_disk != 0 or count_disk != count:
        raise _fail(path, "multi-disk archives are not supported")
    if count == 0xFFFF or cd_size == 0xFFFFFFFF or cd_offset == 0xFFFFFFFF:
        raise _fail(path, "ZIP64 archives are not supported")
    comment = data[eocd + _EOCD.size : eocd + _EOCD.size + comment_len]
    cd_start = eocd - cd_size
    if cd_start < 0:
        raise _fail(path, "the central directory is larger than the file")
    relative_by = cd_start - cd_offset
    if relative_by < 0:
        raise _fail(path, "the central directory lies beyond the end of the file (truncated?)")

    members: list[Member] = []
    pos = cd_start
    for _ in range(count):
        if pos + _CDH.size > eocd:
            raise _fail(path, "the central directory is cut short")
        fields = _CDH.unpack_from(data, pos)
        if fields[0] != b"PK\x01\x02":
            raise _fail(path, f"bad central directory record at offset {pos}")
        (
            _,
            made_by,
            _,
            flags,
            method,
            mtime,
            mdate,
            crc,
            csize,
            usize,
            nlen,
            xlen,
            clen,
            _,
            _,
            eattr,
            lho,
        ) = fields
        record_end = pos + _CDH.size + nlen + xlen + clen
        if record_end > eocd:
            raise _fail(path, "a central directory record runs past its end")
        raw_name = data[pos + _CDH.size : pos + _CDH.size + nlen]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        header = lho + relative_by
        if header + _LFH.size > cd_start:
            raise _fail(path, f"member {name!r} has its header outside the archive")
        local = _LFH.unpack_from(data, header)
        if local[0] != b"PK\x03\x04":
            raise _fail(path, f"member {name!r} has no local header at offset {header}")
        data_offset = header + _LFH.size + local[9] + local[10]
        if data_offset + csize > cd_start:
            raise _fail(path, f"member {name!r} extends past the start of the central directory")
        unix_mode = (eattr >> 16) if (made_by >> 8) == 3 else 0
        members.append(
            Member(
                name=name,
                header_offset=header,
                data_offset=data_offset,
                compressed_size=csize,
                size=usize,
                crc=crc,
                method=method,
                flags=flags,
                mode=unix_mode,
                date_time=_dos_time(mdate, mtime),
                central_record=data[pos:record_end],
            )
        )
        pos = record_end
    start = min((m.header_offset for m in members), default=cd_start)
    return Archive(path, size, start, cd_start, cd_size, eocd, comment, relative_by, tuple(members))


def read_data(archive: Archive, member: Member, data: bytes | None = None) -> bytes:
    """The uncompressed content of ``member``; checks size and CRC."""
    if data is None:
        with open(archive.path, "rb") as handle:
            handle.seek(member.data_offset)
            raw = handle.read(member.compressed_size)
    else:
        raw = data[member.data_offset : member.end]
    if member.method == zipfile.ZIP_STORED:
        content = raw
    elif member.method == zipfile.ZIP_DEFLATED:
        try:
            inflater = zlib.decompressobj(-15)
            content = inflater.decompress(raw, member.size + 1)
        except zlib.error as exc:
            raise _fail(archive.path, f"member {member.name!r} does not inflate ({exc})") from exc
    else:
        raise _fail(archive.path, f"member {member.name!r} uses compression method {member.method}")
    if len(content) != member.size:
        raise _fail(
            archive.path, f"member {member.name!r} has {len(content)} bytes, not {member.size}"
        )
    if zlib.crc32(content) != member.crc:
        raise _fail(archive.path, f"member {member.name!r} fails its CRC check")
    return content


def rewrite(
    archive: Archive,
    dest: Path,
    *,
    keep: Callable[[Member], bool] = lambda m: True,
    add: Iterable[Entry] = (),
    epoch: int | None = None,
) -> None:
    """Write the program, the kept members (byte for byte) and ``add`` to ``dest``.

    Kept members are copied raw, so nothing is recompressed; removed ones leave no
    gap (the file is compacted). Offsets are absolute in the result.
    """
    with open(archive.path, "rb") as handle:
        data = handle.read()
    new_entries = [e for e in add if e.name != INDEX_ARCNAME]
    names = [m.name for m in archive.members if keep(m)] + [e.name for e in new_entries]
    # apepy's own executables carry an index for their importer; other files are
    # left as they were (apart from what the user asked to change).
    indexed = MANIFEST_ARCNAME in names
    when = date_time(epoch if epoch is not None else _epoch_from_env())
    spans: dict[str, tuple[int, int, int]] = {}
    comment = b""
    with open(dest, "wb") as out:
        out.write(data[: archive.start])
        records: list[bytes] = []
        for member in archive.members:
            if not keep(member) or member.name == INDEX_ARCNAME:
                continue
            offset = out.tell()
            out.write(data[member.header_offset : member.end])
            spans[member.name] = (offset, member.end - member.header_offset, member.method)
            patched = bytearray(member.central_record)
            struct.pack_into("<L", patched, 42, offset)
            records.append(bytes(patched))
        if indexed:
            new_entries.append(Entry(INDEX_ARCNAME, b"", compress=False))
        for entry in new_entries:
            if entry.name == INDEX_ARCNAME:
                payload, comment = zipindex.write(spans, out.tell(), len(records) + 1)
                entry = Entry(INDEX_ARCNAME, payload, compress=False)
            info = _zipinfo(entry, when)
            payload = entry.data
            body = payload
            if info.compress_type == zipfile.ZIP_DEFLATED:
                compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                body = compressor.compress(payload) + compressor.flush()
            info.CRC = zlib.crc32(payload)
            info.compress_size = len(body)
            info.file_size = len(payload)
            offset = out.tell()
            info.header_offset = offset
            header = info.FileHeader()
            out.write(header)
            out.write(body)
            spans[entry.name] = (offset, len(header) + len(body), info.compress_type)
            records.append(_central_record(info))
        cd_offset = out.tell()
        if indexed:
            final_comment = comment
        else:
            final_comment = b"" if archive.comment.startswith(INDEX_MAGIC) else archive.comment
        for record in records:
            out.write(record)
        cd_size = out.tell() - cd_offset
        if len(records) >= 0xFFFF or cd_offset >= 0xFFFFFFFF:
            raise ZipStoreError(
                f"{dest}: the archive would need ZIP64, which apepy does not write",
                hint="store fewer than 65,535 members and under 4 GiB (prune, or --exclude)",
            )
        out.write(
            _EOCD.pack(
                b"PK\x05\x06",
                0,
                0,
                len(records),
                len(records),
                cd_size,
                cd_offset,
                len(final_comment),
            )
        )
        out.write(final_comment)


def _central_record(info: zipfile.ZipInfo) -> bytes:
    name = info.filename.encode("utf-8")
    flags = 0x800 if not info.filename.isascii() else 0
    dt = info.date_time
    dos_date = (dt[0] - 1980) << 9 | dt[1] << 5 | dt[2]
    dos_time = dt[3] << 11 | dt[4] << 5 | (dt[5] // 2)
    return (
        _CDH.pack(
            b"PK\x01\x02",
            (3 << 8) | 20,
            20,
            flags,
            info.compress_type,
            dos_time,
            dos_date,
            info.CRC,
            info.compress_size,
            info.file_size,
            len(name),
            0,
            0,
            0,
            0,
            info.external_attr,
            info.header_offset,
        )
        + name
    )


def _epoch_from_env() -> int:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    return int(value) if value.isdigit() else DOS_EPOCH


def check_member_name(name: str) -> str:
    """Refuse names that would escape an extraction directory or confuse zipimport."""
    clean = name.replace("\\", "/")
    parts = clean.split("/")
    if (
        not clean
        or clean.startswith("/")
        or ".." in parts
        or (len(parts[0]) == 2 and parts[0][1] == ":")
    ):
        raise ApepyError(
            f"refusing member name {name!r}: absolute or with '..'",
            hint="member names are relative paths inside the archive, e.g. Lib/site-packages/mod.py",
        )
    return clean
