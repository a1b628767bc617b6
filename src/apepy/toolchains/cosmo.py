"""Cosmopolitan's cosmocc: CPython as an Actually Portable Executable.

cosmocc is found (``--cosmocc DIR``, ``$COSMOCC``, ``cosmocc`` on PATH, the cache)
or downloaded from a pinned release table, verified by sha256 and unpacked into
the cache. The toolchain then follows upstream's documented usage
(tool/cosmocc/README.md in the Cosmopolitan repository):

- fat (the default): ``CC=cosmocc CXX=cosmoc++ AR=cosmoar``. cosmocc compiles every
  file for x86_64 and aarch64 (the aarch64 objects go to ``.aarch64/`` twins) and
  links one APE carrying both, so configure's test programs run natively on an
  x86_64 or aarch64 Linux host;
- one architecture: ``x86_64-unknown-cosmo-cc`` / ``aarch64-unknown-cosmo-cc``
  with ``x86_64-linux-cosmo-ar`` etc.; an aarch64 build on an x86_64 host runs
  configure's test programs under qemu-user (binfmt_misc).

cosmocc cannot be downloaded on apepy's own CI machines: the cosmo build is run by
tests/test_cosmo_build.py with a locally built toolchain laid out like the release
(README, "Verified on"), and written to the release's documented usage; the
discovery, verification, unpacking and argument building are tested in CI.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from apepy import cache, download, ui
from apepy.errors import ApepyError
from apepy.toolchains import cosmo_cpython as cpython_edits
from apepy.toolchains.toolchain import CrossMachine, Options, Toolchain

OUTPUT_KIND: str = "ape"
ARCHES = ("fat", "x86_64", "aarch64")
ENV = "COSMOCC"
MIRROR_ENV = "APEPY_COSMOCC_MIRROR"


@dataclass(frozen=True)
class Release:
    version: str
    url: str
    sha256: str
    size: int | None = None

    @property
    def filename(self) -> str:
        return f"cosmocc-{self.version}.zip"


# sha256 of each release zip, as published with the release and pinned by
# independent downstream users (Homebrew's formula for 4.0.2; the Cosmopolitan
# monorepo's own build for 3.9.2).
RELEASES: tuple[Release, ...] = (
    Release(
        "4.0.2",
        "https://cosmo.zip/pub/cosmocc/cosmocc-4.0.2.zip",
        "85b8c37a406d862e656ad4ec14be9f6ce474c1b436b9615e91a55208aced3f44",
        441_763_966,
    ),
    Release(
        "3.9.2",
        "https://cosmo.zip/pub/cosmocc/cosmocc-3.9.2.zip",
        "f4ff13af65fcd309f3f1cfd04275996fb7f72a4897726628a8c9cf732e850193",
    ),
)
DEFAULT = RELEASES[0]
SUPPORTED = frozenset(r.version for r in RELEASES)

_GET_IT = (
    "download cosmocc-{v}.zip from https://cosmo.zip/pub/cosmocc/ (or the GitHub release of "
    "jart/cosmopolitan), unzip it, and pass the directory with --cosmocc DIR or COSMOCC=DIR"
)


def tool(root: Path, arch: str, name: str) -> Path:
    """The path of one of cosmocc's programs for ``arch`` (``cc``, ``c++``, ``ar``, ...)."""
    if arch == "fat":
        fat = {"cc": "cosmocc", "c++": "cosmoc++", "ar": "cosmoar", "ranlib": "cosmoranlib"}
        if name in fat:
            return root / "bin" / fat[name]
        # objcopy / nm / strip for the x86_64 half; the fat pipeline applies them
        # to the .aarch64/ twins with the aarch64 tools (extensions/link.py, for_arch).
        return root / "bin" / f"x86_64-linux-cosmo-{name}"
    if name in ("cc", "c++"):
        return root / "bin" / f"{arch}-unknown-cosmo-{name}"
    return root / "bin" / f"{arch}-linux-cosmo-{name}"


