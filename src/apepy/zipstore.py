"""The ZIP archive appended to an executable: writing it by the rules, and reading it back.

Rules (Cosmopolitan's zipos and zipimport both depend on them): central-directory
offsets are absolute file offsets; no data descriptors; only STORED and DEFLATE;
Unix modes in ``external_attr``; explicit directory entries; fixed timestamps.
"""

from __future__ import annotations

import stat
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy.errors import ApepyError

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
    """Append a new archive holding ``entries`` to ``target``, which must not have one yet.

    zipfile in append mode on a file without an archive writes each header's
    absolute offset, which is what zipos and zipimport need.
    """
    when = date_time(epoch)
    with zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        if archive.namelist():
            raise ApepyError(f"{target} already carries a zip archive")
        for entry in entries:
            archive.writestr(_zipinfo(entry, when), entry.data)


def read_member(path: Path, name: str) -> bytes | None:
    """One member of the zip appended to ``path``, or None if there is no such member."""
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                return archive.read(name)
            except KeyError:
                return None
    except (zipfile.BadZipFile, OSError) as exc:
        raise ApepyError(
            f"{path} has no readable zip archive ({exc})",
            hint="name an executable built by apepy or another file with an appended zip",
        ) from exc
