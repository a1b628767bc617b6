"""SQLite from its full source tree, which generates the amalgamation with tclsh."""

from __future__ import annotations

import shutil
from pathlib import Path

from apepy.deps.commands import install_file
from apepy.deps.recipes import autoconf
from apepy.deps.table import Library
from apepy.errors import ApepyError
from apepy.toolchains import Toolchain


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    if shutil.which("tclsh") is None:
        raise ApepyError(
            "building SQLite from its source tree needs tclsh, which is not installed",
            hint="install Tcl (Debian/Ubuntu: apt-get install tcl)",
        )
    autoconf.build(lib, tc, tree, root, log, jobs)
    # lib_install installs only the library: the headers and pkg-config file by hand
    # (the whole `install` would also build the sqlite3 shell).
    for header in ("sqlite3.h", "sqlite3ext.h"):
        install_file(tree / header, root / "include" / header)
    install_file(tree / "sqlite3.pc", root / "lib" / "pkgconfig" / "sqlite3.pc")
