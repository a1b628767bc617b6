"""The record an apepy executable carries in its zip: what it is and how it was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from apepy import records, zipstore
from apepy.errors import ApepyError
from apepy.layout import MANIFEST_ARCNAME

SCHEMA = 1


@dataclass(frozen=True)
class Manifest:
    apepy_version: str
    python_version: str
    toolchain: str
    compiler: str
    target: str
    output_kind: str
    source_sha256: str
    source_pinned: bool
    builtin_modules: tuple[str, ...]
    excluded_modules: tuple[str, ...]
    patches: tuple[str, ...]
    ca_bundle: str
    build_date: str
    source_date_epoch: int
    build_key: str
    schema: int = SCHEMA
    extras: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return (records.to_json(self, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        return records.from_json(cls, raw)


def read(path: Path) -> Manifest | None:
    raw = zipstore.read_member(path, MANIFEST_ARCNAME)
    if raw is None:
        return None
    try:
        return Manifest.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise ApepyError(
            f"{path} carries a damaged apepy manifest ({exc})",
            hint="rebuild the file with apepy build / apepy bundle",
        ) from exc
