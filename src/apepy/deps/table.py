"""The pinned C libraries: what each is, where its tarball comes from, how it builds.

Adding a library is adding an entry here (and, if none of the recipes fits, a
recipe in recipes/). Where each pinned hash comes from: every sha256 below was
computed from a file fetched with ``apt-get source --download-only`` from Debian's
source archive. Where Debian serves upstream's tarball byte for byte (checked with
upstream's signature where Debian ships one: OpenSSL, ncurses, xz; for libffi,
libedit and util-linux the same hash is pinned by other distributions for
upstream's URL), the hash is upstream's and ``url`` downloads it. SQLite's and
libyaml's Debian tarballs are repacks that upstream does not serve, so they have no
``url`` and come only from the cache or Debian's archive (``scripts/setup`` puts them
in the cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from apepy import portcosmo
from apepy.edits import Edit


@dataclass(frozen=True)
class Options:
    """What a library's build adds for one toolchain family (Toolchain.family)."""

    configure_args: tuple[str, ...] = ()
    cflags: tuple[str, ...] = ()
    # Edits of the unpacked source, applied before configure.
    edits: tuple[Edit, ...] = ()
    # Variables on make's command line; "{build_cc}" stands for the build machine's
    # C compiler (for code generators the build runs).
    make_args: tuple[str, ...] = ()
    # OpenSSL's Configure target; "{arch}" stands for the toolchain's architecture.
    target: str = ""


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    filename: str  # the tarball's name in the cache's sources/deps/
    # Upstream's download of exactly the pinned file; None when no upstream URL serves
    # a file with that hash (SQLite: only Debian's repack is pinned).
    url: str | None
    sha256: str
    # How the package builds: a recipe in recipes/ ("autoconf", "cmake", "zlib",
    # "bzip2", "sqlite", "openssl", or "sources": its C files compiled and archived
    # directly, for a tarball without a generated configure, such as a git export).
    recipe: str
    products: tuple[str, ...]  # static libraries it installs into <sysroot>/lib
    # Other tarballs of the same release that are accepted, by sha256: Debian's
    # repacked orig tarballs, which its source archive serves.
    also_accepted: dict[str, str] = field(default_factory=dict)
    # configure's arguments (CMake's -D options for "cmake"); "{sysroot}" stands for
    # the sysroot's path.
    configure_args: tuple[str, ...] = ()
    # How this package's configure (or CMake project) asks for static libraries only.
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
    # Assembly (which fat cosmocc refuses) or per-architecture configuration: built once
    # per architecture for a fat toolchain (see fat.py), and configured for the
    # toolchain's triplet (--host) when it has one.
    per_arch: bool = False
    # What the build adds for one toolchain family, by Toolchain.family.
    options: Mapping[str, Options] = field(default_factory=dict)
    # The toolchain families it is known to build with; another family's builds
    # leave it out (an extension that links it then fails at its link, by name).
    families: tuple[str, ...] = ("host", "cosmo")
    # PyPI projects (normalized names) whose build looks for this library (pkg-config,
    # a header probe): a toolchain whose system lacks its static archive gets apepy's
    # build before the project's own build runs, not only at the link. Not part of
    # the repr, which is the library's build fingerprint: it does not change the build.
    wanted_by: tuple[str, ...] = field(default=(), repr=False)
    # The "sources" recipe: C files (globs under the tree), headers installed into
    # <sysroot>/include, and the pkg-config file written for them (name, Libs).
    sources: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    pkgconfig: tuple[str, str] = ("", "")

    def options_for(self, family: str) -> Options:
        return self.options.get(family, _NONE)


_NONE = Options()


# OpenSSL looks getentropy() up through a weak reference, which a static link leaves
# NULL, and then calls syscall(__NR_getrandom) only on __linux; Cosmopolitan's libc
# has getrandom() on every OS, so call it directly.
OPENSSL_GETRANDOM = Edit(
    "openssl: getrandom() (cosmo)",
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
)


