"""C libraries from source: pinned tarballs built with the selected toolchain into a sysroot.

The same builder serves the host toolchain (tested here with gcc) and the cosmo
toolchain (cosmocc as CC): only the Toolchain's compilers and flags differ. Each
library lands in a per-toolchain sysroot in the cache and is reused across builds.

The libraries are the ones CPython's stdlib extension modules link: zlib, bzip2,
xz (``zlib``, ``_bz2``, ``_lzma``), SQLite (``_sqlite3``), OpenSSL (``_ssl``,
``_hashlib``), libffi (``_ctypes``), ncurses (``_curses``, ``_curses_panel``),
libedit (``readline``) and util-linux's libuuid (``_uuid``).

Line editing: **libedit**, not GNU readline. readline is GPLv3, and a static
interpreter that links it must be distributed under the GPL as a whole; libedit
is BSD-licensed, like every other library here (ncurses: MIT-style). CPython's
``readline`` module builds against libedit's readline emulation in both series
we support: ``configure --with-readline=editline`` defines ``WITH_EDITLINE`` and
``Modules/readline.c`` then includes ``<editline/readline.h>`` — checked in the
3.11.2 and 3.13.15 source tarballs (3.13 also reports ``readline.backend ==
"editline"``). libedit needs a terminfo library: it is linked against the
ncurses built here, which the sysroot also offers as ``-lncurses`` and ``-ltinfo``
so that libedit's and CPython's configure probes find it there first.

Where each pinned hash comes from: every sha256 below was computed from a file
fetched with ``apt-get source --download-only`` from Debian bookworm's source
archive. Where Debian serves upstream's tarball byte for byte (checked with
upstream's signature where Debian ships one: OpenSSL, ncurses, xz; for libffi,
libedit and util-linux the same hash is pinned by other distributions for
upstream's URL), the hash is upstream's and ``url`` downloads it. SQLite's Debian
tarball is a repack of upstream's source tree; upstream serves no file with its
hash, so it has no ``url`` and comes only from the cache or Debian's
archive (``scripts/setup`` puts it in the cache).

Cosmopolitan: what differs for cosmocc is data on the Library (``cosmo_*``
fields, ``per_arch``) and a few branches on Toolchain fields (``output_kind ==
"ape"``, the compiler's name, an optional ``configure_host``), each marked
"checked only with cosmocc: not run here". It follows how ahgamut/superconfigure
builds the same libraries (one compiler per architecture, ``x86_64-unknown-cosmo-cc``
and ``aarch64-unknown-cosmo-cc``, configure run natively, no PIC, per-library
options and small source edits) and cosmocc's README and script: fat ``cosmocc``
with ``cosmoar`` and ``INSTALL=cosmoinstall`` writes each archive's aarch64 twin
to ``lib/.aarch64/``, and links ``-Ldir`` as ``-Ldir/.aarch64`` for aarch64. fat
cosmocc refuses assembly, so OpenSSL and libffi are built once per architecture
and merged into that layout (``merge_fat``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import shutil
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from apepy import cache, download, procs, ui
from apepy.errors import ApepyError
from apepy.hashing import sha256_file
from apepy.toolchains import Toolchain

# Part of every library's build marker: bump it when a recipe's commands change,
# so sysroots built by the old recipe are rebuilt.
RECIPE_REVISION = "2"

# The fat object layout of cosmocc/cosmoar: the aarch64 twin of lib/libz.a is lib/.aarch64/libz.a.
FAT_TWIN_DIR = ".aarch64"
FAT_ARCHES = ("x86_64", "aarch64")
# Where a fat sysroot keeps the headers that differ between the two architectures.
ARCH_HEADERS = ".apepy-arch"


@dataclass(frozen=True)
class Edit:
    """A literal replacement in one file of the unpacked source, applied before configure."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    filename: str  # the tarball's name in the cache's sources/deps/
    # Upstream's download of exactly the pinned file; None when no upstream URL serves
    # a file with that hash (SQLite: only Debian's repack is pinned).
    url: str | None
    sha256: str
    # How the package builds: "autoconf", "zlib", "bzip2", "sqlite", "openssl", or
    # "sources" (its C files compiled and archived directly: a tarball without a
    # generated configure, such as a git export).
    recipe: str
    products: tuple[str, ...]  # static libraries it installs into <sysroot>/lib
    # Other tarballs of the same release that are accepted, by sha256: Debian's
    # repacked orig tarballs, which its source archive serves.
    also_accepted: dict[str, str] = field(default_factory=dict)
    configure_args: tuple[str, ...] = ()  # "{sysroot}" stands for the sysroot's path
    # How this package's configure asks for static libraries only.
    static_args: tuple[str, ...] = ("--disable-shared", "--enable-static")
    # Other libraries of this table built first into the same sysroot.
    requires: tuple[str, ...] = ()
    # Debian's source package carrying this release, and the upstream version as
    # Debian's version string spells it (scripts/setup fetches it from there).
    debian: tuple[str, str] = ("", "")
    # Where the pinned file comes from, for the hint when it is missing.
    origin: str = ""
    defines: tuple[str, ...] = ()  # extra -D flags
    include_dirs: tuple[str, ...] = ()  # extra -I directories under <sysroot>/include
    make_targets: tuple[str, ...] = ()  # empty: make's default target
    install_targets: tuple[str, ...] = ("install",)
    # Other names for the products, as symlinks in <sysroot>/lib: alias -> product.
    aliases: dict[str, str] = field(default_factory=dict)
    # Checked only with cosmocc: not run here. Assembly (which fat cosmocc refuses) or
    # per-architecture configuration: built once per architecture with
    # <arch>-unknown-cosmo-cc, also when the toolchain is fat cosmocc (see _build_fat).
    per_arch: bool = False
    # Checked only with cosmocc: not run here. Extra configure arguments, compiler
    # flags and source edits for the cosmo toolchain.
    cosmo_configure_args: tuple[str, ...] = ()
    cosmo_cflags: tuple[str, ...] = ()
    cosmo_edits: tuple[Edit, ...] = ()
    # The "sources" recipe: C files (globs under the tree), headers installed into
    # <sysroot>/include, and the pkg-config file written for them (name, Libs).
    sources: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    pkgconfig: tuple[str, str] = ("", "")


