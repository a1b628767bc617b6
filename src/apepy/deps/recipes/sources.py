"""A tarball without a generated configure (a git export): its C files are compiled
and archived directly, with the headers and a pkg-config file the table names."""

from __future__ import annotations

from pathlib import Path

from apepy.deps.commands import build_env, install_file, run, write_pkgconfig
from apepy.deps.table import Library
from apepy.errors import ApepyError
from apepy.toolchains import Toolchain


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    files = sorted(f for pattern in lib.sources for f in tree.glob(pattern))
    if not files:
        raise ApepyError(
            f"{lib.name}: no sources match {', '.join(lib.sources)} in {tree.name}",
            hint="the pinned source changed; the library's entry in apepy's table needs updating",
        )
    flags = [*env["CFLAGS"].split(), *env["CPPFLAGS"].split(), f"-I{tree / 'include'}"]
    objects = []
    for index, source in enumerate(files):
        obj = tree / f"apepy-{index}-{source.stem}.o"
        run(
            [tc.cc, *flags, "-c", str(source), "-o", str(obj)],
            tree,
            log,
            env,
            f"compile {lib.name}",
        )
        objects.append(str(obj))
    archive = tree / lib.products[0]
    run([tc.ar, "rcs", str(archive), *objects], tree, log, env, f"archive {lib.name}")
    install_file(archive, root / "lib" / archive.name)
    for header in lib.headers:
        install_file(tree / header, root / "include" / Path(header).name)
    name, libs = lib.pkgconfig
    if name:
        write_pkgconfig(root, name, lib.name, lib.version, libs)
