"""The builder: a library from its pinned tarball into the toolchain's sysroot, once.

Each library lands in a per-toolchain sysroot in the cache (keyed by the
toolchain's library identity) and is reused across builds; a marker written last
names the release, tarball and recipe fingerprint, so a changed recipe rebuilds.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

from apepy import cache, download, edits, hashing, ui
from apepy.deps import fat, recipes
from apepy.deps.commands import EPOCH_FILE, FAT_TWIN_DIR
from apepy.deps.recipes import RECIPES
from apepy.deps.table import LIBRARIES, Library
from apepy.errors import ApepyError
from apepy.hashing import sha256_file
from apepy.toolchains import Toolchain

# Part of every library's build marker: bump it when what every recipe does changes
# (a recipe's own code is in the marker already: recipes.FILES).
RECIPE_REVISION = "2"


def sysroot(toolchain: Toolchain) -> Path:
    """The toolchain's sysroot: ``include/`` and ``lib/`` of every library built for it.

    Keyed by how every library of the toolchain's family is built, too: a sysroot
    never changes under a build that links from it. Shared by two apepy versions
    whose tables differ (or by two builds at once), one sysroot rebuilt a library in
    place while the other linked, and an interpreter was cached with the wrong one
    (a libffi without executable closures, found so).
    """
    recipes_of_family = sorted(
        fingerprint(lib) for lib in LIBRARIES.values() if toolchain.family in lib.families
    )
    key = hashing.cache_key(
        "\n".join([toolchain.library_identity(), *recipes_of_family]), length=16
    )
    return cache.cache_dir("sysroots", f"{toolchain.family}-{key}")


def fingerprint(lib: Library) -> str:
    """Everything about how ``lib`` is built, including what it builds against."""
    parts = [
        RECIPE_REVISION,
        repr(lib),
        hashing.code_digest(recipes.FILES[lib.recipe]),
        *(fingerprint(LIBRARIES[r]) for r in lib.requires),
    ]
    return hashing.cache_key("\n".join(parts), length=12)


def tarball(lib: Library, *, offline: bool) -> tuple[Path, str]:
    """The verified source tarball and its sha256: from the cache, or downloaded."""
    shelf = cache.cache_dir("sources", "deps")
    local = shelf / lib.filename
    if local.is_file():
        digest = sha256_file(local)
        if digest == lib.sha256 or digest in lib.also_accepted:
            return local, digest
        raise ApepyError(
            f"checksum mismatch for {local}: sha256 {digest}, pinned {lib.sha256}",
            hint="delete the file and run again, or put the release tarball there",
        )
    if offline or lib.url is None:
        raise _missing(lib, local)
    try:
        download.fetch(lib.url, local, lib.sha256)
    except download.NetworkError as exc:
        raise _missing(lib, local, str(exc)) from exc
    return local, lib.sha256


def _missing(lib: Library, local: Path, reason: str | None = None) -> ApepyError:
    cause = f" ({reason})" if reason else ""
    if lib.url is None:
        return ApepyError(
            f"the {lib.name} {lib.version} source is not in the cache, and no upstream URL serves the pinned file",
            hint=f"put {lib.origin} into {local.parent} as {lib.filename} (sha256 {lib.sha256})",
        )
    package, version = lib.debian
    debian = (
        f"; or take it from Debian's source package {package} {version} (scripts/setup does)"
        if package
        else ""
    )
    return ApepyError(
        f"the {lib.name} {lib.version} source is not in the cache and cannot be downloaded{cause}",
        hint=f"download {lib.url} on a machine with internet and drop it into {local.parent} "
        f"as {lib.filename} (sha256 {lib.sha256}){debian}",
    )


def build_all(
    toolchain: Toolchain,
    *,
    jobs: int,
    offline: bool = False,
    names: Iterable[str] | None = None,
) -> Path:
    """Build every library (or those named) into the toolchain's sysroot; return the sysroot."""
    root = sysroot(toolchain)
    every = [n for n, lib in LIBRARIES.items() if toolchain.family in lib.families]
    for name in names if names is not None else every:
        if name not in LIBRARIES:
            raise ApepyError(
                f"no C library {name!r} in apepy's table", hint=f"known: {', '.join(LIBRARIES)}"
            )
        root = build(LIBRARIES[name], toolchain, jobs=jobs, offline=offline)
    return root


