"""Where each C library comes from: the system's static archive, or apepy's build of the
pinned source in the toolchain's sysroot (``apepy.deps``).

The one place that decides, for the interpreter and for extensions alike, and the only
caller of ``deps.build``. A toolchain whose ``libraries_from_source`` is set (cosmocc,
``--libraries source``) takes every library from the sysroot. Otherwise the system's
archive is used where it links statically with everything it needs, and apepy's
build where it does not: for an extension the choice is made twice, by the same rule
(``from_source``): before the package's build, so that its probe finds the library at
all (pyzmq bundles libzmq, and downloads it, when pkg-config finds none), and at the
re-link.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from apepy import deps, toolchains
from apepy.context import Context
from apepy.toolchains import Toolchain

# Libraries a shared link names (every Rust cdylib does) that a static link gets
# otherwise: glibc's own archives provide c, and gcc's driver adds libgcc_eh, the
# static unwinder, in place of libgcc_s, which has no static form.
STATIC_RUNTIME = frozenset({"c", "gcc_s"})
# What the compiler driver links by itself, wherever its archive is.
_DRIVER_RUNTIME = frozenset({"stdc++", "gcc", "m", "pthread", "dl", "rt"})


def sysroot(tc: Toolchain) -> Path | None:
    """The cache directory of the C libraries apepy builds for ``tc``, when it takes
    every library from there; None when it links the system's."""
    return deps.sysroot(tc) if tc.libraries_from_source else None


def system_archive(tc: Toolchain, filename: str) -> Path | None:
    """The system's ``filename`` (``libssl.a``) that a build with ``tc`` would link, if
    it links the system's libraries at all."""
    if tc.libraries_from_source:
        return None
    return toolchains.system_library(tc, filename)


def prepare(tc: Toolchain, ctx: Context, archives: Iterable[str] | None = None) -> Path | None:
    """Build the libraries that install ``archives`` (None: every library apepy has a
    recipe for) into the sysroot of a toolchain that takes them from there; return the
    sysroot (None: the toolchain links the system's)."""
    if not tc.libraries_from_source:
        return None
    if archives is None:
        return _build(tc, ctx)
    names = sorted({lib.name for a in archives if (lib := deps.providing(a)) is not None})
    return _build(tc, ctx, [deps.LIBRARIES[n] for n in names])


def _build(tc: Toolchain, ctx: Context, libs: list[deps.Library] | None = None) -> Path:
    """Each of ``libs`` (None: every one of the family's) into the sysroot, once."""
    if libs is None:
        return deps.build_all(tc, jobs=ctx.jobs, offline=ctx.offline)
    for lib in libs:
        deps.build(lib, tc, jobs=ctx.jobs, offline=ctx.offline)
    return deps.sysroot(tc)


def missing(tc: Toolchain, archives: tuple[str, ...]) -> list[str]:
    """Those of ``archives`` (``libgdbm.a``) a build with ``tc`` cannot link."""
    if tc.libraries_from_source:
        return [a for a in archives if deps.providing(a) is None]
    return [a for a in archives if system_archive(tc, a) is None]


def missing_reason(tc: Toolchain, absent: list[str], debian: str) -> str:
    """Why ``absent`` cannot be linked, for a message; ``debian``: the package carrying them."""
    if tc.libraries_from_source:
        return f"apepy has no recipe for {', '.join(absent)}"
    return f"{', '.join(absent)} not found (Debian package {debian})"


def hint(tc: Toolchain, debian_packages: list[str]) -> str:
    """How to get the libraries a required module lacks."""
    if tc.libraries_from_source:
        return "add a recipe for the library to apepy's table (apepy/deps)"
    return f"install them (Debian/Ubuntu: apt-get install {' '.join(debian_packages)})"


def system_links(toolchain: Toolchain, lib: str) -> bool:
    """Does the toolchain's system have a static ``lib{lib}.a`` whose own needs all have
    static archives too?

    Debian's libzmq.a needs Kerberos (libgssapi_krb5), which ships no .a: apepy's own
    libzmq, built without GSSAPI, is the one that links.
    """
    if system_archive(toolchain, f"lib{lib}.a") is None:
        return False
    names = [f[2:] for f in static_closure([lib]) if f.startswith("-l")]
    return all(
        system_archive(toolchain, f"lib{name}.a") is not None
        for name in names
        if name not in STATIC_RUNTIME | _DRIVER_RUNTIME
    )


