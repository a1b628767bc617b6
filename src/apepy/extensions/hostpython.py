"""The build Python: the same CPython source built the ordinary (dynamic) way for the host.

A package's own build (setuptools, meson-python, scikit-build-core, Cython) has to
run on an interpreter of the target's version, and a static interpreter cannot
load the compiled build tools those need. This one can; it is used only to run
builds, and the compiler wrapper points their includes back at the target's tree.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from apepy import cache, procs, sources, ui
from apepy.context import Context
from apepy.toolchains import Toolchain

_MARKER = ".apepy-complete.json"
_SPACE = 700_000_000


@dataclass(frozen=True)
class HostPython:
    python: Path
    include: Path  # its include/pythonX.Y, which the wrapper swaps for the target's
    version: str


def ensure(source: sources.Source, host: Toolchain, ctx: Context, *, key: str) -> HostPython:
    root = cache.cache_dir("hostpython") / key
    series = ".".join(source.version.split(".")[:2])
    prefix = root / "prefix"
    result = HostPython(
        prefix / "bin" / f"python{series}", prefix / "include" / f"python{series}", source.version
    )
    # In place: configure's --prefix is compiled into the build Python.
    with cache.entry(root, layout="in-place", marker=_MARKER) as entry:
        if not entry.ready:
            cache.ensure_free_space(root.parent, _SPACE, "building the build Python")
            _build(source, host, root, prefix, ctx.log, ctx.jobs)
            entry.publish(json.dumps({"version": source.version}))
    return result


def _build(
    source: sources.Source, host: Toolchain, root: Path, prefix: Path, log: Path, jobs: int
) -> None:
    with ui.phase("build-python", f"CPython {source.version} for running package builds") as st:
        tree = sources.extract(source, root / "src")
        env = {"CC": host.cc, "CXX": host.cxx or "c++"}
        st.update("configure")
        procs.run_logged(
            [
                "./configure",
                f"--prefix={prefix}",
                "--disable-test-modules",
                "--with-ensurepip=install",
            ],
            cwd=tree,
            log=log,
            env=env,
            what="configuring the build Python",
            hint="see the log; the build Python needs the same -dev packages as the interpreter",
        )
        st.update(f"make -j{jobs}")
        procs.run_logged(
            ["make", f"-j{jobs}"],
            cwd=tree,
            log=log,
            env=env,
            what="compiling the build Python",
            hint="see the log for the first error",
        )
        st.update("make install")
        procs.run_logged(
            ["make", "install"],
            cwd=tree,
            log=log,
            env={**env, "PYTHONDONTWRITEBYTECODE": ""},
            what="installing the build Python",
            hint="see the log for the first error",
        )
        shutil.rmtree(tree.parent)
        st.done_text = f"build Python {source.version} ready"