def build(lib: Library, toolchain: Toolchain, *, jobs: int, offline: bool = False) -> Path:
    """Build ``lib`` into the toolchain's sysroot unless it is there already; return the sysroot.

    The libraries it requires are built first, into the same sysroot.
    """
    if toolchain.family not in lib.families:
        raise ApepyError(
            f"{lib.name} {lib.version} does not build with the {toolchain.family} toolchain yet",
            hint=f"build with --toolchain {lib.families[0]}, or leave out the extension that "
            f"links {', '.join(lib.products)}",
        )
    for name in lib.requires:
        build(LIBRARIES[name], toolchain, jobs=jobs, offline=offline)
    root = sysroot(toolchain)
    source, digest = tarball(lib, offline=offline)
    marker = root / f".{lib.name}-{lib.version}-{digest[:16]}-{fingerprint(lib)}.built"
    # The entry is the marker file, written last (atomically); the library's files go
    # into the shared sysroot itself, so the marker's check is that they are all there.
    with cache.entry(
        marker,
        layout="file",
        lock=root / f".{lib.name}.lock",
        check=lambda _path, _text: not _missing_products(lib, toolchain, root),
    ) as entry:
        if entry.ready:
            return root
        for old in root.glob(f".{lib.name}-*.built"):
            old.unlink()
        log = cache.cache_dir("logs") / f"deps-{lib.name}-{lib.version}.log"
        log.unlink(missing_ok=True)
        work = cache.cache_dir("deps-build") / f"{lib.name}-{lib.version}-{root.name}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            with ui.phase(
                "deps", f"{lib.name} {lib.version} with the {toolchain.family} toolchain"
            ):
                if lib.per_arch and toolchain.fat:
                    fat.build_per_arch(lib, toolchain, source, work, root, log, jobs, _build_into)
                else:
                    _build_into(lib, toolchain, source, work, root, log, jobs)
                _finish(lib, toolchain, root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        missing = _missing_products(lib, toolchain, root)
        if missing:
            raise ApepyError(
                f"building {lib.name} installed no {', '.join(missing)}",
                hint="see the log; the library's entry in apepy's table needs updating",
                details=f"full log: {log}",
            )
        entry.publish(lib.version + "\n")
    return root


def _build_into(
    lib: Library, tc: Toolchain, source: Path, work: Path, root: Path, log: Path, jobs: int
) -> None:
    tree = _unpack(source, work)
    edits.apply(
        tree,
        lib.options_for(tc.family).edits,
        subject=f"{lib.name} {lib.version}",
        hint="the pinned source changed; the edit in apepy's library table needs updating",
    )
    RECIPES[lib.recipe](lib, tc, tree, root, log, jobs)


def _missing_products(lib: Library, tc: Toolchain, root: Path) -> list[str]:
    wanted = [*lib.products, *lib.aliases]
    if tc.fat:
        # Fat archives come with their aarch64 twin.
        wanted += [f"{FAT_TWIN_DIR}/{p}" for p in wanted]
    return [p for p in wanted if not (root / "lib" / p).is_file()]


def _unpack(source: Path, work: Path) -> Path:
    try:
        with tarfile.open(source) as tar:
            members = tar.getmembers()
            tar.extractall(work, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ApepyError(f"cannot unpack {source}: {exc}", hint="delete it and run again") from exc
    trees = [p for p in work.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise ApepyError(
            f"{source} does not unpack to one directory", hint="delete it and run again"
        )
    # The release's own date (its newest file), read by build_env.
    (trees[0] / EPOCH_FILE).write_text(str(max((int(m.mtime) for m in members), default=0)))
    return trees[0]


def _finish(lib: Library, tc: Toolchain, root: Path) -> None:
    """Aliases, and no libtool archives: a .la names the sysroot's path and is not needed
    for static linking."""
    libdir = root / "lib"
    # An alias may have its own .la too (libpng installs libpng.la beside libpng16.la).
    for product in (*lib.products, *lib.aliases):
        (libdir / product).with_suffix(".la").unlink(missing_ok=True)
    dirs = [libdir, libdir / FAT_TWIN_DIR] if tc.fat else [libdir]
    for directory in dirs:
        for alias, target in lib.aliases.items():
            link = directory / alias
            link.unlink(missing_ok=True)
            link.symlink_to(target)