def _debian_orig(package: str, version: str, file: str) -> str:
    return f"Debian's {file} (apt-get source --download-only {package}={version}; scripts/setup does this)"


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
            debian=("zlib", "1.3.1"),
        ),
        Library(
            "bzip2",
            "1.0.8",
            "bzip2-1.0.8.tar.gz",
            "https://sourceware.org/pub/bzip2/bzip2-1.0.8.tar.gz",
            "ab5a03176ee106d3f0fa90e381da478ddae405918153cca248e682cd0c4a2269",
            recipe="bzip2",
            products=("libbz2.a",),
            debian=("bzip2", "1.0.8"),
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
            debian=("xz-utils", "5.4.1"),
        ),
        # SQLite 3.40.1, as Debian bookworm serves it. The pinned file is Debian's
        # sqlite3_3.40.1.orig.tar.xz: upstream's full source tree (sqlite-src-3400100.zip)
        # repacked, so no upstream URL has this hash, and the amalgamation is generated
        # at build time with tclsh. sha256 computed from that file.
        Library(
            "sqlite",
            "3.40.1",
            "sqlite3_3.40.1.orig.tar.xz",
            None,
            "aaa776260ab4dc976db34aa7891819484c8676b5b2783123ebc6301e2ca5d655",
            recipe="sqlite",
            products=("libsqlite3.a",),
            configure_args=(
                "--disable-tcl",
                "--disable-readline",
                "--disable-editline",
                # A static interpreter cannot dlopen extensions; this also drops -ldl.
                "--disable-load-extension",
                "--enable-threadsafe",
                "--enable-fts3",
                "--enable-fts4",
                "--enable-fts5",
                "--enable-rtree",
            ),
            defines=("-DSQLITE_ENABLE_DBSTAT_VTAB", "-DSQLITE_ENABLE_FTS3_PARENTHESIS"),
            debian=("sqlite3", "3.40.1"),
            origin=_debian_orig("sqlite3", "3.40.1-2+deb12u2", "sqlite3_3.40.1.orig.tar.xz"),
            make_targets=("libsqlite3.la", "sqlite3.h", "sqlite3.pc"),
            install_targets=("lib_install",),
        ),
        # OpenSSL 3.0.20 (the 3.0 LTS series, as Debian bookworm serves it): Debian's
        # openssl_3.0.20.orig.tar.gz is upstream's tarball (its .asc verifies with the
        # OpenSSL key Debian ships in debian/upstream/signing-key.asc).
        Library(
            "openssl",
            "3.0.20",
            "openssl-3.0.20.tar.gz",
            "https://github.com/openssl/openssl/releases/download/openssl-3.0.20/openssl-3.0.20.tar.gz",
            "c80a01dfc70ece4dc21168932c37739042d404d46ccc81a5986dd75314ecda6f",
            recipe="openssl",
            products=("libssl.a", "libcrypto.a"),
            configure_args=("no-shared", "no-dso", "no-engine", "no-tests"),
            debian=("openssl", "3.0.20"),
            per_arch=True,
            # Checked only with cosmocc: not run here. superconfigure's options for
            # OpenSSL under cosmocc: no assembly, no PIC, no async (ucontext) or
            # secure heap, and entropy from getrandom().
            cosmo_configure_args=(
                "no-asm",
                "no-pic",
                "no-async",
                "no-secure-memory",
                "--with-rand-seed=getrandom",
            ),
            cosmo_edits=(
                # Checked only with cosmocc: not run here. OpenSSL looks getentropy() up
                # through a weak reference, which a static link leaves NULL, and then
                # calls syscall(__NR_getrandom) only on __linux; Cosmopolitan's libc has
                # getrandom() on every OS, so call it directly.
                Edit(
                    "providers/implementations/rands/seeding/rand_unix.c",
                    "#if defined(__GNUC__) && __GNUC__ >= 2 && defined(__ELF__) && !defined(__hpux)\n"
                    "    extern int getentropy",
                    "#if defined(__COSMOPOLITAN__)\n"
                    "    {\n"
                    "        extern ssize_t getrandom(void *, size_t, unsigned int);\n"
                    "        return getrandom(buf, buflen, 0);\n"
                    "    }\n"
                    "#elif defined(__GNUC__) && __GNUC__ >= 2 && defined(__ELF__) && !defined(__hpux)\n"
                    "    extern int getentropy",
                ),
            ),
        ),
        # libffi 3.4.4: Debian's libffi_3.4.4.orig.tar.gz is upstream's release tarball.
        Library(
            "libffi",
            "3.4.4",
            "libffi-3.4.4.tar.gz",
            "https://github.com/libffi/libffi/releases/download/v3.4.4/libffi-3.4.4.tar.gz",
            "d66c56ad259a82cf2a9dfc408b32bf5da52371500b84745f7fb8b645712df676",
            recipe="autoconf",
            products=("libffi.a",),
            # Without this, libffi installs into lib/../lib64 on x86_64.
            configure_args=("--disable-docs", "--disable-multi-os-directory"),
            debian=("libffi", "3.4.4"),
            per_arch=True,
            # Checked only with cosmocc: not run here (superconfigure's option): no
            # trampolines mapped from the library's own file.
            cosmo_configure_args=("--disable-exec-static-tramp",),
        ),
        # ncurses 6.4: Debian's ncurses_6.4.orig.tar.gz is upstream's (its .asc verifies
        # with Thomas Dickey's key from debian/upstream/signing-key.asc).
        Library(
            "ncurses",
            "6.4",
            "ncurses-6.4.tar.gz",
            "https://invisible-island.net/archives/ncurses/ncurses-6.4.tar.gz",
            "6931283d9ac87c5073f30b6290c4c75f21632bb4fc3603ac8100812bed248159",
            recipe="autoconf",
            products=("libncursesw.a", "libpanelw.a", "libformw.a", "libmenuw.a"),
            static_args=("--without-shared", "--with-normal"),
            configure_args=(
                "--enable-widec",
                "--without-debug",
                "--without-profile",
                "--without-cxx",
                "--without-cxx-binding",
                "--without-ada",
                "--without-manpages",
                "--without-progs",
                "--without-tests",
                "--enable-pc-files",
                "--with-pkg-config-libdir={sysroot}/lib/pkgconfig",
                # The terminfo database is the running system's; no database goes into
                # the sysroot. The common terminals are compiled in (from the build
                # host's tic), so a bare container or another OS still gets them.
                "--disable-db-install",
                "--with-default-terminfo-dir=/usr/share/terminfo",
                "--with-terminfo-dirs=/etc/terminfo:/lib/terminfo:/usr/share/terminfo",
                "--with-fallbacks=xterm,xterm-256color,screen,screen-256color,tmux,"
                "tmux-256color,linux,vt100,vt220,ansi,dumb",
            ),
            debian=("ncurses", "6.4"),
            # One library with the terminfo functions inside (no separate libtinfo), under
            # the names configure scripts probe: libedit tries -lncurses first, CPython's
            # readline probe -ltinfo.
            aliases={
                "libncurses.a": "libncursesw.a",
                "libtinfo.a": "libncursesw.a",
                "libtinfow.a": "libncursesw.a",
                "libpanel.a": "libpanelw.a",
                "libform.a": "libformw.a",
                "libmenu.a": "libmenuw.a",
            },
            # Checked only with cosmocc: not run here. superconfigure builds ncurses with
            # case-insensitive terminfo names (macOS, Windows) and includes cosmo's
            # unicode.h for wcwidth().
            cosmo_configure_args=("--disable-mixed-case",),
            cosmo_cflags=("-include", "libc/str/unicode.h"),
        ),
        # libedit 20221030-3.1: Debian's libedit_3.1-20221030.orig.tar.gz is upstream's.
        Library(
            "libedit",
            "20221030-3.1",
            "libedit-20221030-3.1.tar.gz",
            "https://thrysoee.dk/editline/libedit-20221030-3.1.tar.gz",
            "f0925a5adf4b1bf116ee19766b7daa766917aec198747943b1c4edf67a4be2bb",
            recipe="autoconf",
            products=("libedit.a",),
            configure_args=("--disable-examples",),
            requires=("ncurses",),
            include_dirs=("ncursesw",),
            debian=("libedit", "3.1-20221030"),
            # libedit refuses a wchar_t it cannot assume holds Unicode code points
            # (chartype.h: #error unless __STDC_ISO_10646__); Cosmopolitan's wchar_t
            # is 32 bits of UCS-4, but its headers do not define the macro (glibc's
            # stdc-predef.h does). Found with a monorepo-built cosmocc 4.0.2.
            cosmo_cflags=("-D__STDC_ISO_10646__=201206L",),
        ),
        # libyaml, for extensions (PyYAML's _yaml). Debian's orig tarball is a git
        # export without configure: its eight C files are compiled directly.
        Library(
            "libyaml",
            "0.2.5",
            "libyaml_0.2.5.orig.tar.gz",
            None,
            "fa240dbf262be053f3898006d502d514936c818e422afdcf33921c63bed9bf2e",
            recipe="sources",
            products=("libyaml.a",),
            defines=(
                "-DYAML_VERSION_MAJOR=0",
                "-DYAML_VERSION_MINOR=2",
                "-DYAML_VERSION_PATCH=5",
                '-DYAML_VERSION_STRING="0.2.5"',
            ),
            sources=("src/*.c",),
            headers=("include/yaml.h",),
            pkgconfig=("yaml-0.1", "-lyaml"),
            debian=("libyaml", "0.2.5"),
            origin=_debian_orig("libyaml", "0.2.5-1", "libyaml_0.2.5.orig.tar.gz"),
        ),
        # libxml2 and libxslt, for extensions (lxml): Debian ships no static libxslt.
        # 2.9.14 and 1.1.35 are the versions of bookworm's -dev headers, so an extension
        # compiled against those links these archives. Debian's libxml2 tarball is a
        # +dfsg repack (no upstream URL has its hash); libxslt's is upstream's.
        Library(
            "libxml2",
            "2.9.14",
            "libxml2_2.9.14+dfsg.orig.tar.xz",
            None,
            "4fe913dec8b1ab89d13b489b419a8203176ea39e931eaa0d25b17eafb9c279e9",
            recipe="autoconf",
            products=("libxml2.a",),
            configure_args=(
                "--without-python",
                "--without-lzma",
                "--without-icu",
                "--without-http",
                "--without-ftp",
                "--with-zlib={sysroot}",
            ),
            requires=("zlib",),
            include_dirs=("libxml2",),
            debian=("libxml2", "2.9.14"),
            origin=_debian_orig(
                "libxml2", "2.9.14+dfsg-1.3~deb12u6", "libxml2_2.9.14+dfsg.orig.tar.xz"
            ),
        ),
        Library(
            "libxslt",
            "1.1.35",
            "libxslt-1.1.35.tar.xz",
            "https://download.gnome.org/sources/libxslt/1.1/libxslt-1.1.35.tar.xz",
            "8247f33e9a872c6ac859aa45018bc4c4d00b97e2feac9eebc10c93ce1f34dd79",
            recipe="autoconf",
            products=("libxslt.a", "libexslt.a"),
            configure_args=(
                "--without-python",
                "--without-crypto",
                "--without-debugger",
                "--with-libxml-prefix={sysroot}",
            ),
            requires=("libxml2",),
            include_dirs=("libxml2",),
            debian=("libxslt", "1.1.35"),
        ),
        # libuuid from util-linux 2.38.1: Debian's util-linux_2.38.1.orig.tar.xz is
        # upstream's. Only the library is configured and built. (superconfigure uses
        # the standalone libuuid 1.0.3 instead, which Debian does not carry.)
        Library(
            "libuuid",
            "2.38.1",
            "util-linux-2.38.1.tar.xz",
            "https://www.kernel.org/pub/linux/utils/util-linux/v2.38/util-linux-2.38.1.tar.xz",
            "60492a19b44e6cf9a3ddff68325b333b8b52b6c59ce3ebd6a0ecaa4c5117e84f",
            recipe="autoconf",
            products=("libuuid.a",),
            configure_args=(
                "--disable-all-programs",
                "--enable-libuuid",
                "--disable-nls",
                "--disable-asciidoc",
                "--disable-poman",
                "--disable-bash-completion",
                "--disable-makeinstall-chown",
                "--disable-makeinstall-setuid",
                "--without-python",
                "--without-systemd",
                "--without-udev",
                "--without-readline",
                "--without-ncursesw",
                "--without-ncurses",
                "--without-tinfo",
                "--without-libz",
                "--without-user",
                "--without-btrfs",
                "--without-cap-ng",
                "--without-econf",
                "--without-libmagic",
                # uuidd's socket path is compiled in: the system's, not the sysroot's.
                "--localstatedir=/var",
                "--runstatedir=/run",
            ),
            debian=("util-linux", "2.38.1"),
            # util-linux's configure stops when a Linux host lacks <linux/version.h>
            # ("kernel headers required on Linux"); Cosmopolitan has no kernel headers,
            # and libuuid includes none (only util-linux's programs do). Found with a
            # monorepo-built cosmocc 4.0.2.
            cosmo_configure_args=("ac_cv_header_linux_version_h=yes",),
        ),
    )
}


