"""zlib: its own configure script, and the static library alone."""

from __future__ import annotations

from pathlib import Path

from apepy.deps.commands import build_env, install_file, run
from apepy.deps.table import Library
from apepy.toolchains import Toolchain


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    run(["./configure", "--static", f"--prefix={root}"], tree, log, env, "configure zlib")
    run(["make", f"-j{jobs}", "libz.a"], tree, log, env, "make zlib")
    # zlib's `make install` copies with cp, which would leave a fat build's aarch64 twin behind.
    install_file(tree / "libz.a", root / "lib" / "libz.a")
    for header in ("zlib.h", "zconf.h"):
        install_file(tree / header, root / "include" / header)
    install_file(tree / "zlib.pc", root / "lib" / "pkgconfig" / "zlib.pc")
