"""The index of an apepy executable's zip that its importer reads: written, and checked.

It maps each member to (local header offset, header + data length, method), and is
found through the archive comment (``layout.INDEX_MAGIC``, then its offset and
length); ``zipstore.rewrite`` writes it as the last member of apepy's own files.
"""

from __future__ import annotations

import marshal
import struct

from apepy.layout import INDEX_ARCNAME, INDEX_MAGIC


def write(
    spans: dict[str, tuple[int, int, int]], header_offset: int, count: int
) -> tuple[bytes, bytes]:
    """The importer's index, written as the last member, and the comment that finds it.

    It maps each member to (local header offset, header + data length, method) and
    records where the central directory will start, so the importer can tell an
    index that no longer matches the archive. Everything is in insertion order so
    the bytes are reproducible.
    """
    dirs: dict[str, None] = {}
    for name in spans:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            dirs["/".join(parts[:depth]) + "/"] = None
    name_len = len(INDEX_ARCNAME.encode())
    cd_offset = 0
    payload = b""
    # The index holds the offset of the central directory, which follows the index
    # itself: iterate until the length stops moving (marshal ints vary in size).
    for _ in range(4):
        payload = marshal.dumps({"cd": (cd_offset, count), "members": spans, "dirs": dirs}, 4)
        new_cd = header_offset + 30 + name_len + len(payload)
        if new_cd == cd_offset:
            break
        cd_offset = new_cd
    data_offset = header_offset + 30 + name_len
    comment = INDEX_MAGIC + struct.pack("<QQ", data_offset, len(payload))
    return payload, comment


def stale(
    comment: bytes, data: bytes, cd: tuple[int, int], spans: dict[str, tuple[int, int, int]]
) -> str | None:
    """Why the index the archive ``comment`` finds in ``data`` does not describe the
    archive (its central directory's offset and count, each member's span as ``write``
    takes them), or None if it does."""
    try:
        offset, length = struct.unpack_from("<QQ", comment, len(INDEX_MAGIC))
        index = marshal.loads(data[offset : offset + length])
        if index["cd"] != cd:
            return "the central directory moved"
        for name, span in index["members"].items():
            if spans.get(name) != tuple(span):
                return f"member {name!r} differs"
    except (ValueError, KeyError, TypeError, EOFError, struct.error):
        return "it does not parse"
    return None
