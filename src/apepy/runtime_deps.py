"""The pure-Python distributions the compiled-in packages need at run time.

`pip install pandas` brings python-dateutil along; a base built `--with pandas`
must too, or `import pandas` fails in the file by itself. pip resolves each
compiled-in package's Requires-Dist for the base's Python, pure-Python wheels only
(`--platform any`). It learns what is compiled in from a stand-in wheel per
package: the package's own METADATA (name, version, Requires-Dist) in a wheel
without code, offered with `--find-links` and pinned, so pip resolves around what
the base has rather than downloading it. A requirement with no pure-Python wheel
needs a C part: one error naming the `--with` that would provide it.

The resolution is cached by its inputs with the sha256 of each wheel as pip
downloaded it; a wheel is checked against it when it is installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import Any, NoReturn

from installer.sources import WheelFile
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from apepy import cache, hashing, pip, ui
from apepy.context import Context
from apepy.errors import ApepyError
from apepy.manifest import RuntimeDependency
from apepy.sitepackages import install_wheel, site_scheme

RESOLVED = "resolved.json"
# "Collecting tzdata (from python-dateutil>=2.9.0->pandas==3.1.1)", and for what
# cannot be found "... satisfies the requirement numpy>=2.0.2; ... (from pandas)".
_FROM = re.compile(
    r"(?:Collecting|satisfies the requirement) (\S+?)(?:[<>=!~;\[ ][^\n]*?)? \(from ([^)\n]+)\)"
)
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")


@dataclass(frozen=True)
class Provided:
    """A distribution compiled into the base: its name, version and Requires-Dist."""

    name: str
    version: str
    requires: tuple[str, ...]

    @classmethod
    def from_metadata(cls, text: str) -> Provided:
        headers = HeaderParser().parsestr(text)
        return cls(
            canonicalize_name(headers.get("Name", "")),
            headers.get("Version", ""),
            tuple(headers.get_all("Requires-Dist") or ()),
        )

    @classmethod
    def from_wheel(cls, wheel: Path) -> Provided:
        with WheelFile.open(wheel) as source:
            return cls.from_metadata(source.read_dist_info("METADATA"))

    @classmethod
    def from_sdist(cls, sdist: Path) -> Provided | None:
        """What the sdist's PKG-INFO says, where that is final (metadata 2.2 or later, its
        Requires-Dist not dynamic): known before the package is built. None otherwise."""
        text = _pkg_info(sdist)
        if text is None:
            return None
        headers = HeaderParser().parsestr(text)
        version = headers.get("Metadata-Version", "0")
        dynamic = {d.strip().lower() for d in headers.get_all("Dynamic") or ()}
        try:
            final = tuple(map(int, version.split(".")[:2])) >= (2, 2)
        except ValueError:
            return None
        if not final or "requires-dist" in dynamic:
            return None
        return cls.from_metadata(text)


def _pkg_info(sdist: Path) -> str | None:
    """The sdist's top-level PKG-INFO, or None."""
    try:
        if sdist.name.endswith(".zip"):
            with zipfile.ZipFile(sdist) as archive:
                names = [n for n in archive.namelist() if n.count("/") == 1]
                found = [n for n in names if n.endswith("/PKG-INFO")]
                return archive.read(found[0]).decode("utf-8", "replace") if found else None
        with tarfile.open(sdist) as archive:
            for member in archive:
                if member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                    handle = archive.extractfile(member)
                    return handle.read().decode("utf-8", "replace") if handle else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile):
        return None
    return None


def requirements(provided: Provided, python: str) -> list[Requirement]:
    """``provided``'s Requires-Dist that apply on CPython ``python`` (no extras)."""
    environment: dict[str, str] = {
        **{k: str(v) for k, v in default_environment().items()},
        "python_version": ".".join(python.split(".")[:2]),
        "python_full_version": python,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "extra": "",
    }
    found = []
    for text in provided.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            found.append(requirement)
    return found


@dataclass(frozen=True)
class Wheel:
    """A resolved wheel in the cache, and what the manifest records of it."""

    path: Path
    record: RuntimeDependency


def resolve(provided: list[Provided], python: str, ctx: Context) -> list[Wheel]:
    """The pure-Python wheels that ``provided`` need on CPython ``python``, resolved by
    pip, in the cache with their sha256 (nothing when none of them requires anything)."""
    names = {p.name for p in provided}
    wanted = {p.name: requirements(p, python) for p in provided}
    if not any(canonicalize_name(r.name) not in names for rs in wanted.values() for r in rs):
        return []
    series = ".".join(python.split(".")[:2])
    inputs = {
        "python": series,
        "provided": sorted((p.name, p.version, sorted(p.requires)) for p in provided),
    }
    with cache.entry(
        cache.cache_dir("wheels") / ("rt-" + hashing.cache_key(inputs)),
        marker=RESOLVED,
        check=lambda path, text: all((path / n).is_file() for n in _read(text)),
    ) as entry:
        if not entry.ready:
            if ctx.offline:
                raise ApepyError(
                    "the pure-Python dependencies of "
                    + ", ".join(sorted(wanted))
                    + " are not in apepy's cache, and --offline forbids pip to fetch them",
                    hint="run the build once without --offline",
                )
            with ui.phase("dependencies", f"of {', '.join(sorted(names))} with pip"):
                _download(provided, series, entry.work, ctx.log)
            record: dict[str, dict[str, Any]] = {
                p.name: {"sha256": hashing.sha256_file(p), "required_by": needs}
                for p, needs in _downloaded(entry.work, provided, python, ctx.log)
            }
            entry.publish(json.dumps(record, indent=1, sort_keys=True) + "\n")
        else:
            record = _read(entry.text)
    return [
        Wheel(
            entry.path / name,
            RuntimeDependency(
                name=_wheel_name(name),
                version=name.split("-")[1],
                wheel=name,
                sha256=str(info["sha256"]),
                required_by=tuple(info["required_by"]),
            ),
        )
        for name, info in sorted(record.items())
    ]


