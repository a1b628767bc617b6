"""PEP 751 lock files (``pylock.toml``): a bundle's dependencies in, and what it installed out.

Read with ``tomllib`` and validated, selected and turned back into TOML data with
``packaging.pylock``; written with ``tomli_w``. A lock apepy writes names every
wheel it installed with its sha256, its file name, and its URL where one is known
(from the lock it was bundled from); a wheel pip downloaded is named by ``path``,
its file name, and found again by its sha256 (``find``).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import tomli_w
from packaging.markers import Environment
from packaging.pylock import (
    Package,
    PackageWheel,
    Pylock,
    PylockSelectError,
    PylockValidationError,
)
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import Version

from apepy import cache, download, hashing
from apepy.errors import ApepyError
from apepy.layout import APEPY_DIR

if TYPE_CHECKING:
    from apepy.bundle.base import Base

LOCK_NAME = "pylock.toml"
# What a bundle installed, inside it (beside sbom.SBOM_ARCNAME, and kept out of
# layout.py for the same reason).
LOCK_ARCNAME = APEPY_DIR + LOCK_NAME
_NEW_LOCK_HINT = (
    "fix the lock, or write a new one: bundle without it and pass --lock-out pylock.toml"
)
_PACKAGE_AT = re.compile(r"packages\[(\d+)\]")


@dataclass(frozen=True)
class LockedWheel:
    """One package of a lock, as the wheel that fits the base."""

    name: str
    version: str
    filename: str
    sha256: str
    url: str = ""
    path: str = ""
    requires_python: str = ""


def read(path: Path) -> Pylock:
    """The lock in ``path``, validated; every failure is one error naming the package."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ApepyError(f"{path} is not valid TOML: {exc}", hint=_NEW_LOCK_HINT) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ApepyError(f"cannot read the lock {path}: {exc}", hint="check the path") from exc
    try:
        return Pylock.from_dict(raw)
    except PylockValidationError as exc:
        raise ApepyError(
            f"{path} is not a valid PEP 751 lock{_which(raw, exc)}: {exc}",
            hint=_NEW_LOCK_HINT,
        ) from exc


def _which(raw: Mapping[str, Any], exc: PylockValidationError) -> str:
    """ ", package NAME" for an error inside a package's entry."""
    found = _PACKAGE_AT.match(exc.context or "")
    packages = raw.get("packages")
    if not found or not isinstance(packages, list) or int(found[1]) >= len(packages):
        return ""
    entry = packages[int(found[1])]
    name = entry.get("name") if isinstance(entry, dict) else None
    return f" (package {name})" if isinstance(name, str) else ""


def environment(base: Base) -> Environment:
    """The marker environment of the base interpreter (not of the host)."""
    full = ".".join(map(str, base.version))
    system = {"linux": "Linux", "darwin": "Darwin", "win32": "Windows"}
    return {
        "implementation_name": base.implementation,
        "implementation_version": full,
        "os_name": "nt" if base.platform == "win32" else "posix",
        "platform_machine": base.machine,
        "platform_release": "",
        "platform_system": system.get(base.platform, base.platform),
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": "CPython",
        "python_version": base.series,
        "sys_platform": base.platform,
    }


def tags(base: Base) -> list[Tag]:
    """The wheel tags the base installs, best first (what pip is asked for)."""
    version = base.version[:2]
    platforms = base.pip_platforms()
    return [
        *cpython_tags(version, abis=[base.abi], platforms=platforms),
        *compatible_tags(version, f"cp{version[0]}{version[1]}", platforms),
    ]


def select(lock: Pylock, base: Base, where: Path) -> list[LockedWheel]:
    """The wheel of each package the lock installs on ``base``."""
    chosen: list[LockedWheel] = []
    try:
        for package, source in lock.select(environment=environment(base), tags=tags(base)):
            if not isinstance(source, PackageWheel):
                raise ApepyError(
                    f"{where}: package {package.name} has no wheel that fits the base "
                    f"{base.describe()} (the lock offers its {_kind(package)})",
                    hint="apepy installs wheels only: lock a version that ships a wheel for "
                    "this Python and platform, or build a base with the package compiled in",
                )
            sha256 = source.hashes.get("sha256")
            if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
                raise ApepyError(
                    f"{where}: package {package.name}'s wheel {source.filename} has no sha256",
                    hint="apepy checks every wheel against its sha256: lock it with one",
                )
            chosen.append(
                LockedWheel(
                    name=package.name,
                    version=str(package.version or parse_wheel_filename(source.filename)[1]),
                    filename=source.filename,
                    sha256=sha256,
                    url=source.url or "",
                    path=source.path or "",
                    requires_python=str(package.requires_python or ""),
                )
            )
    except PylockSelectError as exc:
        raise ApepyError(
            f"{where} does not fit the base {base.describe()}: {exc}",
            hint="lock for this base: bundle onto it without the lock, with --lock-out FILE",
        ) from exc
    return chosen


