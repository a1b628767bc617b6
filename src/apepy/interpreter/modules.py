"""Which stdlib extension modules an interpreter must have, and what each needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Needs:
    """The static libraries a module links and the Debian package that ships them."""

    libraries: tuple[str, ...]
    debian: str


# Modules every apepy interpreter has; a build without one of them fails.
REQUIRED: frozenset[str] = frozenset(
    [
        "_ssl",
        "_hashlib",
        "_sqlite3",
        "_ctypes",
        "zlib",
        "_bz2",
        "_lzma",
        "_decimal",
        "pyexpat",
        "_elementtree",
        "readline",
        "_curses",
        "_uuid",
        "_socket",
        "select",
        "_json",
        "_datetime",
        "math",
        "unicodedata",
        "_multiprocessing",
    ]
)

# Built when their library is present; a missing library is a warning.
OPTIONAL: frozenset[str] = frozenset({"_dbm", "_gdbm", "_curses_panel"})

# Modules that cannot be linked statically into a portable executable.
NOT_STATIC: dict[str, str] = {
    "_tkinter": "Tcl/Tk has no usable static build and needs a display server",
    "nis": "needs the static GSSAPI/libnsl stack",
    "_scproxy": "macOS only",
}

NEEDS: dict[str, Needs] = {
    "_ssl": Needs(("libssl.a", "libcrypto.a"), "libssl-dev"),
    "_hashlib": Needs(("libcrypto.a",), "libssl-dev"),
    "_sqlite3": Needs(("libsqlite3.a",), "libsqlite3-dev"),
    "_ctypes": Needs(("libffi.a",), "libffi-dev"),
    "zlib": Needs(("libz.a",), "zlib1g-dev"),
    "_bz2": Needs(("libbz2.a",), "libbz2-dev"),
    "_lzma": Needs(("liblzma.a",), "liblzma-dev"),
    "readline": Needs(("libreadline.a", "libtinfo.a"), "libreadline-dev"),
    "_curses": Needs(("libncursesw.a", "libtinfo.a"), "libncurses-dev"),
    "_curses_panel": Needs(("libpanelw.a",), "libncurses-dev"),
    "_uuid": Needs(("libuuid.a",), "uuid-dev"),
    "_dbm": Needs(("libgdbm_compat.a", "libgdbm.a"), "libgdbm-compat-dev"),
    "_gdbm": Needs(("libgdbm.a",), "libgdbm-dev"),
}

# Built from source (deps), readline is libedit's emulation, not GNU readline (GPLv3):
# configure --with-readline=editline.
FROM_SOURCE: dict[str, Needs] = {**NEEDS, "readline": Needs(("libedit.a",), "libedit-dev")}

# Setup.local lines for modules whose configure probe fails under LDFLAGS=-static
# although the library is there (the probe links without the library's own
# dependencies). Setup.local is read first, so these lines win.
STATIC_OVERRIDES: dict[str, str] = {
    "_dbm": "_dbm _dbmmodule.c -DUSE_GDBM_COMPAT -lgdbm_compat -lgdbm",
}


# CPython 3.11 reads Modules/Setup.stdlib only for WASM and builds these modules with
# setup.py as shared libraries; a static build needs explicit Setup.local lines
# (3.12 moved them into Setup.stdlib). makesetup treats a line with '=' as a make
# variable, hence bare -D flags.
LEGACY_311: dict[str, str] = {
    "_ctypes": "_ctypes _ctypes/_ctypes.c _ctypes/callbacks.c _ctypes/callproc.c "
    "_ctypes/stgdict.c _ctypes/cfield.c -DHAVE_FFI_PREP_CIF_VAR -DHAVE_FFI_PREP_CLOSURE_LOC "
    "-DHAVE_FFI_CLOSURE_ALLOC -lffi",
    "readline": "readline readline.c -lreadline -ltinfo",
    "_curses": "_curses _cursesmodule.c -DHAVE_NCURSESW -D_XOPEN_SOURCE_EXTENDED "
    "-I/usr/include/ncursesw -lncursesw -ltinfo",
    "_curses_panel": "_curses_panel _curses_panel.c -DHAVE_NCURSESW -D_XOPEN_SOURCE_EXTENDED "
    "-I/usr/include/ncursesw -lpanelw -lncursesw -ltinfo",
    "_dbm": "_dbm _dbmmodule.c -DUSE_GDBM_COMPAT -lgdbm_compat -lgdbm",
}
# The same for a toolchain whose libraries come from apepy's sysroot (cosmo):
# libedit instead of GNU readline, and ncurses' headers from the sysroot (its
# include/ncursesw is on CFLAGS), never the build host's /usr/include.
# Checked only with cosmocc.
LEGACY_311_SYSROOT: dict[str, str] = {
    **LEGACY_311,
    "readline": "readline readline.c -DWITH_EDITLINE -ledit -lncursesw",
    "_curses": "_curses _cursesmodule.c -DHAVE_NCURSESW -D_XOPEN_SOURCE_EXTENDED -lncursesw",
    "_curses_panel": "_curses_panel _curses_panel.c -DHAVE_NCURSESW -D_XOPEN_SOURCE_EXTENDED "
    "-lpanelw -lncursesw",
}


# 3.11's configure probes some libraries with their flags before conftest.c, so a
# static libsqlite3.a misses libm; LIBS comes after and satisfies them.
CONFIGURE_ENV_BY_SERIES: dict[str, dict[str, str]] = {
    # 3.11's configure takes flock from libbsd when libbsd-dev is installed; the
    # static libbsd.a then needs libmd, which nothing adds. glibc has flock.
    "3.11": {"LIBS": "-lm -lz", "ac_cv_lib_bsd_flock": "no"},
}


def debian_packages(modules: set[str] | frozenset[str]) -> list[str]:
    return sorted({NEEDS[m].debian for m in modules if m in NEEDS})


def configured_states(makefile: Path) -> dict[str, str]:
    """Read configure's verdict per stdlib module (``MODULE_<NAME>_STATE``), by module name."""
    text = makefile.read_text(encoding="utf-8", errors="replace")
    states: dict[str, str] = {}
    for upper, state in re.findall(r"^MODULE_([A-Z0-9_]+)_STATE=(\S*)", text, re.MULTILINE):
        states[upper.lower()] = state
    return states


def describe_missing(module: str) -> str:
    needs = NEEDS.get(module)
    if needs is None:
        return module
    return f"{module} (needs {', '.join(needs.libraries)}: Debian package {needs.debian})"
