"""Each cache key's code list is what its step imports (stepcode), less only what is
written down here as not shaping that step's output: a module the step imports and the
key leaves out fails here (pyc.py, which sets every stdlib .pyc's hash seed, once was)."""

from __future__ import annotations

import dataclasses

import pytest

from apepy import build, extensions, stepcode, toolchains
from apepy.deps import recipes
from apepy.toolchains.toolchain import Toolchain

HOST = Toolchain(
    family="host",
    cc="cc",
    cxx=None,
    ar="ar",
    ranlib="ranlib",
    strip=None,
    compiler_version="cc 1",
    target="linux-x86_64",
    arch="x86_64",
)
FROM_SOURCE = dataclasses.replace(HOST, libraries="source")

# Not the output of any step: messages, the cache's bookkeeping, how a build runs,
# downloads (checked against their pins).
NOT_OUTPUT = ["apepy.ui", "apepy.errors", "apepy.cache", "apepy.context", "apepy.download"]


def _missing(roots: list[str], listed: tuple[str, ...], *, apart_from: list[str]) -> set[str]:
    """The files of what the roots import (transitively, not through ``apart_from``,
    the step's written-down exceptions) that the key's list does not hold."""
    known = stepcode.modules()
    every = stepcode.closure(roots, leave_out=[*NOT_OUTPUT, *apart_from])
    return {known[m].relative_to(known["apepy"].parent).as_posix() for m in every} - set(listed)


def test_the_packed_interpreter_is_keyed_by_the_pyc_compiler() -> None:
    assert "pyc.py" in build.pack_code()
    assert "inside/probes" in build.pack_code() and "inside/runtime" in build.pack_code()


def test_the_cpython_tree_is_keyed_by_what_compile_imports() -> None:
    root = ["apepy.interpreter.compile"]
    # The other family's code, and the C libraries' recipes where the system's are linked.
    host = _missing(
        root, build.core_code(HOST), apart_from=["apepy.toolchains.cosmo", "apepy.deps"]
    )
    source = _missing(root, build.core_code(FROM_SOURCE), apart_from=["apepy.toolchains.cosmo"])
    assert host == source == set()
    assert {"inside/c", "inside/frozen"} <= set(build.core_code(HOST))
    assert "deps/table.py" in build.core_code(FROM_SOURCE)


def test_the_packed_interpreter_is_keyed_by_what_build_imports() -> None:
    # The tree (the core key) and the extensions' builds (their own key) cover the rest.
    covered = ["apepy.interpreter.compile", "apepy.toolchains", "apepy.libraries", "apepy.deps"]
    missing = _missing(
        ["apepy.build"], build.pack_code(), apart_from=[*covered, "apepy.extensions"]
    )
    assert missing == set()


@pytest.mark.parametrize("with_libraries", [False, True])
def test_a_package_build_is_keyed_by_what_extensions_import(with_libraries: bool) -> None:
    listed = extensions.build_code(with_libraries=with_libraries)
    covered = ["apepy.interpreter.compile", "apepy.toolchains"]
    libraries = [] if with_libraries else ["apepy.deps"]
    assert _missing(["apepy.extensions"], listed, apart_from=[*covered, *libraries]) == set()
    # Run as a program, not imported: listed by name.
    assert "extensions/ccwrap.py" in listed


def test_the_build_python_is_keyed_by_what_hostpython_imports() -> None:
    listed = extensions.hostpython_code()
    assert (
        _missing(["apepy.extensions.hostpython"], listed, apart_from=["apepy.toolchains"]) == set()
    )


@pytest.mark.parametrize("recipe", sorted(recipes.RECIPES))
def test_a_recipes_marker_holds_the_builder_code_it_runs(recipe: str) -> None:
    """A library's marker lists its recipe's files by hand (a change rebuilds the
    libraries in every shared sysroot): they must hold every part of deps the recipe
    imports, but the table (each library's own data is in its marker already)."""
    imported = {
        p
        for p in _missing([f"apepy.deps.recipes.{recipe}"], (), apart_from=["apepy.deps.table"])
        if p.startswith("deps/")
    }
    assert imported <= set(recipes.FILES[recipe]), sorted(imported - set(recipes.FILES[recipe]))


def test_every_family_is_left_out_of_the_others_key() -> None:
    for name in toolchains.NAMES:
        tc = dataclasses.replace(HOST, family=name)
        code = build.core_code(tc)
        assert f"toolchains/{name}.py" in code
        assert not [n for n in toolchains.NAMES if n != name and f"toolchains/{n}.py" in code]
