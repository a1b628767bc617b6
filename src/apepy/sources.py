"""CPython source tarballs: the pinned table, lookup, download, verification, extraction."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy import download
from apepy.cache import cache_dir
from apepy.errors import ApepyError
from apepy.hashing import sha256_file as sha256_of

# Upstream's release files. Each sha256 was checked against an independent record
# of the same python.org file (Debian's .dsc or Docker's official images);
# `tested` is True only where apepy's own test suite builds that release.
URL_TEMPLATE = "https://www.python.org/ftp/python/{version}/{filename}"
MIRROR_ENV = "APEPY_PYTHON_MIRROR"
SOURCE_DIR_ENV = "APEPY_SOURCE_DIR"


@dataclass(frozen=True)
class Release:
    version: str
    filename: str
    sha256: str
    tested: bool

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def url(self) -> str:
        base = os.environ.get(MIRROR_ENV)
        if base:
            return f"{base.rstrip('/')}/{self.version}/{self.filename}"
        return URL_TEMPLATE.format(version=self.version, filename=self.filename)


RELEASES: tuple[Release, ...] = (
    Release(
        "3.13.15",
        "Python-3.13.15.tar.xz",
        "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76",
        tested=True,
    ),
    Release(
        "3.13.5",
        "Python-3.13.5.tar.xz",
        "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640",
        tested=False,
    ),
    Release(
        "3.14.6",
        "Python-3.14.6.tar.xz",
        "143b1dddefaec3bd2e21e3b839b34a2b7fb9842272883c576420d605e9f30c63",
        tested=False,
    ),
    Release(
        "3.12.14",
        "Python-3.12.14.tar.xz",
        "5c8462af5790baf43a321a1559dbe0db06d1be4300fb85fb53c40060668e548a",
        tested=False,
    ),
    Release(
        "3.11.2",
        "Python-3.11.2.tgz",
        "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849",
        tested=True,
    ),
)

DEFAULT_SERIES = "3.13"
SUPPORTED_SERIES = ("3.11", "3.12", "3.13", "3.14")

_VERSION_RE = re.compile(r"^3\.(\d+)(?:\.(\d+))?$")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def pinned(version: str) -> Release | None:
    for release in RELEASES:
        if release.version == version:
            return release
    return None


def resolve(spec: str | None) -> Release:
    """Turn ``3.13`` or ``3.13.15`` into a pinned release."""
    spec = (spec or DEFAULT_SERIES).strip()
    match = _VERSION_RE.match(spec)
    if not match:
        raise ApepyError(
            f"unsupported Python version {spec!r}",
            hint=f"use a series such as {DEFAULT_SERIES} or an exact version such as "
            f"{newest(DEFAULT_SERIES).version}; pinned: {', '.join(r.version for r in RELEASES)}",
        )
    if match.group(2) is None:
        if spec not in SUPPORTED_SERIES:
            raise ApepyError(
                f"Python {spec} is not supported",
                hint=f"supported series: {', '.join(SUPPORTED_SERIES)}",
            )
        return newest(spec)
    release = pinned(spec)
    if release is None:
        raise ApepyError(
            f"Python {spec} is not in apepy's pinned table",
            hint="pinned versions: "
            + ", ".join(r.version for r in RELEASES)
            + "; for another version pass its tarball with --source FILE --allow-unpinned-source",
        )
    return release


def newest(series: str) -> Release:
    candidates = [r for r in RELEASES if r.series == series]
    if not candidates:
        raise ApepyError(f"no pinned release for Python {series}")
    return max(candidates, key=lambda r: _version_key(r.version))


@dataclass(frozen=True)
class Source:
    """A verified (or explicitly allowed) tarball and what it contains."""

    path: Path
    version: str
    sha256: str
    pinned: bool


def version_in_tarball(path: Path) -> str:
    """Read the version from the tarball's top directory and ``Include/patchlevel.h``."""
    try:
        with tarfile.open(path) as tar:
            member = tar.next()
            if member is None:
                raise ApepyError(f"{path} is an empty tar archive", hint=_SOURCE_HINT)
            top = member.name.split("/")[0]
            patchlevel = tar.extractfile(f"{top}/Include/patchlevel.h")
            if patchlevel is None:
                raise KeyError(top)
            text = patchlevel.read().decode("utf-8", "replace")
    except KeyError as exc:
        raise ApepyError(
            f"{path} does not look like a CPython source tarball (no Include/patchlevel.h)",
            hint=_SOURCE_HINT,
        ) from exc
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ApepyError(
            f"{path} is not a readable tarball ({exc})",
            hint="the file is truncated or not a .tar.xz/.tgz; download it again",
        ) from exc
    found = re.search(r'#define\s+PY_VERSION\s+"([^"]+)"', text)
    if not found:
        raise ApepyError(f"no PY_VERSION in {path}'s Include/patchlevel.h", hint=_SOURCE_HINT)
    return found.group(1)


_SOURCE_HINT = (
    "pass a CPython release tarball (Python-X.Y.Z.tar.xz or .tgz from python.org), "
    "or a directory that holds one"
)


def _candidates(directory: Path, release: Release) -> Iterable[Path]:
    stem = f"Python-{release.version}"
    for suffix in (".tar.xz", ".tgz", ".tar.gz"):
        yield directory / f"{stem}{suffix}"


