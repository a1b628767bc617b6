"""Installing wheels into a staging site-packages with PyPA's installer, and C parts handled."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from installer.exceptions import InstallerError
from installer.records import parse_record_file
from installer.sources import WheelFile
from installer.utils import parse_metadata_file
from packaging.utils import canonicalize_name

from apepy import ape, inside, pyc, ui
from apepy.bundle.base import Base
from apepy.errors import ApepyError
from apepy.sitepackages import install_wheel, site_scheme

_EXTENSION_SUFFIXES = (".so", ".pyd", ".dylib")
# Failures that say nothing about a missing C part when they name another module:
# an optional dependency the app did not ask for.
_NOT_C = frozenset({"ModuleNotFoundError", "ImportError"})


@dataclass(frozen=True)
class Installed:
    name: str
    version: str
    dist_info: str
    files: tuple[str, ...]  # relative to site-packages
    dropped_extensions: tuple[str, ...] = ()


def install_wheels(wheels: list[Path], site: Path, base: Base, log: Path) -> list[Installed]:
    site.mkdir(parents=True, exist_ok=True)
    scratch = site.parent / "wheel-extras"
    scheme = site_scheme(site, scratch)
    owners: dict[str, str] = {}
    installed: list[Installed] = []
    provided = provided_by_base(base)
    for wheel in wheels:
        _check_readable(wheel)
        with WheelFile.open(wheel) as source:
            name = canonicalize_name(source.distribution)
            if name in provided:
                ui.info(f"{source.distribution}: provided by the base interpreter, not installed")
                continue
            try:
                source.validate_record()
            except (ValueError, InstallerError) as exc:
                raise ApepyError(
                    f"wheel {wheel.name} fails its RECORD check: {exc}",
                    hint="the wheel is corrupt or was tampered with at its source; fetch it from a "
                    "trustworthy index (run again with --refresh to download it again)",
                ) from exc
            files = [
                row[0] for row in parse_record_file(source.read_dist_info("RECORD").splitlines())
            ]
            for path in files:
                if path.startswith("/") or ".." in path.split("/"):
                    raise ApepyError(
                        f"wheel {wheel.name} has an unsafe member {path!r}",
                        hint="the wheel is malformed or malicious and is not installed; drop the "
                        "dependency or get the package from a trustworthy index",
                    )
                if path in owners:
                    raise ApepyError(
                        f"wheels {owners[path]} and {wheel.name} both install {path}",
                        hint="the two packages conflict; drop one of them from the dependencies",
                    )
                owners[path] = wheel.name
            try:
                install_wheel(source, scheme)
            except (InstallerError, FileExistsError, ValueError) as exc:
                raise ApepyError(
                    f"cannot install {wheel.name}: {exc}",
                    hint="the wheel is malformed; use another version of the package",
                ) from exc
            metadata = parse_metadata_file(source.read_dist_info("METADATA"))
            installed.append(
                Installed(
                    name=str(metadata["Name"]),
                    version=str(metadata["Version"]),
                    dist_info=source.dist_info_dir,
                    files=tuple(files),
                )
            )
    shutil.rmtree(scratch, ignore_errors=True)
    # Every distribution's C files go first: the check of one package must not trip
    # over a compiled dependency not yet handled (black imports mypyc-built pytokens).
    for dist in installed:
        for path in dist.files:
            if path.endswith(_EXTENSION_SUFFIXES):
                (site / path).unlink(missing_ok=True)
    return [_handle_extensions(dist, site, base, log) for dist in installed]


def _check_readable(wheel: Path) -> None:
    """A wheel is a zip archive whose members all read back (their CRCs match)."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _unreadable(wheel, str(exc)) from exc
    if damaged is not None:
        raise _unreadable(wheel, f"member {damaged} is damaged")


def _unreadable(wheel: Path, why: str) -> ApepyError:
    return ApepyError(
        f"wheel {wheel.name} is not a readable zip archive ({why})",
        hint="the file is damaged or not a wheel; fetch it from a trustworthy index "
        "(run again with --refresh to download it again)",
    )


def provided_by_base(base: Base) -> dict[str, str]:
    """The distributions the base carries: compiled in, and the pure-Python ones those
    need at run time, in its site-packages: canonical name → version."""
    if base.manifest is None:
        return {}
    found: dict[str, str] = {
        canonicalize_name(d.name): d.version for d in base.manifest.distributions
    }
    found.update((canonicalize_name(d.name), d.version) for d in base.manifest.runtime_dependencies)
    return found


def _top_level(dist: Installed) -> list[str]:
    names = set()
    for path in dist.files:
        head = path.split("/")[0]
        if head.endswith((".dist-info", ".data")) or head == "__pycache__":
            continue
        if "/" in path:
            names.add(head)
        elif path.endswith(".py"):
            names.add(head[:-3])
    return sorted(names)


def _dotted(path: str) -> str:
    """`black/linegen.cpython-313-x86_64-linux-gnu.so` → `black.linegen`."""
    parent, _, filename = path.rpartition("/")
    return ".".join([*(parent.split("/") if parent else []), filename.split(".", 1)[0]])


def _handle_extensions(dist: Installed, site: Path, base: Base, log: Path) -> Installed:
    """Drop C extension files the static base cannot load; keep the package if it works without."""
    extensions = [p for p in dist.files if p.endswith(_EXTENSION_SUFFIXES)]
    if not extensions:
        return dist
    modules = _top_level(dist)
    dropped = {_dotted(p) for p in extensions}
    # Each top-level name on its own, as an app imports it. What decides is a public
    # package that fails because a dropped C module is missing. A private top-level
    # shim of a moved C module (PyYAML's `_yaml`) does not, nor does a module that
    # needs an optional dependency the app did not ask for (black's `blackd`, aiohttp).
    code = inside.source("probes/import_check.py")
    result = subprocess.run(
        [*ape.command(base.path), "-I", "-c", code, str(site), *modules],
        capture_output=True,
        text=True,
        env=pyc.plain_env(),
        cwd=site,
    )
    with open(log, "a", encoding="utf-8") as sink:
        sink.write(
            f"import check of {dist.name} without {extensions}: exit {result.returncode}\n"
            f"{result.stdout}{result.stderr}\n"
        )
    ext_names = ", ".join(Path(p).name for p in extensions)
    try:
        failures: dict[str, list[str]] = json.loads(result.stdout)
    except ValueError:
        failures = {"(import)": ["crash", result.stderr.strip()[-500:] or "import failed", ""]}
    public = [m for m in modules if not m.startswith("_")] or modules
    broken = [
        m
        for m in public
        if m in failures
        and (
            failures[m][0] not in _NOT_C
            or failures[m][2] in dropped
            # `from . import _speedups`: the error names the parent, the message the module.
            or any(f"'{d.rsplit('.', 1)[-1]}'" in failures[m][1] for d in dropped)
        )
    ]
    if "(import)" in failures:
        broken = ["(import)"]
    if broken:
        kind, message, _ = failures[broken[0]]
        raise ApepyError(
            f"{dist.name} {dist.version} needs its C extension ({ext_names}), which the base "
            f"{base.path.name} does not have built in ({kind}: {message})",
            hint="a static interpreter cannot load .so files: make a base with it compiled in "
            f"(apepy build --with {dist.name}=={dist.version} -o python-with-{dist.name}) and "
            "bundle onto it with --base, or use a pure-Python alternative",
        )
    ui.warn(
        f"{dist.name} {dist.version}: its C speedups ({ext_names}) are left out; it runs on its pure-Python code"
    )
    return Installed(dist.name, dist.version, dist.dist_info, dist.files, tuple(extensions))
