"""Small, real wheels made on the spot, for bundle tests that must not depend on PyPI."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    directory: Path,
    name: str,
    version: str,
    files: dict[str, bytes],
    *,
    tag: str = "py3-none-any",
    requires: tuple[str, ...] = (),
    tamper: str | None = None,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` with a correct RECORD (or one wrong hash, for ``tamper``)."""
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    contents = dict(files)
    contents[f"{dist_info}/METADATA"] = metadata.encode()
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: apepy-tests\nRoot-Is-Purelib: true\nTag: {tag}\n".encode()
    )
    record_lines = []
    for path, data in contents.items():
        digest = _digest(data if path != tamper else data + b"tampered")
        record_lines.append(f"{path},{digest},{len(data)}")
    record_lines.append(f"{dist_info}/RECORD,,")
    contents[f"{dist_info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    wheel = directory / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in contents.items():
            archive.writestr(path, data)
    return wheel


def make_sdist(directory: Path, stem: str, files: dict[str, str]) -> Path:
    """Write ``{stem}.tar.gz`` whose members sit under ``{stem}/``, as sdists are laid out."""
    import io
    import tarfile

    path = directory / f"{stem}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for rel, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{stem}/{rel}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path
