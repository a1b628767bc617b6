"""Content digests shared by sources, downloads, caches and manifests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_PACKAGE = Path(__file__).parent


def code_digest(paths: tuple[str, ...]) -> str:
    """The digest of apepy's own source files (or directories) that shape a cached result."""
    digest = hashlib.sha256()
    for rel in paths:
        target = _PACKAGE / rel
        files = (
            sorted(f for f in target.rglob("*") if f.is_file() and "__pycache__" not in f.parts)
            if target.is_dir()
            else [target]
        )
        for file in files:
            digest.update(file.relative_to(_PACKAGE).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_key(
    data: Mapping[str, object] | str | bytes, *, length: int = 24, sort_keys: bool = True
) -> str:
    """A short, stable name for a cache entry made from these inputs.

    ``data`` is a JSON-able table of the inputs; text or bytes are hashed as they are
    (for keys that were never made from a table, whose values must not change).
    ``sort_keys=False`` hashes the table in its own order: only for keys first made
    that way, so that their cached entries stay valid.
    """
    if isinstance(data, str):
        raw = data.encode()
    elif isinstance(data, bytes):
        raw = data
    else:
        raw = json.dumps(dict(data), sort_keys=sort_keys).encode()
    return hashlib.sha256(raw).hexdigest()[:length]