def from_source(toolchain: Toolchain, libs: list[str]) -> bool:
    """Do the libraries ``libs`` (``-l`` names) come from apepy's builds of the pinned
    sources?

    All of those apepy has a recipe for, or none: one of them the system cannot link
    statically (Debian ships no libxslt.a) takes every one from the sysroot, so the set
    is one consistent build (apepy's libxml2 for its libxslt, not the system's, which
    needs ICU).
    """
    if toolchain.libraries_from_source:
        return True
    return not all(
        system_links(toolchain, n) for n in libs if deps.providing(f"lib{n}.a") is not None
    )


def package_env(project: str, toolchain: Toolchain, ctx: Context) -> dict[str, str]:
    """What the build of ``project`` needs in its environment to find the C libraries it
    looks for; builds those that come from source into the sysroot first."""
    if toolchain.libraries_from_source:
        # Every recipe is built already (the sysroot's headers are prepared for each
        # package build): the sysroot's .pc files only, never the system's.
        return {"PKG_CONFIG_LIBDIR": str(deps.sysroot(toolchain) / "lib" / "pkgconfig")}
    wanted = deps.wanted_by(canonicalize_name(project))
    names = [p.removeprefix("lib").removesuffix(".a") for lib in wanted for p in lib.products]
    if not wanted or not from_source(toolchain, names):
        return {}
    pc = _build(toolchain, ctx, list(wanted)) / "lib" / "pkgconfig"
    # Searched before the system's own .pc files.
    searched = [str(pc), *filter(None, [os.environ.get("PKG_CONFIG_PATH")])]
    return {"PKG_CONFIG_PATH": os.pathsep.join(searched)}


def link_flags(names: list[str], toolchain: Toolchain, ctx: Context) -> list[str]:
    """The link flags of the C libraries ``names``, each with what its static archive
    needs: from the system, or (``from_source``) from the sysroot, with the closure
    from the sysroot's own .pc files."""
    if not from_source(toolchain, names):
        return static_closure(names)
    recipes = {n: r for n in names if (r := deps.providing(f"lib{n}.a")) is not None}
    # Each is built once into the sysroot (deps.build is a no-op when it is there).
    root = _build(toolchain, ctx, list(recipes.values()))
    system = static_closure([n for n in names if n not in recipes])
    ours = static_closure(list(recipes), root / "lib" / "pkgconfig")
    # By path, not by -L: a sysroot directory would also capture the interpreter's own
    # libraries (OpenSSL, zlib), which come from the system's archives its objects
    # were compiled against.
    built = [
        str(root / "lib" / f"lib{f[2:]}.a")
        if f.startswith("-l") and (root / "lib" / f"lib{f[2:]}.a").is_file()
        else f
        for f in ours
    ]
    return [*built, *(f for f in system if f not in ours)]


def static_closure(libs: list[str], pc_dir: Path | None = None) -> list[str]:
    """Each library followed by what its static archive needs, from pkg-config.

    A static libxcb needs libXau and libXdmcp; nothing in the extension's own link
    line says so. pkg-config's --static answer does, when the library ships a .pc.
    ``pc_dir``: read the .pc files there only (a sysroot's), not the system's.
    """
    out: list[str] = []
    known: list[str] | None = None
    for lib in libs:
        flags = [f"-l{lib}"]
        candidates = [lib, f"lib{lib}"]
        module = _pc_module(lib, candidates, pc_dir)
        if module is None:
            # The .pc is often named otherwise (freetype → freetype2, xml2 → libxml-2.0).
            if known is None:
                listed = _pkg_config("--list-all", pc_dir=pc_dir)
                known = [line.split()[0] for line in listed.splitlines() if line.split()]
            module = _pc_module(
                lib, sorted(m for m in known if lib in re.sub(r"[^a-z0-9]", "", m.lower())), pc_dir
            )
        if module is not None:
            flags = _pkg_config("--static", "--libs-only-l", module, pc_dir=pc_dir).split()
        for flag in flags:
            # A static link resolves left to right: a library named again moves to
            # the end, after everything that needs it.
            if flag in out:
                out.remove(flag)
            out.append(flag)
    return out


def _pkg_config(*args: str, pc_dir: Path | None = None) -> str:
    env = None if pc_dir is None else {**os.environ, "PKG_CONFIG_LIBDIR": str(pc_dir)}
    try:
        found = subprocess.run(["pkg-config", *args], capture_output=True, text=True, env=env)
    except OSError:
        return ""
    return found.stdout if found.returncode == 0 else ""


def _pc_module(lib: str, candidates: list[str], pc_dir: Path | None = None) -> str | None:
    """The first pkg-config module whose own libraries include ``-l<lib>``."""
    for module in candidates:
        if f"-l{lib}" in _pkg_config("--libs-only-l", module, pc_dir=pc_dir).split():
            return module
    return None