def _kind(package: Package) -> str:
    if package.sdist is not None:
        return "sdist only"
    if package.wheels:
        return "wheels for other Pythons or platforms only"
    return "source in a directory, archive or VCS"


def find(wheel: LockedWheel, lock_dir: Path, find_links: Iterable[str], *, offline: bool) -> Path:
    """A local file with the wheel's bytes, checked against the lock's sha256: in
    apepy's cache, at the lock's ``path`` (relative to the lock), in a --find-links
    directory, or downloaded from its ``url`` into the cache."""
    stored = _store() / wheel.sha256 / wheel.filename
    candidates = [
        stored,
        *_cached(wheel),
        *([lock_dir / wheel.path] if wheel.path else []),
        *(Path(d) / wheel.filename for d in find_links if "://" not in d),
    ]
    for candidate in candidates:
        if candidate.is_file() and hashing.sha256_file(candidate) == wheel.sha256:
            return candidate
    tampered = [c for c in candidates if c.is_file()]
    if tampered and not wheel.url:
        raise ApepyError(
            f"wheel {wheel.filename} of {wheel.name} {wheel.version} does not match the "
            f"lock's sha256 ({tampered[0]})",
            hint="the file was changed or is another build: fetch the wheel the lock names, "
            "or write a new lock",
        )
    if wheel.url and not offline:
        download.fetch(wheel.url, stored, wheel.sha256)
        return stored
    raise ApepyError(
        f"no copy of wheel {wheel.filename} ({wheel.name} {wheel.version}) is at hand"
        + (" and --offline forbids downloading it" if wheel.url else ", and the lock has no url"),
        hint="put the wheel next to the lock or in a --find-links directory"
        + ("" if not wheel.url else ", or run without --offline"),
    )


def _store() -> Path:
    return cache.cache_dir("wheels", "sha256")


def _cached(wheel: LockedWheel) -> list[Path]:
    """The wheel in apepy's cached resolutions (each records its wheels' sha256)."""
    found = []
    for done in sorted(cache.cache_dir("wheels").glob("*/resolved.json")):
        try:
            recorded = json.loads(done.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(recorded, dict) and recorded.get(wheel.filename) == wheel.sha256:
            found.append(done.parent / wheel.filename)
    return found


def keep(path: Path, wheel: LockedWheel) -> None:
    """Put a wheel a lock named into the cache by its sha256 (a lock bundled once is
    bundled again offline, wherever its wheels came from)."""
    if path.is_relative_to(cache.cache_dir("wheels")):
        return  # a cached resolution's or the store's own copy
    stored = _store() / wheel.sha256 / wheel.filename
    if not stored.is_file():
        stored.parent.mkdir(parents=True, exist_ok=True)
        tmp = stored.with_name(stored.name + ".part")
        tmp.write_bytes(path.read_bytes())
        tmp.replace(stored)


def render(wheels: list[LockedWheel], base: Base) -> bytes:
    """The PEP 751 lock of what a bundle installed, for the base's Python series."""
    packages = [
        Package(
            name=canonicalize_name(w.name),
            version=Version(w.version),
            wheels=[
                PackageWheel(
                    name=w.filename,
                    url=w.url or None,
                    # A wheel without a URL is named by its file name: found again by
                    # its sha256 (``find``), or beside the lock.
                    path=w.path or (None if w.url else w.filename),
                    hashes={"sha256": w.sha256},
                )
            ],
        )
        for w in sorted(wheels, key=lambda w: canonicalize_name(w.name))
    ]
    lock = Pylock(
        lock_version=Version("1.0"),
        created_by="apepy",
        requires_python=SpecifierSet(f"=={base.series}.*"),
        packages=packages,
    )
    lock.validate()
    return tomli_w.dumps(cast(dict[str, Any], lock.to_dict())).encode()


def unsatisfied(
    requirements: list[str], wheels: list[LockedWheel], provided: dict[str, str], base: Base
) -> list[str]:
    """The requirements the lock's packages (and the base's compiled-in ones) do not meet."""
    have = {canonicalize_name(w.name): w.version for w in wheels} | provided
    env = cast(dict[str, str], environment(base))
    missing = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        version = have.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(version, prereleases=True):
            missing.append(f"{text} (lock: {version or 'absent'})")
    return missing
