"""`apepy bundle --hot-from FILE`: only the .pyc that a recorded run imported stay stored.

A base stores the .pyc of the stdlib's hot list and a bundle stores every .pyc of
its packages, so that start-up reads them in place without inflating. Most of
them are never imported by a given app: deflated, they take a third of the space,
and cost a few tens of microseconds each only if they are ever imported. The
modules of a recorded run (``APEPY_RECORD_IMPORTS=FILE``) stay stored, so the
run's start-up is what it was.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy import zipstore
from apepy.errors import ApepyError
from apepy.layout import LIB, SITE


@dataclass(frozen=True)
class HotPlan:
    entries: list[zipstore.Entry]  # the bundle's own entries, .pyc stored or not by the list
    deflated_base: list[zipstore.Entry]  # the base's stored .pyc that the run did not import
    stored: int  # .pyc left stored
    deflated: int  # stored .pyc now deflated


def module_of(name: str) -> str | None:
    """The module whose code the member ``name`` holds, or None if it is no .pyc."""
    if not name.startswith(LIB) or not name.endswith(".pyc"):
        return None
    rel = name[len(SITE) :] if name.startswith(SITE) else name[len(LIB) :]
    return rel[: -len(".pyc")].replace("/", ".").removesuffix(".__init__")


def plan(
    hot: frozenset[str],
    entries: Iterable[zipstore.Entry],
    archive: zipstore.Archive,
    dropped: set[str],
    source: Path,
) -> HotPlan:
    """Store the .pyc of the ``hot`` modules, deflate every other: the bundle's own
    entries are re-marked, the base's stored .pyc are read and deflated."""
    own: list[zipstore.Entry] = []
    new_names = set()
    stored = deflated = 0
    for entry in entries:
        new_names.add(entry.name)
        module = module_of(entry.name)
        if module is None:
            own.append(entry)
            continue
        stored += module in hot
        deflated += module not in hot and not entry.compress
        own.append(
            zipstore.Entry(entry.name, entry.data, compress=module not in hot, mode=entry.mode)
        )
    data = archive.path.read_bytes()
    from_base = []
    for member in archive.members:
        module = module_of(member.name)
        if (
            module is None
            or member.method != zipfile.ZIP_STORED
            or member.name in new_names
            or member.name in dropped
        ):
            continue
        if module in hot:
            stored += 1
            continue
        content = zipstore.read_data(archive, member, data)
        from_base.append(zipstore.Entry(member.name, content, compress=True, mode=member.mode))
    if not stored:
        # A list from another app, or not a recorded run at all: deflating everything
        # would slow the start-up it was meant to keep.
        raise ApepyError(
            f"--hot-from {source} names none of the modules in this bundle",
            hint="record this app's imports: run the bundle once with APEPY_RECORD_IMPORTS=FILE "
            "(doing what it usually does), then bundle again with --hot-from FILE",
        )
    return HotPlan(own, from_base, stored, deflated + len(from_base))