def version_of(root: Path) -> str:
    """The Cosmopolitan version an unpacked cosmocc carries (from its libc headers)."""
    header = root / "include" / "libc" / "integral" / "normalize.inc"
    try:
        text = header.read_text(encoding="utf-8", errors="replace")
    except OSError:
        raise ApepyError(
            f"{root} is not an unpacked cosmocc (no {header.relative_to(root)})",
            hint=_GET_IT.format(v=DEFAULT.version),
        ) from None
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        found = re.search(rf"#define __COSMOPOLITAN_{part}__ (\d+)", text)
        if not found:
            raise ApepyError(
                f"cannot read the Cosmopolitan version from {header}",
                hint=_GET_IT.format(v=DEFAULT.version),
            )
        parts.append(found.group(1))
    return ".".join(parts)


def locate(explicit: Path | None, *, offline: bool) -> tuple[Path, str]:
    """Find cosmocc, or download the pinned default; return its root and version."""
    candidates: list[tuple[str, Path]] = []
    if explicit is not None:
        candidates.append(("--cosmocc", explicit))
    elif os.environ.get(ENV):
        candidates.append((f"${ENV}", Path(os.environ[ENV])))
    else:
        on_path = shutil.which("cosmocc")
        if on_path:
            candidates.append(("PATH", Path(on_path).resolve().parent.parent))
    for origin, root in candidates:
        root = root.expanduser().absolute()
        if not (root / "bin" / "cosmocc").is_file():
            raise ApepyError(
                f"{origin} points at {root}, which has no bin/cosmocc",
                hint="give the directory the cosmocc zip was unpacked into (it holds bin/, include/, lib/)",
            )
        version = version_of(root)
        if version not in SUPPORTED:
            raise ApepyError(
                f"cosmocc {version} (from {origin}) is not a version apepy supports",
                hint=f"use cosmocc {', '.join(sorted(SUPPORTED))}: "
                + _GET_IT.format(v=DEFAULT.version),
            )
        return root, version
    return ensure_release(DEFAULT, offline=offline), DEFAULT.version


def ensure_release(release: Release, *, offline: bool) -> Path:
    """The release unpacked in the cache, downloading and verifying it first if needed."""
    store = cache.cache_dir("toolchains")
    with cache.entry(store / f"cosmocc-{release.version}", marker=".apepy-complete") as entry:
        if entry.ready:
            return entry.path
        archive = store / release.filename
        if not archive.is_file():
            if offline:
                raise ApepyError(
                    f"cosmocc {release.version} is not in the cache and --offline forbids downloading it",
                    hint=_GET_IT.format(v=release.version)
                    + f" (or put {release.filename} into {store})",
                )
            mirror = os.environ.get(MIRROR_ENV)
            url = f"{mirror.rstrip('/')}/{release.filename}" if mirror else release.url
            ui.info(f"downloading cosmocc {release.version} ({url})")
            try:
                download.fetch(url, archive, release.sha256)
            except download.NetworkError as exc:
                raise ApepyError(
                    f"cannot download cosmocc {release.version}: {exc}",
                    hint=_GET_IT.format(v=release.version),
                ) from exc
        else:
            _verify(archive, release)
        with ui.phase("cosmocc", f"unpacking cosmocc {release.version}"):
            _unpack(archive, entry.work)
        entry.publish(release.sha256)
    return entry.path


def _verify(archive: Path, release: Release) -> None:
    from apepy.hashing import sha256_file

    digest = sha256_file(archive)
    if digest != release.sha256:
        archive.unlink()
        raise ApepyError(
            f"{archive.name} does not match its pinned sha256 (expected {release.sha256}, got {digest})",
            hint="the file was corrupted or tampered with and has been deleted; run again to download it",
        )


