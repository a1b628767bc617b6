"""CPython source tarballs: the pinned table, lookup, download, verification, extraction."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

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
        raise ApepyError(
            f"no pinned release for Python {series}",
            hint=f"choose one of: {', '.join(sorted({r.series for r in RELEASES}))}",
        )
    return max(candidates, key=lambda r: _version_key(r.version))


@dataclass(frozen=True)
class Source:
    """A verified (or explicitly allowed) tarball and what it contains."""

    path: Path
    version: str
    sha256: str
    pinned: bool


def version_in_tarball(path: Path) -> str:
    """Read the version from the tarball's top directory and ``Include/patchlevel.h``.

    Sizes are checked on the way, so a decompression bomb is refused before it is
    read through; unsafe member names are refused when the tarball is unpacked.
    """
    text: str | None = None
    try:
        with tarfile.open(path) as tar:
            top: str | None = None
            for member in _checked_members(tar, path, names=False):
                top = top or member.name.split("/")[0]
                if text is None and member.name == f"{top}/Include/patchlevel.h":
                    handle = tar.extractfile(member)
                    if handle is not None:
                        text = handle.read(1 << 20).decode("utf-8", "replace")
            if top is None:
                raise ApepyError(f"{path} is an empty tar archive", hint=_SOURCE_HINT)
    except UnsafeTarball as exc:
        raise _refusal(path, exc) from exc
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ApepyError(
            f"{path} is not a readable tarball ({exc})",
            hint="the file is truncated or not a .tar.xz/.tgz; download it again",
        ) from exc
    if text is None:
        raise ApepyError(
            f"{path} does not look like a CPython source tarball (no Include/patchlevel.h)",
            hint=_SOURCE_HINT,
        )
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
        damaged = [c for c in _candidates(source_cache(), release) if c.is_file()]
        if damaged:
            raise ApepyError(
                f"the cached CPython {release.version} source {damaged[0]} does not match its "
                f"pinned sha256 {release.sha256}: it is damaged",
                hint=f"pass the release tarball with --source {release.filename} (it replaces the "
                "damaged copy), or run without --offline to download it again",
            )
        raise _offline_error(release, target)
    try:
        download.fetch(release.url, target, release.sha256)
    except download.BrokenOff as exc:
        raise ApepyError(
            f"the download of CPython {release.version} source broke off ({exc})",
            hint="run the same command again: the download resumes where it stopped "
            f"(the part so far is kept in {target.parent})",
        ) from exc
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
        # A damaged copy in the cache is replaced by the good one.
        if cached.resolve() != path.resolve() and (
            not cached.is_file() or sha256_of(cached) != digest
        ):
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

    Members that would land outside ``dest`` (absolute paths, ``..``, links out),
    special files, and archives that expand far beyond their size are refused
    before they are written; tarfile's ``data`` filter checks again where it exists.
    """
    try:
        with tarfile.open(source.path) as tar:
            members = _checked_members(tar, source.path)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # Python 3.11.0-3.11.3 have no extraction filters
                tar.extractall(dest, members=members)
    except (UnsafeTarball, tarfile.FilterError) as exc:
        raise _refusal(source.path, exc) from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ApepyError(
            f"cannot unpack {source.path}: {exc}",
            hint="the file is truncated or corrupt; download it again",
        ) from exc
    trees = [p for p in dest.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise ApepyError(f"{source.path} does not unpack to a single directory", hint=_SOURCE_HINT)
    return trees[0]


# A CPython release unpacks to about 5 times its compressed size (~120 MB); far more
# than that is a decompression bomb. Small archives may expand more (tests, patches).
MAX_UNPACKED = 2_000_000_000
MAX_RATIO = 50
_RATIO_FLOOR = 64_000_000


_UNSAFE_HINT = "the tarball has unsafe members; use an official release tarball"


class UnsafeTarball(ApepyError):
    """A member that would escape the destination, a special file, or a bomb.

    Raised while the members are read; the reader names the tarball (_refusal).
    """

    def __init__(self, message: str, hint: str = _UNSAFE_HINT) -> None:
        super().__init__(message, hint)


def _refusal(path: Path, exc: Exception) -> ApepyError:
    return ApepyError(f"refusing to unpack {path}: {exc}", hint=getattr(exc, "hint", _UNSAFE_HINT))


def _checked_members(
    tar: tarfile.TarFile, path: Path, *, names: bool = True
) -> Iterator[tarfile.TarInfo]:
    """The members of ``tar`` in order, each checked (names too, unless ``names`` is False)
    before it is used.

    Sizes come from each member's header, which is read before its data: a bomb is
    refused without decompressing it.
    """
    compressed = max(path.stat().st_size, 1)
    total = 0
    for member in tar:
        if names:
            _check_member(member)
        total += member.size
        if total > MAX_UNPACKED or (total > _RATIO_FLOOR and total > MAX_RATIO * compressed):
            raise UnsafeTarball(
                f"it expands to more than {total / 1e6:.0f} MB from {compressed / 1e6:.1f} MB "
                f"(at member {member.name!r}), a decompression bomb",
                hint="an official CPython release tarball unpacks to about 5 times its size; "
                "use one of those",
            )
        yield member


def _inside(name: str) -> bool:
    clean = posixpath.normpath(name)
    return not (
        name.startswith("/")
        or clean == ".."
        or clean.startswith("../")
        or PureWindowsPath(name).drive
    )


def _check_member(member: tarfile.TarInfo) -> None:
    name = member.name
    if not _inside(name):
        raise UnsafeTarball(f"member {name!r} points outside the destination")
    if member.issym():
        target = posixpath.join(posixpath.dirname(name), member.linkname)
        if member.linkname.startswith("/") or not _inside(target):
            raise UnsafeTarball(
                f"symlink {name!r} -> {member.linkname!r} points outside the destination"
            )
    elif member.islnk():
        if not _inside(member.linkname):
            raise UnsafeTarball(
                f"hard link {name!r} -> {member.linkname!r} points outside the destination"
            )
    elif not (member.isfile() or member.isdir()):
        raise UnsafeTarball(f"member {name!r} is a device, FIFO or other special file")


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
