"""C libraries from source: pinned tarballs built with the selected toolchain into a sysroot.

The same builder serves the host toolchain (tested here with gcc) and the cosmo
toolchain (cosmocc as CC): only the Toolchain's compilers and flags differ. Each
library lands in a per-toolchain sysroot in the cache and is reused across builds.

The libraries are the ones CPython's stdlib extension modules link: zlib, bzip2,
xz (``zlib``, ``_bz2``, ``_lzma``), SQLite (``_sqlite3``), OpenSSL (``_ssl``,
``_hashlib``), libffi (``_ctypes``), ncurses (``_curses``, ``_curses_panel``),
libedit (``readline``) and util-linux's libuuid (``_uuid``); and those third-party
extensions link: libyaml (PyYAML), libxml2 and libxslt (lxml).

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

Cosmopolitan: what differs for cosmocc is data — per-family ``Options`` on each
library (configure arguments, flags, source edits, make variables, OpenSSL's
target) and the Toolchain's declared fields (``pic_flags``, ``triplet``,
``install``, ``fat``) — following how ahgamut/superconfigure builds the same
libraries (one compiler per architecture, configure run natively, no PIC,
per-library options and small source edits). x86_64 cosmocc builds all of them
(checked with a monorepo-built cosmocc 4.0.2); fat cosmocc's layout (``fat.py``)
has not run here.

The package: ``table`` (the pinned libraries, as data), ``builder`` (tarballs, the
sysroot cache, one library's build), ``commands`` (configure/make command lines and
environments from a library and a toolchain), ``recipes/`` (one build procedure a
file), ``fat`` (the two-architecture merge).
"""

from __future__ import annotations

from apepy.deps.builder import RECIPE_REVISION, build, build_all, fingerprint, sysroot, tarball
from apepy.deps.commands import (
    FAT_TWIN_DIR,
    build_env,
    compile_flags,
    configure_command,
    make_variables,
)
from apepy.deps.fat import merge_fat
from apepy.deps.recipes import RECIPES
from apepy.deps.recipes.openssl import configure_command as openssl_configure_command
from apepy.deps.table import LIBRARIES, Library, Options, providing, wanted_by

__all__ = [
    "FAT_TWIN_DIR",
    "LIBRARIES",
    "RECIPES",
    "RECIPE_REVISION",
    "Library",
    "Options",
    "build",
    "build_all",
    "build_env",
    "compile_flags",
    "configure_command",
    "fingerprint",
    "make_variables",
    "merge_fat",
    "openssl_configure_command",
    "providing",
    "sysroot",
    "tarball",
    "wanted_by",
]
