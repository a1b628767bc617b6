"""The record an apepy executable carries in its zip: what it is and how it was made."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from apepy import records, zipstore
from apepy.errors import ApepyError
from apepy.layout import MANIFEST_ARCNAME

# 2: what schema 1 kept in an untyped "extras" table are fields of their own.
# 3: runtime_dependencies.
# 4: optimization.
SCHEMA = 4


@dataclass(frozen=True)
class CompiledIn:
    """A third-party package compiled into the interpreter (apepy build --with)."""

    name: str
    version: str
    sdist_sha256: str
    modules: tuple[str, ...]


@dataclass(frozen=True)
class RuntimeDependency:
    """A pure-Python distribution in the base's site-packages that a compiled-in package
    needs at run time (pandas: python-dateutil): the wheel pip chose, as downloaded."""

    name: str
    version: str
    wheel: str
    sha256: str
    # The compiled-in packages that require it directly (none: through another one).
    required_by: tuple[str, ...]


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
    # Built with --minimal.
    minimal: bool = False
    # Optional modules built without, for want of a library: module -> why.
    left_out: dict[str, str] = field(default_factory=dict)
    distributions: tuple[CompiledIn, ...] = ()
    runtime_dependencies: tuple[RuntimeDependency, ...] = ()
    # --optimize: "PGO (apepy's training task) + LTO"; "" for the default build.
    optimization: str = ""

    def to_json(self) -> bytes:
        return (records.to_json(self, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """The manifest ``raw`` holds: one of this schema exactly (an unknown or missing
        key is a ValueError), or an older one, whose fields it had are read."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise TypeError(f"a manifest is a JSON object, not {type(data).__name__}")
        schema = data.get("schema", 1)
        if schema == SCHEMA:
            return records.from_json(cls, data, strict=True)
        if not isinstance(schema, int) or schema > SCHEMA:
            raise ValueError(f"schema {schema!r}: made by a newer apepy than this one")
        extras = data.pop("extras", {})
        if not isinstance(extras, dict):
            raise TypeError("schema 1's extras is not a table")
        older = {k: extras[k] for k in ("minimal", "left_out", "distributions") if k in extras}
        return records.from_json(cls, {**data, **older, "schema": schema})


def read(path: Path) -> Manifest | None:
    raw = zipstore.read_member(path, MANIFEST_ARCNAME)
    if raw is None:
        return None
    try:
        return Manifest.from_json(raw)
    except (ValueError, TypeError) as exc:
        raise ApepyError(
            f"{path} carries an apepy manifest this apepy cannot read ({exc})",
            hint="rebuild the file with this apepy's build / bundle, or read it with the "
            "apepy that made it",
        ) from exc