def install(wheels: list[Wheel], site: Path) -> None:
    """Install each wheel into ``site``, each checked against its recorded sha256."""
    scratch = site.parent / "rt-extras"
    scheme = site_scheme(site, scratch)
    for wheel in wheels:
        data = wheel.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != wheel.record.sha256:
            raise ApepyError(
                f"the cached wheel {wheel.path.name} does not match the sha256 recorded when "
                "it was downloaded; it was changed or damaged in the cache",
                hint="clear the cache (apepy cache clean) and build again",
            )
        # The copy checked is the one installed.
        with tempfile.TemporaryDirectory(prefix="apepy-rt-") as tmp:
            copy = Path(tmp) / wheel.path.name
            copy.write_bytes(data)
            with WheelFile.open(copy) as source:
                install_wheel(source, scheme)
    shutil.rmtree(scratch, ignore_errors=True)


def _read(text: str) -> dict[str, dict[str, Any]]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not a table of wheels")
    return data


def _wheel_name(filename: str) -> str:
    return canonicalize_name(filename.split("-")[0])


def _download(provided: list[Provided], series: str, dest: Path, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="apepy-stand-ins-") as tmp:
        stubs = Path(tmp)
        for p in provided:
            _stand_in(p, stubs)
        result = _pip(provided, series, stubs, dest, log)
        for stub in stubs.iterdir():
            (dest / stub.name).unlink(missing_ok=True)
    if result.returncode == 0:
        return
    _explain(result.stdout + result.stderr, {p.name for p in provided}, log)


def _pip(
    provided: list[Provided], series: str, stubs: Path, dest: Path, log: Path
) -> subprocess.CompletedProcess[str]:
    pins = [f"{p.name}=={p.version}" for p in provided]
    return pip.download(
        [
            "--only-binary=:all:",
            "--python-version",
            series,
            "--implementation",
            "cp",
            "--abi",
            "none",
            "--platform",
            "any",
            "--find-links",
            str(stubs),
            *pins,
        ],
        dest,
        log,
    )


def _explain(text: str, roots: set[str], log: Path) -> NoReturn:
    """The error for a failed resolution: a requirement without a pure-Python wheel
    names the compiled-in package that needs it."""
    missing = _NO_MATCH.search(text)
    if missing:
        name = canonicalize_name(re.split(r"[<>=!~;\[ (]", missing.group(1))[0])
        chain = _chain(name, text, roots)
        if chain:
            through = f" (through {' → '.join(chain[1:])})" if len(chain) > 1 else ""
            raise ApepyError(
                f"{chain[0]} needs {name}{through}, which has no pure-Python wheel: its C "
                "part must be compiled in too",
                hint=f"add --with {name} to the build (apepy build --with {chain[0]} --with "
                f"{name})",
                details=f"full log: {log}",
            )
    tail = "\n".join(text.strip().splitlines()[-8:])
    raise ApepyError(
        "pip could not resolve the run-time dependencies of the compiled-in packages",
        hint="check that the package index is reachable (pip's own configuration applies)",
        details=tail + f"\n\nfull log: {log}",
    )


def _chain(name: str, text: str, roots: set[str]) -> list[str]:
    """The packages through which a compiled-in one requires ``name``: [root, ...,
    parent], from pip's "(from PARENT->...->ROOT)" after the requirement."""
    for found in _FROM.finditer(text):
        if canonicalize_name(found.group(1)) != name:
            continue
        chain: list[str] = [
            canonicalize_name(re.split(r"[<>=!~;\[ ]", part.strip())[0])
            for part in reversed(found.group(2).split("->"))
        ]
        if chain and chain[0] in roots:
            return chain
    return []


def _downloaded(
    dest: Path, provided: list[Provided], python: str, log: Path
) -> list[tuple[Path, list[str]]]:
    """The wheels pip fetched, other than the compiled-in ones, each with the
    compiled-in packages that require it directly."""
    names = {p.name for p in provided}
    direct = {
        p.name: {canonicalize_name(r.name) for r in requirements(p, python)} for p in provided
    }
    found = []
    for wheel in sorted(dest.glob("*.whl")):
        name = _wheel_name(wheel.name)
        if name in names:
            wheel.unlink()
            continue
        with zipfile.ZipFile(wheel) as archive:
            compiled = [n for n in archive.namelist() if n.endswith((".so", ".pyd"))]
        if compiled:
            raise ApepyError(
                f"{wheel.name} carries compiled code although it is tagged pure",
                hint="report it to its maintainers; compile it in with --with " + name,
                details=f"full log: {log}",
            )
        found.append((wheel, sorted(p for p, reqs in direct.items() if name in reqs)))
    return found


def _stand_in(provided: Provided, folder: Path) -> Path:
    """A wheel with ``provided``'s METADATA and no code: what pip sees of it."""
    name = re.sub(r"[-.]+", "_", provided.name)
    dist_info = f"{name}-{provided.version}.dist-info"
    files = {
        f"{dist_info}/METADATA": _metadata(provided).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: apepy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [
        f"{path},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}"
        for path, data in files.items()
    ]
    record.append(f"{dist_info}/RECORD,,")
    path = folder / f"{name}-{provided.version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def _metadata(provided: Provided) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {provided.name}", f"Version: {provided.version}"]
    return "\n".join([*lines, *(f"Requires-Dist: {r}" for r in provided.requires)]) + "\n"


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
