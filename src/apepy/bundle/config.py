"""bundle.json: what a bundled app runs and what went into it."""

from __future__ import annotations

from dataclasses import dataclass

from apepy import records
from apepy.errors import InternalError
from apepy.layout import BUNDLE_KEYS

# Files written before the field read as schema 1: the fields were the same.
CONFIG_SCHEMA = 1


@dataclass(frozen=True)
class Extract:
    """A package unpacked to disk on first start, into a directory named by its digest."""

    prefix: str
    digest: str


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str


@dataclass(frozen=True)
class BundleConfig:
    """What the bundled app runs and what went in. The runtime's _apepy_boot,
    standalone, reads the JSON itself, keyed exactly by layout.BUNDLE_KEYS."""

    name: str
    # {"kind": "function" or "module", "target": ...}; None: the command named by argv[0].
    entry: dict[str, str] | None
    scripts: dict[str, str]
    extract: tuple[Extract, ...]
    distributions: tuple[Distribution, ...]
    schema: int = CONFIG_SCHEMA

    def to_json(self) -> bytes:
        if sorted(records.fields(BundleConfig)) != sorted(BUNDLE_KEYS):
            raise InternalError("BundleConfig's fields are not layout.BUNDLE_KEYS")
        return records.to_json(self, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> BundleConfig:
        return records.from_json(cls, raw)