# libzmq 4.3.4 under cosmocc's libc++ (a newer LLVM's, C++20 rules): its allocator
# for CURVE's key material inherits std::allocator's rebind (gone in C++20), which
# libc++ refuses as not rebinding to itself; and a poller handle is initialised as
# static_cast<handle_t>(NULL), where the poll poller's handle is an int and
# Cosmopolitan's C++ NULL is nullptr. A value-initialised handle is the same 0 (or
# null pointer) for every poller. Both as libzmq 4.3.5 later wrote them.
_ZMQ_NULL_HANDLE = (
    ("io_thread.cpp", "poller_t::handle_t", 1),
    ("reaper.cpp", "poller_t::handle_t", 1),
    ("socket_base.cpp", "poller_t::handle_t", 1),
    ("udp_engine.cpp", "handle_t", 1),
    ("stream_connecter_base.cpp", "handle_t", 2),
    ("stream_engine_base.cpp", "handle_t", 1),
    ("stream_listener_base.cpp", "handle_t", 2),
)
LIBZMQ_CXX20: tuple[Edit, ...] = (
    Edit(
        "libzmq: secure_allocator_t rebinds to itself (cosmo)",
        "src/secure_allocator.hpp",
        "template <typename T> struct secure_allocator_t : std::allocator<T>\n{\n};",
        "template <typename T> struct secure_allocator_t : std::allocator<T>\n{\n"
        "    secure_allocator_t () ZMQ_DEFAULT;\n"
        "    template <class U>\n"
        "    secure_allocator_t (const secure_allocator_t<U> &) ZMQ_NOEXCEPT\n    {\n    }\n"
        "    template <class U> struct rebind\n    {\n"
        "        typedef secure_allocator_t<U> other;\n    };\n};",
    ),
    # The scheduling policies come from <sched.h>, which glibc's <pthread.h> includes
    # and Cosmopolitan's does not.
    Edit(
        "libzmq: <sched.h> for SCHED_FIFO (cosmo)",
        "src/thread.cpp",
        '#include "err.hpp"\n',
        '#include "err.hpp"\n\n#include <sched.h>\n',
    ),
    *(
        Edit(
            f"libzmq: a null poller handle without NULL ({path}, cosmo)",
            f"src/{path}",
            f"static_cast<{kind}> (NULL)",
            f"{kind} ()",
            count=count,
        )
        for path, kind, count in _ZMQ_NULL_HANDLE
    ),
)


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
            # SQLite's build runs code generators it compiles with $(BCC) (lemon,
            # mkkeywordhash); configure sets that to CC when not cross compiling. They
            # run on the build machine: its compiler, not cosmocc.
            options={"cosmo": Options(make_args=("BCC={build_cc}",))},
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
            options={
                # superconfigure's options for OpenSSL under cosmocc: one target per
                # architecture, no assembly, no PIC, no async (ucontext) or secure
                # heap, and entropy from getrandom().
                "cosmo": Options(
                    target="linux-{arch}",
                    configure_args=(
                        "no-asm",
                        "no-pic",
                        "no-async",
                        "no-secure-memory",
                        "--with-rand-seed=getrandom",
                    ),
                    edits=(OPENSSL_GETRANDOM, *portcosmo.OPENSSL),
                ),
            },
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
            # superconfigure's option: no trampolines mapped from the library's own file.
            # Under cosmocc neither __linux__ nor _WIN32 is defined, so closures.c fell
            # back to malloc()ed closures, which are not executable: every ctypes
            # callback crashed. FFI_MMAP_EXEC_WRIT takes its mmap allocator (RWX, or a
            # file mapped twice, writable and executable, where W^X forbids RWX);
            # _GNU_SOURCE, which closures.c defines only under __linux__, declares the
            # mkostemp() that second way needs.
            options={
                "cosmo": Options(
                    configure_args=("--disable-exec-static-tramp",),
                    cflags=("-DFFI_MMAP_EXEC_WRIT=1", "-D_GNU_SOURCE"),
                )
            },
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
            # superconfigure builds ncurses with case-insensitive terminfo names (macOS,
            # Windows) and includes cosmo's unicode.h for wcwidth().
            options={
                "cosmo": Options(
                    configure_args=("--disable-mixed-case",),
                    cflags=("-include", "libc/str/unicode.h"),
                    edits=portcosmo.NCURSES,
                )
            },
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
            # Its tty tables hold termios flags, run-time values: see apepy.portcosmo.
            options={
                "cosmo": Options(cflags=("-D__STDC_ISO_10646__=201206L",), edits=portcosmo.LIBEDIT)
            },
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
            wanted_by=("pyyaml",),
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
            wanted_by=("lxml",),
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
            wanted_by=("lxml",),
        ),
        # Pillow's usual set: libpng, freetype and libjpeg-turbo, at the versions of
        # bookworm's -dev headers. Debian's libpng and libjpeg-turbo tarballs are
        # upstream's release tarballs; its freetype tarball is a +dfsg repack. Only
        # Debian's files are pinned here (no upstream URL checked against them).
        Library(
            "libpng",
            "1.6.39",
            "libpng1.6_1.6.39.orig.tar.gz",
            None,
            "a00e9d2f2f664186e4202db9299397f851aea71b36a35e74910b8820e380d441",
            recipe="autoconf",
            products=("libpng16.a",),
            configure_args=("--with-zlib-prefix={sysroot}", "--disable-tools"),
            requires=("zlib",),
            debian=("libpng1.6", "1.6.39"),
            origin=_debian_orig("libpng1.6", "1.6.39-2+deb12u5", "libpng1.6_1.6.39.orig.tar.gz"),
            aliases={"libpng.a": "libpng16.a"},
            wanted_by=("pillow",),
            # Fat cosmocc configures once, on x86_64, and compiles each file for
            # aarch64 too: libpng's headers then turn NEON on for the aarch64 half
            # (__ARM_NEON) while configure left its arm/ sources out, so the aarch64
            # link missed png_*_neon. Found by the fat extension test.
            options={"cosmo": Options(cflags=("-DPNG_ARM_NEON_OPT=0",))},
        ),
        Library(
            "freetype",
            "2.12.1",
            "freetype_2.12.1+dfsg.orig.tar.xz",
            None,
            "7dedb6b9adf331559daea614a83b8de42a753e685ec8e1c4bdb4529eb880b0d1",
            recipe="autoconf",
            products=("libfreetype.a",),
            # Only zlib (for compressed fonts) among its optional libraries: a font
            # renderer for Pillow needs no PNG glyphs, HarfBuzz or Brotli.
            configure_args=(
                "--with-zlib=yes",
                "--with-bzip2=no",
                "--with-png=no",
                "--with-harfbuzz=no",
                "--with-brotli=no",
            ),
            requires=("zlib",),
            include_dirs=("freetype2",),
            debian=("freetype", "2.12.1"),
            origin=_debian_orig(
                "freetype", "2.12.1+dfsg-5+deb12u4", "freetype_2.12.1+dfsg.orig.tar.xz"
            ),
            wanted_by=("pillow",),
        ),
        Library(
            "libjpeg-turbo",
            "2.1.5",
            "libjpeg-turbo_2.1.5.orig.tar.gz",
            None,
            "254f3642b04e309fee775123133c6464181addc150499561020312ec61c1bf7c",
            recipe="cmake",
            products=("libjpeg.a", "libturbojpeg.a"),
            static_args=("-DENABLE_SHARED=OFF", "-DENABLE_STATIC=ON"),
            # No SIMD: it is assembly for nasm, which neither the host's build
            # essentials nor cosmocc carry; the C code paths are the same library.
            configure_args=("-DWITH_SIMD=OFF", "-DWITH_JAVA=OFF"),
            debian=("libjpeg-turbo", "2.1.5"),
            origin=_debian_orig("libjpeg-turbo", "1:2.1.5-2", "libjpeg-turbo_2.1.5.orig.tar.gz"),
            wanted_by=("pillow",),
            # CMake reads the pointer size out of a compiled test binary; fat cosmocc
            # links an APE it cannot read ("math cannot parse the expression: ' * 8'").
            # Both halves are 64-bit. Found by the fat extension test.
            options={"cosmo": Options(configure_args=("-DCMAKE_SIZEOF_VOID_P=8",))},
        ),
        # libzmq 4.3.4 (bookworm's), for pyzmq: Debian's tarball is a git export (no
        # configure), built with CMake. Without libsodium (CURVE uses libzmq's own
        # tweetnacl), GSSAPI (its static closure pulls in Kerberos), libbsd, drafts,
        # WebSockets (their TLS) and the tests, perf tools and docs.
        Library(
            "libzmq",
            "4.3.4",
            "zeromq3_4.3.4.orig.tar.gz",
            None,
            "0ff5a531c9ffaf0dfdc7dc78d13d1383088f454896d252934c429b2554d10559",
            recipe="cmake",
            products=("libzmq.a",),
            static_args=("-DBUILD_SHARED=OFF", "-DBUILD_STATIC=ON"),
            configure_args=(
                "-DWITH_LIBSODIUM=OFF",
                "-DENABLE_CURVE=ON",
                "-DWITH_LIBBSD=OFF",
                "-DENABLE_DRAFTS=OFF",
                "-DENABLE_WS=OFF",
                "-DWITH_DOCS=OFF",
                "-DBUILD_TESTS=OFF",
                "-DWITH_PERF_TOOL=OFF",
                "-DENABLE_CPACK=OFF",
                "-DENABLE_PRECOMPILED=OFF",
            ),
            debian=("zeromq3", "4.3.4"),
            origin=_debian_orig("zeromq3", "4.3.4-6", "zeromq3_4.3.4.orig.tar.gz"),
            options={
                # poll(), not epoll: the poller every system an APE runs on has; and
                # the signaler on a socket pair, not Linux's eventfd.
                "cosmo": Options(
                    configure_args=("-DPOLLER=poll", "-DAPI_POLLER=poll", "-DENABLE_EVENTFD=OFF"),
                    edits=LIBZMQ_CXX20,
                )
            },
            wanted_by=("pyzmq",),
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
            options={"cosmo": Options(configure_args=("ac_cv_header_linux_version_h=yes",))},
        ),
    )
}


def wanted_by(project: str) -> tuple[Library, ...]:
    """The libraries the build of ``project`` (a normalized PyPI name) looks for."""
    return tuple(lib for lib in LIBRARIES.values() if project in lib.wanted_by)


def providing(archive: str) -> Library | None:
    """The pinned library whose build installs ``archive`` (``libxslt.a``, or an alias such
    as ``libtinfo.a``), if any."""
    return next(
        (lib for lib in LIBRARIES.values() if archive in lib.products or archive in lib.aliases),
        None,
    )
