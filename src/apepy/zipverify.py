"""`apepy verify`: what in an appended zip breaks Cosmopolitan's zipos or zipimport."""

from __future__ import annotations

import itertools
import zipfile

from apepy import zipindex
from apepy.layout import INDEX_MAGIC
from apepy.zipstore import Archive, ZipStoreError, read_data


def verify(archive: Archive) -> tuple[list[str], list[str]]:
    """Problems (that break zipos or zipimport) and warnings for an archive."""
    problems: list[str] = []
    warnings: list[str] = []
    if archive.relative_by:
        problems.append(
            f"offsets are relative to the archive, not the file (off by {archive.relative_by}); "
            "Cosmopolitan's zipos cannot read it"
        )
    seen: dict[str, int] = {}
    spans = sorted((m.header_offset, m.end, m.name) for m in archive.members)
    for (_, end_a, name_a), (start_b, _, name_b) in itertools.pairwise(spans):
        if start_b < end_a:
            problems.append(f"members {name_a!r} and {name_b!r} overlap")
    with open(archive.path, "rb") as handle:
        data = handle.read()
    for member in archive.members:
        seen[member.name] = seen.get(member.name, 0) + 1
        if member.name.startswith("/") or ".." in member.name.split("/"):
            problems.append(f"member {member.name!r} has an unsafe name")
        if member.flags & 0x08:
            problems.append(f"member {member.name!r} uses a data descriptor")
        if member.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            problems.append(f"member {member.name!r} uses compression method {member.method}")
            continue
        if not member.mode:
            warnings.append(f"member {member.name!r} carries no Unix mode")
        try:
            read_data(archive, member, data)
        except ZipStoreError as exc:
            problems.append(exc.message.split(": ", 1)[-1])
    problems.extend(f"member {name!r} appears {n} times" for name, n in seen.items() if n > 1)
    if archive.comment.startswith(INDEX_MAGIC):
        described = {
            m.name: (m.header_offset, m.end - m.header_offset, m.method) for m in archive.members
        }
        stale = zipindex.stale(
            archive.comment, data, (archive.cd_offset, len(archive.members)), described
        )
        if stale:
            warnings.append(
                f"apepy's import index is out of date ({stale}): the interpreter falls back to "
                "zipimport; any apepy store command (add, rm) rewrites it"
            )
    return problems, warnings
