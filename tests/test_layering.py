"""The import graph runs one way: no circles (an import deferred into a function counts),
the toolchain seam imports nothing above it, the build never imports the bundle side,
layout imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from apepy import stepcode

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "apepy"
# The build: what `apepy build` runs. The bundle side may import it, not the reverse.
BUILD = [
    PACKAGE / "build.py",
    *sorted((PACKAGE / "interpreter").rglob("*.py")),
    *sorted((PACKAGE / "extensions").rglob("*.py")),
]
# Modules both sides share, which must import neither.
SHARED = ["layout.py", "sitepackages.py", "zipstore.py", "manifest.py", "pyc.py"]
# What runs inside the file (inside/'s subfolders) cannot import apepy at all; its
# layout import is replaced by values (apepy.inside.source).
INSIDE = sorted(p for p in (PACKAGE / "inside").rglob("*.py") if p.parent != PACKAGE / "inside")


def imported(path: Path) -> set[str]:
    """Every module a file imports anywhere (functions included), by its absolute name."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import"
            module = node.module or ""
            names.add(module)
            # `from apepy import bundle` names the module in the imported names.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_build_lists_real_files() -> None:
    assert len(BUILD) > 10 and all(p.is_file() for p in BUILD)


@pytest.mark.parametrize("path", BUILD, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_the_build_does_not_import_the_bundle_side(path: Path) -> None:
    bundle = sorted(n for n in imported(path) if _is(n, "apepy.bundle"))
    assert bundle == [], f"{path.relative_to(PACKAGE)} imports {bundle}"


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_import_neither_side(name: str) -> None:
    found = imported(PACKAGE / name)
    sides = sorted(n for n in found if _is(n, "apepy.bundle") or _is(n, "apepy.build"))
    assert sides == [], f"{name} imports {sides}"


def test_layout_imports_nothing() -> None:
    assert imported(PACKAGE / "layout.py") == set()


@pytest.mark.parametrize("path", INSIDE, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_code_that_runs_inside_the_file_imports_only_the_layout(path: Path) -> None:
    others = sorted(n for n in imported(path) if _is(n, "apepy") and not _is(n, "apepy.layout"))
    assert others == [], f"{path.relative_to(PACKAGE)} imports {others}"


# --- the whole graph -------------------------------------------------------------


MODULES = stepcode.modules()


def imports(module: str) -> set[str]:
    """The apepy modules ``module`` imports, anywhere in its code (the reader the cache
    keys' code lists are derived with)."""
    return stepcode.imports(module, MODULES)


def graph() -> dict[str, set[str]]:
    # inside/ runs in the produced file and imports no apepy module (test_inside.py).
    return {m: imports(m) for m in MODULES if not m.startswith("apepy.inside")}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(edges) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_import_reader_sees_deferred_imports_and_submodules() -> None:
    # build.py imports toolchains at the top; bundle imports build inside a function;
    # `from apepy.deps import fat` imports the submodule.
    assert "apepy.toolchains" in imports("apepy.build")
    assert "apepy.build" in imports("apepy.bundle")
    assert "apepy.deps.fat" in imports("apepy.deps.builder")


def test_no_import_circle() -> None:
    found = circles(graph())
    assert found == [], "import circles:\n" + "\n".join(" ↔ ".join(c) for c in found)


# What the toolchain seam may build on: the utilities below every step.
BELOW_THE_SEAM = {
    "apepy.cache",
    "apepy.download",
    "apepy.edits",
    "apepy.errors",
    "apepy.hashing",
    # Source edits as data (imports only apepy.edits): the cosmo family's and deps'.
    "apepy.portcosmo",
    "apepy.ui",
}


def test_toolchains_import_nothing_above_them() -> None:
    seam = {m for m in MODULES if m == "apepy.toolchains" or m.startswith("apepy.toolchains.")}
    above = {
        m: sorted(i for i in imports(m) if i not in seam | BELOW_THE_SEAM) for m in sorted(seam)
    }
    assert {m: found for m, found in above.items() if found} == {}


def test_only_the_libraries_layer_builds_c_libraries() -> None:
    """``apepy.libraries`` decides system archive or sysroot, and is the only caller
    of the C-library builder."""
    callers = set()
    for module, path in MODULES.items():
        if module.startswith(("apepy.deps", "apepy.inside")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "deps"
                and node.attr in ("build", "build_all")
            ):
                callers.add(module)
            if (
                isinstance(node, ast.ImportFrom)
                and _is(node.module or "", "apepy.deps")
                and {a.name for a in node.names} & {"build", "build_all", "builder"}
            ):
                callers.add(module)
    assert callers == {"apepy.libraries"}
