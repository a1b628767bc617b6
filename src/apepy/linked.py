"""The C libraries an interpreter links, and where each came from: for its SBOM.

Where a library comes from is decided by ``libraries`` (the one place that decides);
this module only asks the same questions after the build. A library built from a
pinned tarball is that tarball (version, sha256, upstream URL). A library linked
from the system's static archive is the distribution package that installed the
archive, as the package manager names it (Debian: ``dpkg``) -- not apepy's pinned
tarball, which may be another release.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from apepy import deps, libraries, licences, toolchains
from apepy.interpreter import modules
from apepy.toolchains import Toolchain

# Archives the compiler driver and the static libc provide: not components of their own.
_RUNTIME = frozenset(f"lib{n}.a" for n in {"c", "m", "pthread", "dl", "rt", "gcc", "gcc_s"})
_RUNTIME |= {"libstdc++.a", "libgcc_eh.a", "libutil.a"}


@dataclass(frozen=True)
class LinkedLibrary:
    name: str
    # The upstream version of a pinned tarball; the package's version for the system's.
    version: str
    license: str
    # "source": apepy's build of the pinned tarball; "system": the system's archive.
    origin: str
    archives: tuple[str, ...]
    # Who links it: stdlib modules (``_ssl``) and compiled-in ones (``lxml.etree``).
    used_by: tuple[str, ...]
    sha256: str = ""
    url: str = ""
    # The system package that installed the archive (``libssl-dev``) and its source
    # package (``openssl``), where the package manager knows it.
    package: str = ""
    source_package: str = ""


def linked(
    toolchain: Toolchain, builtins: Iterable[str], extension_libs: dict[str, tuple[str, ...]]
) -> list[LinkedLibrary]:
    """The libraries behind ``builtins`` (stdlib modules) and ``extension_libs`` (a
    compiled-in module's dotted name → the ``-l`` names its link named)."""
    table = modules.FROM_SOURCE if toolchain.libraries_from_source else modules.NEEDS
    wanted: dict[str, tuple[bool, set[str]]] = {}  # archive -> (from source, users)
    for module in sorted(set(builtins)):
        for archive in table.get(module, modules.Needs((), "")).libraries:
            wanted.setdefault(archive, (toolchain.libraries_from_source, set()))[1].add(module)
    for dotted, names in sorted(extension_libs.items()):
        archives = [f"lib{n}.a" for n in names if f"lib{n}.a" not in _RUNTIME]
        from_source = libraries.from_source(toolchain, list(names))
        for archive in archives:
            source = from_source and deps.providing(archive) is not None
            wanted.setdefault(archive, (source, set()))[1].add(dotted)
    found: dict[tuple[str, str], LinkedLibrary] = {}
    for archive, (from_source, users) in sorted(wanted.items()):
        lib = _describe(toolchain, archive, from_source, users)
        key = (lib.name, lib.origin)
        if key in found:
            old = found[key]
            lib = LinkedLibrary(
                **{
                    **old.__dict__,
                    "archives": tuple(sorted({*old.archives, *lib.archives})),
                    "used_by": tuple(sorted({*old.used_by, *lib.used_by})),
                }
            )
        found[key] = lib
    return sorted(found.values(), key=lambda lib: (lib.name, lib.origin))


# The C (and C++) runtime a static link takes from the compiler's own search path:
# archive → (name, licence). glibc linked statically carries the LGPL's terms (the
# program's objects must be available for relinking); GCC's runtime libraries carry
# the GCC Runtime Library Exception, which leaves the program's terms alone.
_GCC_RUNTIME = "GPL-3.0-or-later WITH GCC-exception-3.1"
_RUNTIME_LIBRARIES = {
    "libc.a": ("glibc", "LGPL-2.1-or-later"),
    "libgcc.a": ("libgcc", _GCC_RUNTIME),
    "libstdc++.a": ("libstdc++", _GCC_RUNTIME),
}


def runtime(toolchain: Toolchain, cxx: bool) -> list[LinkedLibrary]:
    """The C runtime every static file links (and the C++ one when a module is C++):
    the system's, as the package manager names it; Cosmopolitan's libc, by the
    toolchain's version."""
    if toolchain.family == "cosmo":
        cosmo = [
            LinkedLibrary(
                name="cosmopolitan",
                version=toolchain.compiler_version,
                license="ISC",
                origin="toolchain",
                archives=("cosmopolitan.a",),
                used_by=("python",),
            )
        ]
        if cxx:
            # cosmocc's C++ library (toolchains/cosmo.py, cxx_runtime): LLVM's libc++,
            # with libc++abi and libunwind, as the Cosmopolitan monorepo carries them.
            cosmo.append(
                LinkedLibrary(
                    name="libc++",
                    version=toolchain.compiler_version,
                    license="Apache-2.0 WITH LLVM-exception",
                    origin="toolchain",
                    archives=("libcxx.a",),
                    used_by=("python",),
                )
            )
        return cosmo
    found = []
    for archive, (name, licence) in _RUNTIME_LIBRARIES.items():
        if archive == "libstdc++.a" and not cxx:
            continue
        path = toolchains.system_library(toolchain, archive)
        package, version, source = _package_of(str(path)) if path else ("", "", "")
        found.append(
            LinkedLibrary(
                name=name,
                version=version,
                license=licence,
                origin="toolchain",
                archives=(archive,),
                used_by=("python",),
                package=package,
                source_package=source,
            )
        )
    return found


def _describe(tc: Toolchain, archive: str, from_source: bool, users: set[str]) -> LinkedLibrary:
    pinned = deps.providing(archive)
    if from_source and pinned is not None:
        return LinkedLibrary(
            name=pinned.name,
            version=pinned.version,
            license=licences.LIBRARIES.get(pinned.name, ""),
            origin="source",
            archives=(archive,),
            used_by=tuple(sorted(users)),
            sha256=pinned.sha256,
            url=pinned.url or "",
        )
    other = licences.SYSTEM_ONLY.get(archive)
    name = pinned.name if pinned else other.name if other else archive[3:].split(".")[0]
    licence = licences.LIBRARIES.get(name, "") if pinned else other.license if other else ""
    path = toolchains.system_library(tc, archive) if not tc.libraries_from_source else None
    package, version, source = _package_of(str(path)) if path else ("", "", "")
    return LinkedLibrary(
        name=name,
        version=version,
        license=licence,
        origin="system",
        archives=(archive,),
        used_by=tuple(sorted(users)),
        package=package,
        source_package=source,
    )


@cache
def _package_of(path: str) -> tuple[str, str, str]:
    """The Debian package that installed ``path``: (name, version, source package);
    empty strings where dpkg is absent or does not know the file."""
    try:
        owner = subprocess.run(
            ["dpkg-query", "-S", str(Path(path).resolve())], capture_output=True, text=True
        )
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
        if owner.returncode != 0:
            return "", "", ""
        package = owner.stdout.split(":", 1)[0].strip()
        if ":" in owner.stdout.split(": ", 1)[0]:
            # "libssl-dev:amd64: /usr/lib/...": keep the architecture for the query.
            package = owner.stdout.split(": ", 1)[0].strip()
        shown = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}\t${source:Package}", package],
            capture_output=True,
            text=True,
        )
    except OSError:
        return "", "", ""
    if shown.returncode != 0 or "\t" not in shown.stdout:
        return package.split(":")[0], "", ""
    version, source = shown.stdout.strip().split("\t", 1)
    return package.split(":")[0], version, source
