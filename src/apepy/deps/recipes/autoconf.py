"""A library with a generated ``configure``: configure, make, make install."""

from __future__ import annotations

from pathlib import Path

from apepy.deps.commands import build_env, configure_command, make_variables, run
from apepy.deps.table import Library
from apepy.toolchains import Toolchain


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    env = build_env(lib, tc, root, tree)
    extra = make_variables(lib, tc)
    run(configure_command(lib, tc, root), tree, log, env, f"configure {lib.name}")
    run(["make", f"-j{jobs}", *extra, *lib.make_targets], tree, log, env, f"make {lib.name}")
    run(["make", *extra, *lib.install_targets], tree, log, env, f"install {lib.name}")