def _unpack(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename
                if name.startswith("/") or ".." in name.split("/"):
                    raise ApepyError(
                        f"{archive.name} has an unsafe member {name!r}; refusing it",
                        hint=f"delete {archive} and download the release again",
                    )
                target = dest / name
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                mode = info.external_attr >> 16
                # The zip records which files are programs (bin/, libexec/).
                if mode & 0o111:
                    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ApepyError(
            f"cannot unpack {archive}: {exc}", hint=f"delete {archive} and run again"
        ) from exc


def qemu_for(arch: str) -> str | None:
    """How this host runs ``arch`` programs that configure builds: None if natively."""
    host = os.uname().machine
    if arch in ("fat", host) or (arch == "aarch64" and host == "arm64"):
        return None
    if Path(f"/proc/sys/fs/binfmt_misc/qemu-{arch}").exists() or shutil.which(f"qemu-{arch}"):
        return f"qemu-{arch}"
    raise ApepyError(
        f"building for {arch} on this {host} host runs configure's test programs under qemu-user, "
        "which is not installed",
        hint="install it (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support), "
        "or build --arch fat (runs natively) or --arch " + host,
    )


# The programs a build runs: compilers, the archiver, objcopy (the APE out of a
# single-architecture link, and renaming extensions' init functions), nm, and the
# target gcc (extensions' partial links).
_NEEDED = ("cc", "c++", "ar", "ranlib", "objcopy", "nm", "gcc")


def detect(options: Options) -> Toolchain:
    if options.libraries == "system":
        raise ApepyError(
            "cosmocc has no system libraries: every C library is built from source",
            hint="drop --libraries system (cosmo builds use --libraries source)",
        )
    arch = options.arch or "fat"
    if arch not in ARCHES:
        raise ApepyError(f"unknown --arch {arch!r}", hint=f"choose one of: {', '.join(ARCHES)}")
    root, version = locate(options.cosmocc, offline=options.offline)
    qemu_for(arch)
    missing = [
        p
        for p in (tool(root, arch, name) for name in _NEEDED)
        if not p.is_file() or not os.access(p, os.X_OK)
    ]
    if missing:
        raise ApepyError(
            f"cosmocc {version} at {root} lacks {', '.join(str(p) for p in missing)}",
            hint="this cosmocc was unpacked without its programs' execute bits, or is incomplete; "
            + _GET_IT.format(v=version),
        )
    _put_on_path(root / "bin")
    return toolchain(root, version, arch)


def _put_on_path(bin_dir: Path) -> None:
    """cosmocc's bin/ first on PATH for every program apepy runs from now on.

    cosmocc's README has users put it there, and its scripts rely on it: cosmoranlib
    runs ``x86_64-linux-cosmo-ranlib`` by name. Every build step's environment starts
    from this process's, so this one place covers configure, make and the wrapper.
    """
    entries = os.environ.get("PATH", "").split(os.pathsep)
    if str(bin_dir) not in entries:
        os.environ["PATH"] = os.pathsep.join([str(bin_dir), *filter(None, entries)])


def toolchain(root: Path, version: str, arch: str) -> Toolchain:
    """The Toolchain for an unpacked cosmocc (pure data: no program is run here)."""
    targets = {"fat": "cosmo-x86_64+aarch64", "x86_64": "cosmo-x86_64", "aarch64": "cosmo-aarch64"}
    return Toolchain(
        family="cosmo",
        cc=str(tool(root, arch, "cc")),
        cxx=str(tool(root, arch, "c++")),
        ar=str(tool(root, arch, "ar")),
        ranlib=str(tool(root, arch, "ranlib")),
        # The fat output is an APE whose headers a stripper would break; the
        # .dbg side files keep the symbols instead.
        strip=None,
        compiler_version=f"cosmocc {version} ({arch})",
        target=targets[arch],
        arch=arch,
        # No flags of its own: CPython gets its own -O3 and each library its usual -O2,
        # as on the host. superconfigure's -Os made the APE start 1.2x and run 1.5x
        # slower than the host file for 16 % less size (docs/performance.md, "The APE's
        # start-up on Linux"). No -static/-fPIC games (cosmocc always links statically).
        cflags=(),
        ldflags=(),
        configure_args=(
            "--disable-loadable-sqlite-extensions",
            "--without-system-expat",
            "--with-lto=no",
            # libedit (BSD) from the sysroot, not GNU readline (GPLv3): see apepy/deps.
            "--with-readline=editline",
        ),
        configure_env={"MODULE_BUILDTYPE": "static", "LINKFORSHARED": " "},
        configure_cache=cpython_edits.CONFIGURE_CACHE,
        # superconfigure builds every library without PIC (--without-pic, OpenSSL's
        # no-pic): cosmocc links static, non-PIE.
        pic_flags=(),
        triplet=None if arch == "fat" else _triplet(arch),
        # cosmocc's README: INSTALL=cosmoinstall installs each file's .aarch64/ twin with it.
        install=str(root / "bin" / "cosmoinstall") if arch == "fat" else None,
        # Cosmopolitan makes no shared objects; cargo has no Cosmopolitan target.
        shared_objects=False,
        rust=False,
        # No system libraries: cosmocc's search path holds its libc alone.
        libraries="source",
        objcopy=str(tool(root, arch, "objcopy")),
        nm=str(tool(root, arch, "nm")),
        # <arch>-unknown-cosmo-cc links an ELF holding the APE image (the fat
        # cosmocc's apelink writes the APE directly).
        output_from_link=()
        if arch == "fat"
        else (str(tool(root, arch, "objcopy")), "-S", "-O", "binary"),
        source_edits=cpython_edits.SOURCE_EDITS,
        partial_link_cc=str(tool(root, arch, "gcc")),
    )


def _triplet(arch: str) -> str:
    return f"{arch}-unknown-linux-gnu"


def _root(tc: Toolchain) -> Path:
    return Path(tc.cc).parent.parent


def for_arch(tc: Toolchain, arch: str) -> Toolchain:
    """One architecture's tools from the directory of fat cosmocc: ``<arch>-unknown-cosmo-cc``
    and ``<arch>-linux-cosmo-ar`` (cosmocc's README: use these for projects such as OpenSSL)."""
    if arch not in ARCHES[1:]:
        raise ApepyError(
            f"cosmocc has no {arch!r} toolchain", hint=f"one of: {', '.join(ARCHES[1:])}"
        )
    root = _root(tc)
    return dataclasses.replace(
        tc,
        cc=str(tool(root, arch, "cc")),
        cxx=str(tool(root, arch, "c++")),
        ar=str(tool(root, arch, "ar")),
        ranlib=str(tool(root, arch, "ranlib")),
        arch=arch,
        triplet=_triplet(arch),
        install=None,
        objcopy=str(tool(root, arch, "objcopy")),
        nm=str(tool(root, arch, "nm")),
        partial_link_cc=str(tool(root, arch, "gcc")),
    )


def runs_linux_wheels(platform: str) -> bool:
    return "cosmo" in platform


def system_library(toolchain: Toolchain, filename: str) -> Path | None:
    # cosmocc's search path holds its own libc alone: every other library is apepy's.
    return None


def cross_machine(toolchain: Toolchain) -> CrossMachine | None:
    # "linux": Cosmopolitan's API is POSIX, and build systems choose Linux's branches
    # for it (file names, libraries). A fat program is an APE, which Linux's execve
    # refuses without binfmt_misc but a shell runs; one architecture's link is an ELF
    # that runs directly (aarch64 through qemu-user's binfmt_misc, as for configure).
    return CrossMachine(
        system="linux",
        cpu_family="aarch64" if toolchain.arch == "aarch64" else "x86_64",
        endian="little",
        exe_wrapper=("/bin/sh",) if toolchain.fat else (),
    )


def cxx_runtime(toolchain: Toolchain) -> tuple[str, ...]:
    # cosmocc's C++ library is LLVM's libc++ (libcxx.a); its libstdc++.a is empty.
    return ("-lcxx",)
