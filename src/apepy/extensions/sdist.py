"""Getting an extension package's sdist (pinned by hash) and judging it before any long work.

pip's index client downloads (without the metadata step of ``pip download``, which
for a meson-python package is its whole build; ``sdist_fetch``); apepy checks the
sha256 the user pinned and keeps the file in the
cache, so a pinned sdist is fetched once and a rebuild needs no network.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from apepy import cache, hashing, pip, ui
from apepy.errors import ApepyError
from apepy.extensions import rust
from apepy.extensions.spec import ExtensionSpec

_C_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".pyx", ".m")
_FORTRAN = (".f", ".f90", ".f95", ".f03", ".for")
_RUST_BACKENDS = ("maturin", "setuptools-rust", "setuptools_rust")


@dataclass(frozen=True)
class Sdist:
    name: str
    version: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Judgement:
    """What kind of package an sdist holds: "c" or "rust" (buildable), "pure" or "fortran"."""

    kind: str
    reason: str
    cython: bool = False
    # The MSRV its Cargo.toml declares (Rust packages only).
    rust_version: str | None = None
    # Its pyproject's build backend ("mesonpy", "setuptools.build_meta", ...).
    backend: str = ""


def obtain(spec: ExtensionSpec, *, offline: bool, log: Path) -> Sdist:
    if spec.local is not None:
        version = _version_from_filename(spec.local.name)
        return _verified(spec, spec.local, version)
    store = cache.cache_dir("sdists")
    with cache.locked(store / f"{spec.name}.lock"):
        found = _cached(store, spec, offline=offline)
        if found is not None:
            return _verified(spec, found, _version_from_filename(found.name))
        if offline:
            want = spec.requirement
            raise ApepyError(
                f"no sdist of {want} in the cache, and --offline forbids downloading it",
                hint=f"fetch it elsewhere (pip download --no-deps --no-binary {spec.name} '{want}') "
                f"and pass the file: --with PATH/TO/sdist.tar.gz, or drop it into {store}",
            )
        with ui.phase("sdist", f"downloading the sdist of {spec.requirement}"):
            downloaded = _pip_download(spec, log)
        target = store / downloaded.name
        sdist = _verified(spec, downloaded, _version_from_filename(downloaded.name))
        # The store's lock above covers the file; what pip just fetched replaces any copy.
        with cache.entry(target, layout="file", lock=False, rebuild=True) as entry:
            shutil.copyfile(downloaded, entry.work)
            entry.publish()
        shutil.rmtree(downloaded.parent, ignore_errors=True)
        return Sdist(sdist.name, sdist.version, target, sdist.sha256)


def _cached(store: Path, spec: ExtensionSpec, *, offline: bool) -> Path | None:
    pinned = spec.pinned_version
    candidates: list[tuple[Version, Path]] = []
    for path in store.iterdir():
        if path.name.endswith(".part") or path.suffix == ".lock" or cache.WORK_INFIX in path.name:
            continue
        try:
            name, version = _split_filename(path.name)
        except ApepyError:
            continue
        if canonicalize_name(name) != spec.name:
            continue
        if pinned is not None and Version(version) != Version(pinned):
            continue
        candidates.append((Version(version), path))
    if not candidates:
        return None
    if pinned is None and not offline:
        # Unpinned and online: ask the index for its newest release.
        return None
    return max(candidates)[1]


def _verified(spec: ExtensionSpec, path: Path, version: str) -> Sdist:
    digest = hashing.sha256_file(path)
    if spec.sha256 is not None and digest != spec.sha256:
        raise ApepyError(
            f"the sdist {path.name} does not match its pinned hash "
            f"(expected sha256 {spec.sha256}, got {digest})",
            hint="the download was corrupted or tampered with; delete the file "
            f"({path}) and try again, or correct the pin if the package was re-released",
        )
    return Sdist(spec.name, version, path, digest)


def _pip_download(spec: ExtensionSpec, log: Path) -> Path:
    dest = Path(tempfile.mkdtemp(prefix="apepy-sdist-"))
    fetched = _fetch_without_metadata(spec, dest, log)
    if fetched is not None:
        return fetched
    # The sdist of this package only; its build requirements (which pip installs
    # to read the metadata) may come as wheels.
    result = pip.download(["--no-deps", "--no-binary", spec.name, spec.requirement], dest, log)
    files = [p for p in dest.iterdir() if p.is_file()]
    if result.returncode != 0 or len(files) != 1:
        shutil.rmtree(dest, ignore_errors=True)
        tail = "\n".join(result.stderr.strip().splitlines()[-6:])
        if re.search(r"maturin|setuptools[-_]rust|[Cc]argo|rustc", result.stdout + result.stderr):
            # pip reads an sdist's metadata before saving it; for a Rust package
            # that step itself runs cargo.
            rust.require(spec.requirement, None)
        if "No matching distribution" in result.stderr:
            raise ApepyError(
                f"no sdist of {spec.requirement} on the package index",
                hint="check the name and version; apepy builds extensions from source "
                "distributions, which some packages do not publish",
                details=tail,
            )
        raise ApepyError(
            f"pip could not download the sdist of {spec.requirement}",
            hint="check the network and the package name, or pass a local sdist: --with PATH",
            details=tail + f"\n\nfull log: {log}",
        )
    return files[0]


def _fetch_without_metadata(spec: ExtensionSpec, dest: Path, log: Path) -> Path | None:
    """The sdist through pip's finder and session (``sdist_fetch``), skipping the
    metadata step that builds a meson-python package whole; None: use pip download."""
    req = Requirement(spec.requirement)
    if req.extras or req.marker is not None or req.url is not None:
        return None
    cmd = [
        sys.executable, "-m", "apepy.extensions.sdist_fetch", spec.name, str(req.specifier), str(dest),
    ]  # fmt: skip
    with open(log, "a", encoding="utf-8") as sink:
        sink.write("$ " + " ".join(cmd) + "\n")
        result = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        sink.write(result.stdout + result.stderr)
    try:
        found = json.loads(result.stdout) if result.returncode == 0 else {}
    except ValueError:
        found = {}
    path = found.get("path")
    if not isinstance(path, str) or not Path(path).is_file():
        for leftover in dest.iterdir():
            leftover.unlink()
        return None
    if found.get("index_sha256") not in (None, found.get("sha256")):
        raise ApepyError(
            f"the sdist of {spec.requirement} does not match the hash the index states "
            f"({found.get('index_sha256')}, got {found.get('sha256')})",
            hint="the download was corrupted or a mirror serves another file; try again",
        )
    return Path(path)


def _split_filename(filename: str) -> tuple[str, str]:
    for suffix in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(suffix):
            name, sep, version = filename[: -len(suffix)].rpartition("-")
            if sep and name:
                try:
                    Version(version)
                except InvalidVersion:
                    break
                return name, version
    raise ApepyError(
        f"{filename} is not named like an sdist (NAME-VERSION.tar.gz)",
        hint="pass the sdist under the name the package index gives it",
    )


def _version_from_filename(filename: str) -> str:
    return _split_filename(filename)[1]


def judge(sdist: Sdist) -> Judgement:
    """Decide from the sdist's files whether apepy's wrapper can build it."""
    names, pyproject, cargo_toml = _listing(sdist.path)
    requires: list[str] = []
    backend = ""
    if pyproject:
        try:
            data = tomllib.loads(pyproject)
        except tomllib.TOMLDecodeError:
            data = {}
        system = data.get("build-system", {})
        requires = [str(r).lower() for r in system.get("requires", [])]
        backend = str(system.get("build-backend", ""))
    code = [n for n in names if not _is_test(n)]
    has_c = any(n.endswith(_C_SOURCES) for n in code)
    # Rust when the build backend drives cargo. A top-level Cargo.toml beside C
    # sources and a plain setuptools build is an optional Rust backend: the default
    # build is C, and that is what runs. Deeper Cargo.toml files are often vendored
    # test data (numpy carries meson's Rust test cases).
    by_backend = backend.startswith("maturin") or any(
        re.match(rf"{b}\b", r) for r in requires for b in _RUST_BACKENDS
    )
    if by_backend or ("Cargo.toml" in names and not has_c):
        return Judgement(
            "rust",
            "its extension is written in Rust (cargo builds it)",
            rust_version=rust.rust_version(cargo_toml) if cargo_toml else None,
        )
    if any(n.lower().endswith(_FORTRAN) for n in code):
        return Judgement(
            "fortran",
            "it compiles Fortran sources, which apepy's C compiler wrapper does not support",
        )
    if not has_c:
        return Judgement(
            "pure",
            "it has no C sources: it is pure Python, so it needs no --with "
            "(list it as a dependency of the app and `apepy bundle` installs it)",
        )
    cython = any(n.endswith(".pyx") for n in code) or any("cython" in r for r in requires)
    return Judgement("c", "C sources", cython=cython, backend=backend)


def _is_test(name: str) -> bool:
    # Test suites and examples (numpy vendors meson, whose "test cases" hold
    # Fortran and Rust projects) say nothing about what the package builds.
    parts = [p.lower() for p in PurePosixPath(name).parts[:-1]]
    return any("test" in p or p in ("benchmarks", "doc", "docs", "examples") for p in parts)


def _listing(path: Path) -> tuple[list[str], str, str]:
    """Member names (without the top directory), the top-level pyproject.toml, and the
    Cargo.toml nearest the top outside test suites (Rust packages' MSRV is there)."""
    wanted: dict[str, bytes] = {}

    def pick(names: list[str]) -> list[str]:
        cargo = sorted(
            (n for n in names if n.endswith("Cargo.toml") and not _is_test(n)),
            key=lambda n: (n.count("/"), n),
        )
        return ["pyproject.toml", *cargo[:1]]

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zipped:
                raw = [n for n in zipped.namelist() if not n.endswith("/")]
                names = [n.split("/", 1)[1] if "/" in n else n for n in raw]
                for rel in pick(names):
                    if rel in names:
                        wanted[rel] = zipped.read(raw[names.index(rel)])
        else:
            with tarfile.open(path) as archive:
                members: dict[str, tarfile.TarInfo] = {}
                for member in archive:
                    parts = member.name.split("/", 1)
                    rel = parts[1] if len(parts) == 2 else parts[0]
                    if member.isfile():
                        members[rel] = member
                names = list(members)
                for rel in pick(names):
                    handle = archive.extractfile(members[rel]) if rel in members else None
                    if handle is not None:
                        wanted[rel] = handle.read()
        text = {k: v.decode("utf-8", "replace") for k, v in wanted.items()}
        cargo = next((t for k, t in text.items() if k.endswith("Cargo.toml")), "")
        pyproject = text.get("pyproject.toml", "")
        return names, pyproject, cargo
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ApepyError(
            f"{path.name} is not a readable sdist ({exc})",
            hint=f"delete it ({path}) and download it again",
        ) from exc
