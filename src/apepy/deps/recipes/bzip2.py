"""bzip2: no configure; its Makefile takes the tools as make variables."""

from __future__ import annotations

from pathlib import Path

from apepy.deps.commands import build_env, install_file, run, write_pkgconfig
from apepy.deps.table import Library
from apepy.toolchains import Toolchain


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    flags = f"{env['CFLAGS']} -D_FILE_OFFSET_BITS=64"
    run(
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
    install_file(tree / "libbz2.a", root / "lib" / "libbz2.a")
    install_file(tree / "bzlib.h", root / "include" / "bzlib.h")
    # bzip2 ships no pkg-config file; CPython 3.12+ asks pkg-config for "bzip2" first.
    write_pkgconfig(root, "bzip2", "a block-sorting file compressor library", lib.version, "-lbz2")