def providing(archive: str) -> Library | None:
    """The pinned library whose build installs ``archive`` (``libxslt.a``), if any."""
    return next((lib for lib in LIBRARIES.values() if archive in lib.products), None)


def sysroot(toolchain: Toolchain) -> Path:
    """The toolchain's sysroot: ``include/`` and ``lib/`` of every library built for it."""
    key = hashlib.sha256(toolchain.library_identity().encode()).hexdigest()[:16]
    return cache.cache_dir("sysroots", f"{toolchain.name}-{key}")


def fingerprint(lib: Library) -> str:
    """Everything about how ``lib`` is built, including what it builds against."""
    parts = [RECIPE_REVISION, repr(lib), *(fingerprint(LIBRARIES[r]) for r in lib.requires)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


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
    for name in names if names is not None else LIBRARIES:
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
    for name in lib.requires:
        build(LIBRARIES[name], toolchain, jobs=jobs, offline=offline)
    root = sysroot(toolchain)
    source, digest = tarball(lib, offline=offline)
    marker = root / f".{lib.name}-{lib.version}-{digest[:16]}-{fingerprint(lib)}.built"
    with cache.locked(root / f".{lib.name}.lock"):
        if marker.is_file() and not _missing_products(lib, toolchain, root):
            return root
        for old in root.glob(f".{lib.name}-*.built"):
            old.unlink()
        log = cache.cache_dir("logs") / f"deps-{lib.name}-{lib.version}.log"
        log.unlink(missing_ok=True)
        work = cache.cache_dir("deps-build") / f"{lib.name}-{lib.version}-{root.name}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            with ui.phase("deps", f"{lib.name} {lib.version} with the {toolchain.name} toolchain"):
                if lib.per_arch and _is_fat(toolchain):
                    _build_fat(lib, toolchain, source, work, root, log, jobs)
                else:
                    _build_into(lib, toolchain, source, work, root, log, jobs)
                _finish(lib, toolchain, root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        missing = _missing_products(lib, toolchain, root)
        if missing:
            raise ApepyError(
                f"building {lib.name} installed no {', '.join(missing)}", details=f"full log: {log}"
            )
        marker.write_text(lib.version + "\n")
    return root


def _build_into(
    lib: Library, tc: Toolchain, source: Path, work: Path, root: Path, log: Path, jobs: int
) -> None:
    tree = _unpack(source, work)
    if _is_cosmo(tc):
        for edit in lib.cosmo_edits:
            apply_edit(tree, edit)  # checked only with cosmocc: not run here
    RECIPES[lib.recipe](lib, tc, tree, root, log, jobs)


def _build_fat(
    lib: Library, tc: Toolchain, source: Path, work: Path, root: Path, log: Path, jobs: int
) -> None:
    """Checked only with cosmocc: not run here. A library fat cosmocc cannot compile
    (assembly: cosmocc refuses .s/.S input) is built once with each architecture's
    compiler into a staging sysroot, and the two are merged into the fat layout."""
    if lib.requires:
        raise ApepyError(f"{lib.name}: a per-architecture build cannot use other libraries yet")
    stages: dict[str, Path] = {}
    for name in FAT_ARCHES:
        stage = work / f"sysroot-{name}"
        (work / name).mkdir(parents=True)
        stage.mkdir()
        _build_into(lib, arch_toolchain(tc, name), source, work / name, stage, log, jobs)
        stages[name] = stage
    merge_fat(stages["x86_64"], stages["aarch64"], root)


def merge_fat(x86_64: Path, aarch64: Path, root: Path) -> None:
    """Merge two single-architecture sysroots into ``root`` in cosmocc's fat layout.

    Archives: x86_64's in ``lib/``, aarch64's twin in ``lib/.aarch64/`` (fat cosmocc
    links ``-Ldir`` as ``-Ldir/.aarch64`` for aarch64). Headers that are the same for
    both are copied; one that differs goes to ``include/.apepy-arch/<arch>/`` under
    both architectures, and ``include/`` gets a header that includes the right one,
    because fat cosmocc compiles every file twice with the same include path.
    pkg-config files are x86_64's, with the staging path replaced by the sysroot's.
    """
    for src in sorted(p for p in x86_64.rglob("*") if p.is_file()):
        rel = src.relative_to(x86_64)
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        other = aarch64 / rel
        if rel.parts[0] == "lib" and src.suffix == ".a":
            if not other.is_file():
                raise ApepyError(f"the aarch64 build installed no {rel}")
            shutil.copy2(src, dest)
            _install_file(other, dest.parent / FAT_TWIN_DIR / dest.name)
        elif src.suffix == ".pc":
            dest.write_text(src.read_text(encoding="utf-8").replace(str(x86_64), str(root)))
        elif rel.parts[0] == "include" and not (
            other.is_file() and other.read_bytes() == src.read_bytes()
        ):
            inner = Path(*rel.parts[1:])
            variants = {name: root / "include" / ARCH_HEADERS / name / inner for name in FAT_ARCHES}
            for name, base in (("x86_64", x86_64), ("aarch64", aarch64)):
                if (base / rel).is_file():
                    _install_file(base / rel, variants[name])
            dest.write_text(_dispatch_header(dest, variants))
        else:
            shutil.copy2(src, dest)


def _dispatch_header(dest: Path, variants: dict[str, Path]) -> str:
    def include(name: str) -> str:
        if not variants[name].is_file():
            return f'#error "{dest.name} does not exist for {name}"\n'
        return f'#include "{os.path.relpath(variants[name], dest.parent)}"\n'

    return (
        "/* apepy: this header differs between x86_64 and aarch64; fat cosmocc compiles\n"
        "   every file once for each with the same include path. */\n"
        "#if defined(__aarch64__)\n"
        f"{include('aarch64')}"
        "#else\n"
        f"{include('x86_64')}"
        "#endif\n"
    )


def _missing_products(lib: Library, tc: Toolchain, root: Path) -> list[str]:
    wanted = [*lib.products, *lib.aliases]
    if _is_fat(tc):
        # Checked only with cosmocc: not run here. Fat archives come with their aarch64 twin.
        wanted += [f"{FAT_TWIN_DIR}/{p}" for p in wanted]
    return [p for p in wanted if not (root / "lib" / p).is_file()]


# The release's date, for builds that stamp one in (OpenSSL's "built on"), so two
# builds of the same tarball give the same bytes.
_EPOCH_FILE = ".apepy-source-date-epoch"


def _unpack(source: Path, work: Path) -> Path:
    try:
        with tarfile.open(source) as tar:
            members = tar.getmembers()
            tar.extractall(work, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ApepyError(f"cannot unpack {source}: {exc}", hint="delete it and run again") from exc
    trees = [p for p in work.iterdir() if p.is_dir()]
    if len(trees) != 1:
        raise ApepyError(f"{source} does not unpack to one directory")
    # The release's own date (its newest file), read by build_env.
    (trees[0] / _EPOCH_FILE).write_text(str(max((int(m.mtime) for m in members), default=0)))
    return trees[0]


def apply_edit(tree: Path, edit: Edit) -> None:
    """Replace ``edit.old`` (which must occur exactly once) in one file of the source tree."""
    path = tree / edit.path
    text = path.read_text(encoding="utf-8")
    count = text.count(edit.old)
    if count != 1:
        raise ApepyError(
            f"cannot edit {edit.path} in {tree.name}: the text to replace occurs {count} times",
            hint="the pinned source changed; the edit in apepy's library table needs updating",
        )
    path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


# --- what the toolchain is -----------------------------------------------------------


def _is_cosmo(tc: Toolchain) -> bool:
    return tc.output_kind == "ape"


def _is_fat(tc: Toolchain) -> bool:
    """Checked only with cosmocc: not run here. ``cosmocc`` itself compiles for both
    architectures at once (``unknown-unknown-cosmo-cc``); ``x86_64-unknown-cosmo-cc``
    and ``aarch64-unknown-cosmo-cc`` for one each."""
    return _is_cosmo(tc) and Path(tc.cc).name in ("cosmocc", "unknown-unknown-cosmo-cc")


def arch(tc: Toolchain) -> str:
    """The CPU architecture the toolchain compiles for."""
    chosen = getattr(tc, "arch", None)
    if isinstance(chosen, str) and chosen:
        return chosen
    name = Path(tc.cc).name
    for candidate in ("x86_64", "aarch64"):
        if name.startswith(f"{candidate}-"):
            return candidate
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)


def arch_toolchain(tc: Toolchain, name: str) -> Toolchain:
    """Checked only with cosmocc: not run here. One architecture's tools from the
    directory of fat cosmocc: ``<arch>-unknown-cosmo-cc`` and ``<arch>-linux-cosmo-ar``
    (cosmocc's README: use these for projects such as OpenSSL)."""
    bin_dir = Path(tc.cc).parent
    return dataclasses.replace(
        tc,
        cc=str(bin_dir / f"{name}-unknown-cosmo-cc"),
        cxx=str(bin_dir / f"{name}-unknown-cosmo-c++"),
        ar=str(bin_dir / f"{name}-linux-cosmo-ar"),
        ranlib=str(bin_dir / f"{name}-linux-cosmo-ranlib"),
    )


# --- commands ------------------------------------------------------------------------


def compile_flags(lib: Library, tc: Toolchain, tree: Path) -> list[str]:
    """CFLAGS for ``lib``: upstream's usual -O2, position-independent code on the host,
    and the build directory mapped away from debug info and ``__FILE__``."""
    flags = ["-O2"]
    if _is_cosmo(tc):
        # Checked only with cosmocc: not run here. superconfigure builds every library
        # without PIC (--without-pic, OpenSSL's no-pic); cosmocc links static, non-PIE.
        flags += lib.cosmo_cflags
    else:
        # Position-independent objects also link into non-PIE programs.
        flags.append("-fPIC")
    flags += [*tc.cflags, f"-ffile-prefix-map={tree}=."]
    return flags


def build_env(lib: Library, tc: Toolchain, root: Path, tree: Path) -> dict[str, str]:
    """The environment for configure and make: the toolchain's tools, and the sysroot
    (only the sysroot) for headers, libraries and pkg-config."""
    include = root / "include"
    env = {
        "CC": tc.cc,
        "AR": tc.ar,
        "RANLIB": tc.ranlib,
        "CFLAGS": " ".join(compile_flags(lib, tc, tree)),
        "CPPFLAGS": " ".join(
            [f"-I{include}", *(f"-I{include / d}" for d in lib.include_dirs), *lib.defines]
        ),
        "LDFLAGS": " ".join([f"-L{root / 'lib'}", *tc.ldflags]),
        "PKG_CONFIG_LIBDIR": str(root / "lib" / "pkgconfig"),
        "PKG_CONFIG_PATH": "",
    }
    epoch = tree / _EPOCH_FILE
    if epoch.is_file():
        env["SOURCE_DATE_EPOCH"] = epoch.read_text().strip()
    if _is_fat(tc):
        # Checked only with cosmocc: not run here. cosmocc's README: INSTALL=cosmoinstall
        # installs each file's .aarch64/ twin with it.
        env["INSTALL"] = str(Path(tc.cc).with_name("cosmoinstall"))
    return env


def configure_command(lib: Library, tc: Toolchain, root: Path) -> list[str]:
    """The ``./configure`` command line of an autoconf library."""
    args = [
        "./configure",
        f"--prefix={root}",
        *lib.static_args,
        *(a.replace("{sysroot}", str(root)) for a in lib.configure_args),
    ]
    host = getattr(tc, "configure_host", None)
    if not (isinstance(host, str) and host) and _is_cosmo(tc) and lib.per_arch:
        # Checked only with cosmocc: not run here. A library that picks its sources by
        # the host triplet (libffi's assembly) must not take config.guess's answer (the
        # build machine) when the compiler is another architecture's.
        host = f"{arch(tc)}-unknown-linux-gnu"
    if isinstance(host, str) and host:
        # A cross build: configure then runs no test programs. Checked only with cosmocc:
        # not run here (superconfigure leaves --host out and runs the probes natively).
        args.append(f"--host={host}")
    if _is_cosmo(tc):
        args += lib.cosmo_configure_args  # checked only with cosmocc: not run here
    return args


def openssl_configure_command(lib: Library, tc: Toolchain) -> list[str]:
    """OpenSSL's ``./Configure`` command line.

    The prefix is a fixed ``/usr/local`` installed through DESTDIR: OpenSSL compiles
    its ENGINESDIR and MODULESDIR in, and a cache path there would differ between
    machines. The CA paths (OPENSSLDIR) are the usual system ones, ``/etc/ssl``.
    """
    args = ["./Configure"]
    if _is_cosmo(tc):
        # Checked only with cosmocc: not run here. One target per architecture, as
        # superconfigure does (linux-x86_64, linux-aarch64).
        args.append(f"linux-{arch(tc)}")
    args += [
        *lib.configure_args,
        "--prefix=/usr/local",
        "--libdir=lib",
        "--openssldir=/etc/ssl",
    ]
    if _is_cosmo(tc):
        args += lib.cosmo_configure_args  # checked only with cosmocc: not run here
    return args


def make_variables(lib: Library, tc: Toolchain) -> list[str]:
    """Variables passed on make's command line."""
    if lib.recipe == "sqlite" and _is_cosmo(tc):
        # Checked only with cosmocc: not run here. SQLite's build runs code generators
        # it compiles with $(BCC) (lemon, mkkeywordhash); configure sets that to CC when
        # not cross compiling. They run on the build machine: use its compiler.
        return [f"BCC={shutil.which('cc') or 'cc'}"]
    return []


def _run(cmd: list[str], tree: Path, log: Path, env: dict[str, str], what: str) -> None:
    procs.run_logged(
        cmd, cwd=tree, log=log, env=env, what=what, hint="see the log for the compiler's error"
    )


# --- recipes -------------------------------------------------------------------------


def _autoconf(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    extra = make_variables(lib, tc)
    _run(configure_command(lib, tc, root), tree, log, env, f"configure {lib.name}")
    _run(["make", f"-j{jobs}", *extra, *lib.make_targets], tree, log, env, f"make {lib.name}")
    _run(["make", *extra, *lib.install_targets], tree, log, env, f"install {lib.name}")


def _sqlite(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    # The full source tree generates sqlite3.c (the amalgamation) and sqlite3.h with tclsh.
    if shutil.which("tclsh") is None:
        raise ApepyError(
            "building SQLite from its source tree needs tclsh, which is not installed",
            hint="install Tcl (Debian/Ubuntu: apt-get install tcl)",
        )
    _autoconf(lib, tc, tree, root, log, jobs)
    # lib_install installs only the library: the headers and pkg-config file by hand
    # (the whole `install` would also build the sqlite3 shell).
    for header in ("sqlite3.h", "sqlite3ext.h"):
        _install_file(tree / header, root / "include" / header)
    _install_file(tree / "sqlite3.pc", root / "lib" / "pkgconfig" / "sqlite3.pc")


def _openssl(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    # OpenSSL's Configure reads CC, AR, RANLIB and CFLAGS from the environment; it
    # needs nothing from the sysroot. It compiles its CFLAGS into the library (for
    # `openssl version -f`), so no path may be among them; it compiles with relative
    # paths, so there is no build path to map away either.
    env["CFLAGS"] = " ".join(
        f for f in compile_flags(lib, tc, tree) if not f.startswith("-ffile-prefix-map=")
    )
    env["CPPFLAGS"] = ""
    env["LDFLAGS"] = " ".join(tc.ldflags)
    stage = tree.parent / "stage"
    _run(openssl_configure_command(lib, tc), tree, log, env, "configure openssl")
    _run(["make", f"-j{jobs}", "build_libs"], tree, log, env, "make openssl")
    _run(["make", "install_dev", f"DESTDIR={stage}"], tree, log, env, "install openssl")
    staged = stage / "usr" / "local"
    headers = root / "include" / "openssl"
    shutil.rmtree(headers, ignore_errors=True)
    shutil.copytree(staged / "include" / "openssl", headers)
    for product in lib.products:
        _install_file(staged / "lib" / product, root / "lib" / product)
    for pc in sorted((staged / "lib" / "pkgconfig").glob("*.pc")):
        text = pc.read_text(encoding="utf-8").replace("prefix=/usr/local\n", f"prefix={root}\n", 1)
        dest = root / "lib" / "pkgconfig" / pc.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")


def _zlib(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    _run(["./configure", "--static", f"--prefix={root}"], tree, log, env, "configure zlib")
    _run(["make", f"-j{jobs}", "libz.a"], tree, log, env, "make zlib")
    # zlib's `make install` copies with cp, which would leave a fat build's aarch64 twin behind.
    _install_file(tree / "libz.a", root / "lib" / "libz.a")
    for header in ("zlib.h", "zconf.h"):
        _install_file(tree / header, root / "include" / header)
    _install_file(tree / "zlib.pc", root / "lib" / "pkgconfig" / "zlib.pc")


def _bzip2(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    # bzip2 has no configure: its Makefile takes the tools as make variables.
    env = build_env(lib, tc, root, tree)
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
    _install_file(tree / "libbz2.a", root / "lib" / "libbz2.a")
    _install_file(tree / "bzlib.h", root / "include" / "bzlib.h")
    # bzip2 ships no pkg-config file; CPython 3.12+ asks pkg-config for "bzip2" first.
    pc = root / "lib" / "pkgconfig" / "bzip2.pc"
    pc.parent.mkdir(parents=True, exist_ok=True)
    pc.write_text(
        f"prefix={root}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
        f"Name: bzip2\nDescription: a block-sorting file compressor library\n"
        f"Version: {lib.version}\nLibs: -L${{libdir}} -lbz2\nCflags: -I${{includedir}}\n"
    )


def _sources(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    files = sorted(f for pattern in lib.sources for f in tree.glob(pattern))
    if not files:
        raise ApepyError(f"{lib.name}: no sources match {', '.join(lib.sources)} in {tree.name}")
    flags = [*env["CFLAGS"].split(), *env["CPPFLAGS"].split(), f"-I{tree / 'include'}"]
    objects = []
    for index, source in enumerate(files):
        obj = tree / f"apepy-{index}-{source.stem}.o"
        _run(
            [tc.cc, *flags, "-c", str(source), "-o", str(obj)],
            tree,
            log,
            env,
            f"compile {lib.name}",
        )
        objects.append(str(obj))
    archive = tree / lib.products[0]
    _run([tc.ar, "rcs", str(archive), *objects], tree, log, env, f"archive {lib.name}")
    _install_file(archive, root / "lib" / archive.name)
    for header in lib.headers:
        _install_file(tree / header, root / "include" / Path(header).name)
    name, libs = lib.pkgconfig
    if name:
        pc = root / "lib" / "pkgconfig" / f"{name}.pc"
        pc.parent.mkdir(parents=True, exist_ok=True)
        pc.write_text(
            f"prefix={root}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
            f"Name: {name}\nDescription: {lib.name}\nVersion: {lib.version}\n"
            f"Libs: -L${{libdir}} {libs}\nCflags: -I${{includedir}}\n"
        )


def _install_file(src: Path, dest: Path) -> None:
    """Copy one built file into the sysroot, with its fat-build aarch64 twin if there is one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    os.chmod(dest, 0o644)
    twin = src.parent / FAT_TWIN_DIR / src.name
    if twin.is_file():  # checked only with cosmocc: not run here
        _install_file(twin, dest.parent / FAT_TWIN_DIR / dest.name)


def _finish(lib: Library, tc: Toolchain, root: Path) -> None:
    """Aliases, and no libtool archives: a .la names the sysroot's path and is not needed
    for static linking."""
    libdir = root / "lib"
    for product in lib.products:
        (libdir / product).with_suffix(".la").unlink(missing_ok=True)
    dirs = [libdir, libdir / FAT_TWIN_DIR] if _is_fat(tc) else [libdir]
    for directory in dirs:
        for alias, target in lib.aliases.items():
            link = directory / alias
            link.unlink(missing_ok=True)
            link.symlink_to(target)


_Recipe = Callable[[Library, Toolchain, Path, Path, Path, int], None]
RECIPES: dict[str, _Recipe] = {
    "autoconf": _autoconf,
    "zlib": _zlib,
    "bzip2": _bzip2,
    "sqlite": _sqlite,
    "openssl": _openssl,
    "sources": _sources,
}
