"""How a library's source becomes archives and headers in the sysroot, one recipe a file.

A recipe is a function ``(lib, toolchain, tree, root, log, jobs)``: the unpacked
source ``tree`` is built with ``toolchain`` and installed into the sysroot ``root``
(``include/``, ``lib/``, ``lib/pkgconfig/``), logging to ``log``. A library names its
recipe in the table (``Library.recipe``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from apepy.deps.recipes import autoconf, bzip2, cmake, openssl, sources, sqlite, zlib
from apepy.deps.table import Library
from apepy.toolchains import Toolchain

Recipe = Callable[[Library, Toolchain, Path, Path, Path, int], None]

RECIPES: dict[str, Recipe] = {
    "autoconf": autoconf.build,
    "cmake": cmake.build,
    "zlib": zlib.build,
    "bzip2": bzip2.build,
    "sqlite": sqlite.build,
    "openssl": openssl.build,
    "sources": sources.build,
}

# The files each recipe runs (with the builder's own steps around it), whose digest is
# part of its libraries' build marker: a changed recipe rebuilds the libraries it
# builds, and only those.
FILES: dict[str, tuple[str, ...]] = {
    name: ("deps/builder.py", "deps/commands.py", f"deps/recipes/{name}.py") for name in RECIPES
}
FILES["sqlite"] += ("deps/recipes/autoconf.py",)
