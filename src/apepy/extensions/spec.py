"""What the user asked to compile in: `--with NAME[==VERSION] [--hash=sha256:HEX]` or a local sdist."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from apepy.errors import ApepyError

_HASH = re.compile(r"\s+--hash[= ]sha256:([0-9a-fA-F]{64})\s*$")
_SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tgz")


@dataclass(frozen=True)
class ExtensionSpec:
    """One package to build in. ``local`` is an sdist file given by path."""

    name: str
    requirement: str
    sha256: str | None = None
    local: Path | None = None

    @property
    def pinned_version(self) -> str | None:
        if self.local is not None:
            return None
        specs = list(Requirement(self.requirement).specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None


def parse(text: str) -> ExtensionSpec:
    """Parse one `--with` value or one line of an extensions lock file."""
    raw = text.strip()
    sha256 = None
    found = _HASH.search(raw)
    if found:
        sha256 = found.group(1).lower()
        raw = raw[: found.start()].strip()
    if raw.endswith(_SDIST_SUFFIXES) and ("/" in raw or Path(raw).is_file()):
        path = Path(raw).expanduser().absolute()
        if not path.is_file():
            raise ApepyError(
                f"--with {raw}: no such sdist file",
                hint="give a package name (markupsafe, pyyaml==6.0.2) or the path of an sdist",
            )
        name = _name_from_sdist(path.name)
        return ExtensionSpec(canonicalize_name(name), raw, sha256, path)
    try:
        requirement = Requirement(raw)
    except InvalidRequirement as exc:
        raise ApepyError(
            f"--with {text!r} is not a package requirement: {exc}",
            hint="write it as NAME, NAME==VERSION, or NAME==VERSION --hash=sha256:HEX",
        ) from None
    if requirement.url or requirement.marker or requirement.extras:
        raise ApepyError(
            f"--with {text!r}: URLs, markers and extras are not supported for extensions",
            hint="name the package and, optionally, its exact version",
        )
    return ExtensionSpec(canonicalize_name(requirement.name), str(requirement), sha256)


def parse_lock(path: Path) -> list[ExtensionSpec]:
    """Read a lock file: one `NAME==VERSION --hash=sha256:HEX` per line, # comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApepyError(
            f"cannot read the extensions lock {path}: {exc.strerror}",
            hint="check the path given to --with-lock",
        ) from exc
    specs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec = parse(line)
        if spec.local is None and (spec.pinned_version is None or spec.sha256 is None):
            raise ApepyError(
                f"{path}:{number}: {line!r} is not pinned",
                hint="each lock line needs an exact version and a hash: NAME==VERSION --hash=sha256:HEX",
            )
        specs.append(spec)
    return specs


def merge(specs: list[ExtensionSpec]) -> list[ExtensionSpec]:
    """One spec per package; the same package asked for twice in two ways is an error."""
    by_name: dict[str, ExtensionSpec] = {}
    for spec in specs:
        seen = by_name.get(spec.name)
        if seen is not None and seen != spec:
            raise ApepyError(
                f"{spec.name} is requested twice: {seen.requirement!r} and {spec.requirement!r}",
                hint="name each extension package once",
            )
        by_name[spec.name] = spec
    return [by_name[name] for name in sorted(by_name)]


def _name_from_sdist(filename: str) -> str:
    for suffix in _SDIST_SUFFIXES:
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, _version = stem.rpartition("-")
            if sep and name:
                return name
    raise ApepyError(
        f"cannot tell the package name from {filename}",
        hint="sdists are named NAME-VERSION.tar.gz",
    )
