"""The import graph runs one way: the build never imports the bundle side, layout imports nothing."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

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