def _find_in_dirs(release: Release, dirs: Iterable[Path]) -> Path | None:
    for directory in dirs:
        for candidate in _candidates(directory, release):
            if candidate.is_file() and sha256_of(candidate) == release.sha256:
                return candidate
    return None


def source_cache() -> Path:
    return cache_dir("sources")


def obtain(
    spec: str | None,
    source: Path | None = None,
    *,
    allow_unpinned: bool = False,
    offline: bool = False,
) -> Source:
    """Find, download or accept the CPython tarball for a build.

    ``source`` is a tarball or a directory of tarballs. Without it, the cache and
    ``$APEPY_SOURCE_DIR`` are searched, then python.org (or ``$APEPY_PYTHON_MIRROR``).
    """
    if source is None and os.environ.get(SOURCE_DIR_ENV):
        source = Path(os.environ[SOURCE_DIR_ENV])
    if source is not None and source.is_file():
        return _accept_file(source, spec, allow_unpinned=allow_unpinned)
    if source is not None and not source.exists():
        raise ApepyError(f"source {source} does not exist", hint=_SOURCE_HINT)

    release = resolve(spec)
    dirs = [source_cache()]
    if source is not None:
        dirs.insert(0, source)
    found = _find_in_dirs(release, dirs)
    if found is not None:
        return Source(found, release.version, release.sha256, pinned=True)

    target = source_cache() / release.filename
    if offline:
        raise _offline_error(release, target)
    try:
        download.fetch(release.url, target, release.sha256)
    except download.NetworkError as exc:
        raise _offline_error(release, target, reason=str(exc)) from exc
    return Source(target, release.version, release.sha256, pinned=True)


def _offline_error(release: Release, target: Path, reason: str | None = None) -> ApepyError:
    cause = f" ({reason})" if reason else ""
    return ApepyError(
        f"cannot download CPython {release.version} source{cause}",
        hint=f"on a machine without internet, pass the tarball: --source {release.filename} "
        f"(or a directory holding it), or drop it into {target.parent}; "
        f"its sha256 must be {release.sha256}",
    )


def _accept_file(path: Path, spec: str | None, *, allow_unpinned: bool) -> Source:
    version = version_in_tarball(path)
    if spec is not None:
        wanted = spec.strip()
        if version != wanted and not version.startswith(wanted + "."):
            raise ApepyError(
                f"--source {path.name} holds CPython {version}, but --python asks for {wanted}",
                hint="drop --python to use the tarball's version, or pass the matching tarball",
            )
    digest = sha256_of(path)
    release = pinned(version)
    if release is not None and release.sha256 == digest:
        cached = source_cache() / release.filename
        if not cached.exists():
            _copy_into_cache(path, cached)
        return Source(path, version, digest, pinned=True)
    if release is not None:
        raise ApepyError(
            f"checksum mismatch for {path}: sha256 {digest}, pinned {release.sha256}",
            hint="the file is corrupt or was tampered with; download it again from python.org",
        )
    if not allow_unpinned:
        raise ApepyError(
            f"CPython {version} from {path} is not in apepy's pinned table, "
            f"so its sha256 {digest} cannot be checked",
            hint="pass --allow-unpinned-source to build it anyway (the build's record names it)",
        )
    _validate_series(version)
    return Source(path, version, digest, pinned=False)


def _validate_series(version: str) -> None:
    series = ".".join(version.split(".")[:2])
    if series not in SUPPORTED_SERIES:
        raise ApepyError(
            f"CPython {version} is not a supported series",
            hint=f"supported series: {', '.join(SUPPORTED_SERIES)}",
        )


def _copy_into_cache(path: Path, cached: Path) -> None:
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}.part")
    try:
        shutil.copyfile(path, tmp)
        os.replace(tmp, cached)
    except OSError:
        # The cache copy only saves a later --source; the build goes on without it.
        tmp.unlink(missing_ok=True)


def extract(source: Source, dest: Path) -> Path:
    """Unpack the tarball into ``dest`` and return the source tree.

    Members that would land outside ``dest`` (absolute paths, ``..``, links out)
    are refused by tarfile's ``data`` filter.
    """
    try:
        with tarfile.open(source.path) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python 3.11.0-3.11.3 have no extraction filters
                _check_members(tar)
                tar.extractall(dest)
    except tarfile.FilterError as exc:
        raise ApepyError(
            f"refusing to unpack {source.path}: {exc}",
            hint="the tarball has unsafe members; use an official release tarball",
        ) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ApepyError(
            f"cannot unpack {source.path}: {exc}",
            hint="the file is truncated or corrupt; download it again",
        ) from exc
    trees = [p for p in dest.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise ApepyError(f"{source.path} does not unpack to a single directory", hint=_SOURCE_HINT)
    return trees[0]


def _check_members(tar: tarfile.TarFile) -> None:
    for member in tar.getmembers():
        name = member.name
        if name.startswith("/") or ".." in Path(name).parts:
            raise tarfile.FilterError(f"member {name!r} points outside the destination")
        if (member.issym() or member.islnk()) and (
            member.linkname.startswith("/") or ".." in Path(member.linkname).parts
        ):
            raise tarfile.FilterError(f"link {name!r} points outside the destination")


def release_epoch(path: Path) -> int:
    """The release's own timestamp: the mtime of ``Include/patchlevel.h`` in the tarball."""
    try:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.endswith("/Include/patchlevel.h"):
                    return int(member.mtime)
    except (tarfile.TarError, OSError, EOFError):
        pass
    return 0
