"""`apepy verify --deep`: is the file still what apepy made?

Beyond the zip's own checks (zipverify): every installed distribution's RECORD
hashes against the members in the file (and files slipped into a distribution's
directories that no RECORD lists); each compiled module in site-packages against
its source (the hash a PEP 552 .pyc carries); the manifest's built-in modules
against what the file, run, has; the SBOM's and the lock's distributions against
bundle.json and the dist-info directories.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import canonicalize_name

from apepy import ape, inside, pyc, sbom, zipstore
from apepy.layout import BUNDLE_CONFIG, MANIFEST_ARCNAME, SITE
from apepy.lock import LOCK_ARCNAME
from apepy.manifest import Manifest
from apepy.sbom import SBOM_ARCNAME

# Files a RECORD lists that apepy leaves out by design: C extensions a static
# interpreter cannot load (dropped from wheels, or compiled into the base).
_DROPPED_SUFFIXES = (".so", ".pyd", ".dylib")
# apepy's own runtime in site-packages, owned by no distribution.
_RUNTIME = frozenset({SITE + "_apepy_boot.py", SITE + "_apepy.py"})


@dataclass
class DeepResult:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # What was checked and found as claimed, one line each.
    checked: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Dist:
    name: str
    version: str
    dist_info: str  # member prefix, ending in "/"


def verify(archive: zipstore.Archive) -> DeepResult:
    result = DeepResult()
    with open(archive.path, "rb") as handle:
        data = handle.read()
    members = {m.name: m for m in archive.members if not m.is_dir}

    def read(name: str) -> bytes:
        return zipstore.read_data(archive, members[name], data)

    dists = _distributions(members, read)
    _check_records(dists, members, read, result)
    manifest = None
    if MANIFEST_ARCNAME in members:
        manifest = Manifest.from_json(read(MANIFEST_ARCNAME))
        _check_running(archive.path, manifest, result)
    else:
        result.warnings.append("no apepy manifest: built-in modules not checked")
    _check_claims(dists, members, read, manifest, result)
    return result


Reader = Callable[[str], bytes]


def _distributions(members: dict[str, zipstore.Member], read: Reader) -> list[_Dist]:
    found = []
    for name in sorted(members):
        head, _, leaf = name.removeprefix(SITE).partition("/")
        if not name.startswith(SITE) or leaf != "METADATA" or not head.endswith(".dist-info"):
            continue
        meta = HeaderParser().parsestr(read(name).decode("utf-8", "replace"))
        found.append(_Dist(str(meta["Name"]), str(meta["Version"]), SITE + head + "/"))
    return found


def _check_records(
    dists: list[_Dist], members: dict[str, zipstore.Member], read: Reader, result: DeepResult
) -> None:
    owned: set[str] = set()
    owned_dirs: set[str] = set()
    files = 0
    for dist in dists:
        record = dist.dist_info + "RECORD"
        if record not in members:
            result.problems.append(f"{dist.name} {dist.version}: no RECORD in {dist.dist_info}")
            continue
        rows = list(csv.reader(io.StringIO(read(record).decode("utf-8", "replace"))))
        for row in rows:
            if not row or not row[0]:
                continue
            if row[0].startswith("../"):
                continue  # scripts, headers, data: installed outside site-packages, not kept
            path = SITE + row[0]
            owned.add(path)
            if "/" in row[0] and not row[0].split("/")[0].endswith((".dist-info", ".data")):
                owned_dirs.add(SITE + row[0].split("/")[0] + "/")
            digest = row[1] if len(row) > 1 else ""
            if path not in members:
                if not path.endswith(_DROPPED_SUFFIXES):
                    result.problems.append(
                        f"{dist.name} {dist.version}: {row[0]} is in its RECORD but not in the file"
                    )
                continue
            if not digest:
                continue
            algorithm, _, expected = digest.partition("=")
            try:
                actual = hashlib.new(algorithm, read(path)).digest()
            except ValueError:
                result.warnings.append(f"{dist.name}: {row[0]} hashed with unknown {algorithm}")
                continue
            files += 1
            if base64.urlsafe_b64encode(actual).rstrip(b"=").decode() != expected:
                result.problems.append(
                    f"{dist.name} {dist.version}: {row[0]} was changed after it was installed "
                    "(its sha256 is not the one in the distribution's RECORD)"
                )
    for name in sorted(members):
        if name in owned or name.endswith(".pyc") or not name.startswith(SITE):
            continue
        if any(name.startswith(d) for d in owned_dirs):
            result.problems.append(
                f"{name.removeprefix(SITE)} is not in the RECORD of the distribution that owns "
                "its directory: added after the build"
            )
    if dists:
        result.checked.append(
            f"RECORD: {files} files of {len(dists)} distributions match their hashes"
        )


def _check_running(path: Path, manifest: Manifest, result: DeepResult) -> None:
    """Run the file as the plain interpreter: its built-in modules, its .pyc against
    their sources."""
    try:
        run = subprocess.run(
            [*ape.command(path.absolute()), "-I", "-c", inside.source("probes/deep_facts.py")],
            capture_output=True,
            text=True,
            env=pyc.plain_env(),
            timeout=300,
        )
        facts = json.loads(run.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        result.problems.append(f"the file does not run as its interpreter here ({exc})")
        return
    have = set(facts["builtins"])
    claimed = set(manifest.builtin_modules)
    if have != claimed:
        missing = sorted(claimed - have)
        extra = sorted(have - claimed)
        result.problems.append(
            "its built-in modules are not the manifest's"
            + (f": missing {', '.join(missing)}" if missing else "")
            + (f"; not in the manifest {', '.join(extra)}" if extra else "")
        )
    else:
        result.checked.append(f"built-in modules: the {len(have)} the manifest names")
    for name in facts["pyc_stale"]:
        result.problems.append(
            f"{name.removeprefix(SITE)} is not the compiled form of the source beside it: "
            "changed after the build"
        )
    if facts["pyc_checked"]:
        result.checked.append(
            f".pyc: {facts['pyc_checked']} compiled modules match the sources beside them"
        )


def _check_claims(
    dists: list[_Dist],
    members: dict[str, zipstore.Member],
    read: Reader,
    manifest: Manifest | None,
    result: DeepResult,
) -> None:
    """The SBOM, bundle.json and the lock name the distributions the file holds."""
    here = {_norm(d.name): d.version for d in dists}
    compiled = {_norm(d.name): d.version for d in manifest.distributions} if manifest else {}
    # The pure-Python distributions the compiled-in ones need: the base's, like them.
    needed = {_norm(d.name): d.version for d in manifest.runtime_dependencies} if manifest else {}
    installed = {k: v for k, v in here.items() if k not in compiled and k not in needed}
    config = json.loads(read(BUNDLE_CONFIG)) if BUNDLE_CONFIG in members else None
    if config is not None:
        app = _norm(str(config.get("name", "")))
        listed = {_norm(d["name"]): d["version"] for d in config["distributions"]}
        _compare("bundle.json", listed, {k: v for k, v in installed.items() if k != app}, result)
    raw = read(SBOM_ARCNAME) if SBOM_ARCNAME in members else None
    if raw is None:
        result.warnings.append("no SBOM in the file (made by an older apepy)")
    else:
        bom = sbom.parse(raw)
        wheels = {
            _norm(c.name): c.version or ""
            for c in bom.components
            if str(c.bom_ref).startswith("wheel:")
        }
        baked = {
            _norm(c.name): c.version or ""
            for c in bom.components
            if str(c.bom_ref).startswith("compiled-in:")
        }
        if config is not None:
            app = _norm(str(config.get("name", "")))
            _compare(
                "the SBOM's wheels",
                wheels,
                {k: v for k, v in installed.items() if k != app},
                result,
            )
        _compare("the SBOM's compiled-in packages", baked, compiled, result)
        dependencies = {
            _norm(c.name): c.version or ""
            for c in bom.components
            if str(c.bom_ref).startswith(sbom.RUNTIME_DEPENDENCY)
        }
        _compare("the SBOM's run-time dependencies", dependencies, needed, result)
        _compare(
            "the manifest's run-time dependencies",
            needed,
            {k: v for k, v in here.items() if k in needed},
            result,
        )
        cpython = [c for c in bom.components if str(c.bom_ref) == "cpython"]
        if manifest and (not cpython or cpython[0].version != manifest.python_version):
            result.problems.append("the SBOM's CPython is not the manifest's")
        result.checked.append(f"SBOM: {len(bom.components)} components, as the file holds")
    if LOCK_ARCNAME in members:
        locked = tomllib.loads(read(LOCK_ARCNAME).decode())
        packages = {_norm(p["name"]): str(p.get("version", "")) for p in locked.get("packages", [])}
        app = _norm(str(config.get("name", ""))) if config else ""
        _compare("the lock", packages, {k: v for k, v in installed.items() if k != app}, result)
        result.checked.append(f"lock: {len(packages)} packages, as installed")


def _compare(what: str, claimed: dict[str, str], found: dict[str, str], result: DeepResult) -> None:
    for name in sorted(set(claimed) | set(found)):
        if name not in found:
            result.problems.append(f"{what} names {name} {claimed[name]}, which the file lacks")
        elif name not in claimed:
            result.problems.append(
                f"the file holds {name} {found[name]}, which {what} does not name"
            )
        elif claimed[name] != found[name]:
            result.problems.append(
                f"{what} names {name} {claimed[name]}; the file holds {found[name]}"
            )


def _norm(name: str) -> str:
    return str(canonicalize_name(name))
