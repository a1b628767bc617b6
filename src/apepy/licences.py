"""Licences, as SPDX expressions: of CPython, of the C libraries a file can link, and
which of them are copyleft.

The pinned libraries' licences live here, keyed by their names in ``deps.table``,
rather than in the table itself: the table is part of the code digest of every
interpreter built with the libraries from source, and a licence changes nothing in
a build (tests/test_sbom.py checks that both name the same libraries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CPYTHON = "PSF-2.0"

# deps.table's libraries: the licence of what is linked (the library, not its tools).
LIBRARIES: dict[str, str] = {
    "zlib": "Zlib",
    "bzip2": "bzip2-1.0.6",
    # liblzma up to 5.4 is in the public domain (0BSD from 5.6 on); SPDX has no
    # identifier for that.
    "xz": "LicenseRef-public-domain",
    "sqlite": "blessing",
    "openssl": "Apache-2.0",
    "libffi": "MIT",
    "ncurses": "X11",
    "libedit": "BSD-3-Clause",
    "libyaml": "MIT",
    "libxml2": "MIT",
    "libxslt": "MIT",
    "libpng": "libpng-2.0",
    "freetype": "FTL OR GPL-2.0-or-later",
    "libjpeg-turbo": "IJG AND BSD-3-Clause AND Zlib",
    # With ZeroMQ's own static-linking exception (COPYING.LESSER), which SPDX does not
    # list; MPL-2.0 only from 4.3.5 on.
    "libzmq": "LGPL-3.0-or-later",
    "libuuid": "BSD-3-Clause",
}


@dataclass(frozen=True)
class SystemOnly:
    """A library a host build links from the system that apepy has no recipe for."""

    name: str
    license: str


# By static archive. GNU readline and gdbm are GPL: apepy builds neither (libedit
# replaces readline where the libraries come from source; there is no gdbm then).
SYSTEM_ONLY: dict[str, SystemOnly] = {
    "libreadline.a": SystemOnly("readline", "GPL-3.0-or-later"),
    "libhistory.a": SystemOnly("readline", "GPL-3.0-or-later"),
    "libgdbm.a": SystemOnly("gdbm", "GPL-3.0-or-later"),
    "libgdbm_compat.a": SystemOnly("gdbm", "GPL-3.0-or-later"),
    "libtinfo.a": SystemOnly("ncurses", LIBRARIES["ncurses"]),
}

# Licence families whose terms reach a program that links the code: strong (the
# whole program) and weak (the library's own files, and relinking for the LGPL).
_STRONG = re.compile(r"\bA?GPL\b|^A?GPL-|GNU (Affero )?General Public", re.IGNORECASE)
_WEAK = re.compile(
    r"\bLGPL|Lesser General Public|Library General Public|\bMPL-|Mozilla Public|\bEPL-|"
    r"Eclipse Public|\bEUPL|\bCDDL|\bOSL-|\bCECILL",
    re.IGNORECASE,
)


def copyleft(expression: str) -> str | None:
    """ "strong", "weak" or None for a licence (an SPDX expression, or a licence's
    name as a wheel's metadata gives it). An ``OR`` with a permissive choice
    (FreeType's ``FTL OR GPL-2.0-or-later``) binds to nothing."""
    choices = [c.strip(" ()") for c in re.split(r"\s+OR\s+", expression)]
    kinds = [_kind(c) for c in choices]
    if None in kinds:
        return None
    return "weak" if "weak" in kinds else "strong"


def _kind(licence: str) -> str | None:
    if re.search(r"WITH\s+GCC-exception-", licence):
        return None  # GCC's runtime: the exception leaves the program's terms alone
    if _WEAK.search(licence):
        return "weak"
    if _STRONG.search(licence):
        return "strong"
    return None
