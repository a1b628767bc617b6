"""Content digests shared by sources, downloads, caches and manifests."""

from __future__ import annotations

import hashlib
import json
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


def cache_key(data: dict[str, object]) -> str:
    """A short, stable name for a cache entry made from these inputs."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]
