"""C libraries from source: pinned tarballs built with the selected toolchain into a sysroot.

The same builder serves the host toolchain (tested here with gcc) and the cosmo
toolchain (cosmocc as CC): only the Toolchain's compilers and flags differ. Each
library lands in a per-toolchain sysroot in the cache and is reused across builds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from apepy import cache, download, procs, ui
from apepy.errors import ApepyError
from apepy.hashing import sha256_file
from apepy.toolchains import Toolchain


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    filename: str
    url: str
    sha256: str
    recipe: str  # "autoconf", "zlib" or "bzip2": how the package builds
    products: tuple[str, ...]  # static libraries it installs into <sysroot>/lib
    # Other tarballs of the same release that are accepted, by sha256: Debian's
    # repacked orig tarballs, which its source archive serves.
    also_accepted: dict[str, str] = field(default_factory=dict)
    configure_args: tuple[str, ...] = ()


LIBRARIES: dict[str, Library] = {
    lib.name: lib
    for lib in (
        Library(
            "zlib",
            "1.3.1",
            "zlib-1.3.1.tar.gz",
            "https://zlib.net/fossils/zlib-1.3.1.tar.gz",
            "9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f03b72df23",
            recipe="zlib",
            products=("libz.a",),
            also_accepted={
                "60dd315c07f616887caa029408308a018ace66e3d142726a97db164b3b8f69fb": "Debian zlib_1.3.dfsg+really1.3.1.orig.tar.gz",
            },
        ),
        Library(
            "bzip2",
            "1.0.8",
            "bzip2-1.0.8.tar.gz",
            "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz",
            "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269",
            recipe="bzip2",
            products=("libbz2.a",),
        ),
        Library(
            "xz",
            "5.4.1",
            "xz-5.4.1.tar.xz",
            "https://tukaani.org/xz/xz-5.4.1.tar.xz",
            "5d9827aa1875b21c288f78864bb26d2650b436ea8d2cad364e4921eb6266a5a5",
            recipe="autoconf",
            products=("liblzma.a",),
            configure_args=(
                "--disable-xz",
                "--disable-xzdec",
                "--disable-lzmadec",
                "--disable-lzmainfo",
                "--disable-lzma-links",
                "--disable-scripts",
                "--disable-doc",
                "--disable-nls",
            ),
        ),
    )
}


def sysroot(toolchain: Toolchain) -> Path:
    """The toolchain's sysroot: ``include/`` and ``lib/`` of every library built for it."""
    key = hashlib.sha256(toolchain.identity().encode()).hexdigest()[:16]
    return cache.cache_dir("sysroots", f"{toolchain.name}-{key}")


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
    if offline:
        raise _missing(lib, local)
    try:
        download.fetch(lib.url, local, lib.sha256)
    except download.NetworkError as exc:
        raise _missing(lib, local, str(exc)) from exc
    return local, lib.sha256


def _missing(lib: Library, local: Path, reason: str | None = None) -> ApepyError:
    cause = f" ({reason})" if reason else ""
    return ApepyError(
        f"the {lib.name} {lib.version} source is not in the cache and cannot be downloaded{cause}",
        hint=f"download {lib.url} on a machine with internet and drop it into {local.parent} "
        f"as {lib.filename} (sha256 {lib.sha256})",
    )


def build(lib: Library, toolchain: Toolchain, *, jobs: int, offline: bool = False) -> Path:
    """Build ``lib`` into the toolchain's sysroot unless it is there already; return the sysroot."""
    root = sysroot(toolchain)
    source, digest = tarball(lib, offline=offline)
    marker = root / f".{lib.name}-{lib.version}-{digest[:16]}.built"
    with cache.locked(root / f".{lib.name}.lock"):
        if marker.is_file() and all((root / "lib" / p).is_file() for p in lib.products):
            return root
        log = cache.cache_dir("logs") / f"deps-{lib.name}-{lib.version}.log"
        work = cache.cache_dir("deps-build") / f"{lib.name}-{lib.version}-{root.name}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            with ui.phase("deps", f"{lib.name} {lib.version} with the {toolchain.name} toolchain"):
                tree = _unpack(source, work)
                _RECIPES[lib.recipe](lib, toolchain, tree, root, log, jobs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        missing = [p for p in lib.products if not (root / "lib" / p).is_file()]
        if missing:
            raise ApepyError(
                f"building {lib.name} installed no {', '.join(missing)}", details=f"full log: {log}"
            )
        marker.write_text(lib.version + "\n")
    return root


def _unpack(source: Path, work: Path) -> Path:
    try:
        with tarfile.open(source) as tar:
            tar.extractall(work, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ApepyError(f"cannot unpack {source}: {exc}", hint="delete it and run again") from exc
    trees = [p for p in work.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise ApepyError(f"{source} does not unpack to one directory")
    return trees[0]


def _env(toolchain: Toolchain) -> dict[str, str]:
    return {
        "CC": toolchain.cc,
        "AR": toolchain.ar,
        "RANLIB": toolchain.ranlib,
        # Position-independent objects also link into non-PIE programs; -O2 as upstream.
        "CFLAGS": " ".join(["-O2", "-fPIC", *toolchain.cflags]),
    }


def _run(cmd: list[str], tree: Path, log: Path, env: dict[str, str], what: str) -> None:
    procs.run_logged(
        cmd, cwd=tree, log=log, env=env, what=what, hint="see the log for the compiler's error"
    )


def _autoconf(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = _env(tc)
    args = [
        "./configure",
        f"--prefix={root}",
        "--disable-shared",
        "--enable-static",
        *lib.configure_args,
    ]
    _run(args, tree, log, env, f"configure {lib.name}")
    _run(["make", f"-j{jobs}"], tree, log, env, f"make {lib.name}")
    _run(["make", "install"], tree, log, env, f"install {lib.name}")


def _zlib(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = _env(tc)
    _run(["./configure", "--static", f"--prefix={root}"], tree, log, env, "configure zlib")
    _run(["make", f"-j{jobs}", "libz.a"], tree, log, env, "make zlib")
    _run(["make", "install"], tree, log, env, "install zlib")


def _bzip2(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    # bzip2 has no configure: its Makefile takes the tools as make variables.
    env = _env(tc)
    flags = f"{env['CFLAGS']} -D_FILE_OFFSET_BITS=64"
    _run(
        [
            "make",
            f"-j{jobs}",
            "libbz2.a",
            f"CC={tc.cc}",
            f"AR={tc.ar}",
            f"RANLIB={tc.ranlib}",
            f"CFLAGS={flags}",
        ],
        tree,
        log,
        env,
        "make bzip2",
    )
    (root / "lib").mkdir(parents=True, exist_ok=True)
    (root / "include").mkdir(parents=True, exist_ok=True)
    shutil.copy2(tree / "libbz2.a", root / "lib" / "libbz2.a")
    shutil.copy2(tree / "bzlib.h", root / "include" / "bzlib.h")
    os.chmod(root / "lib" / "libbz2.a", 0o644)


_RECIPES = {"autoconf": _autoconf, "zlib": _zlib, "bzip2": _bzip2}
