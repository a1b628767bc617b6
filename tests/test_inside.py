"""The code that runs inside the file gets apepy.layout's values, and nothing else of apepy."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from apepy import inside, layout

PYTHON = sorted(
    p.relative_to(inside.INSIDE).as_posix()
    for p in inside.INSIDE.rglob("*.py")
    if p.parent != inside.INSIDE and "__pycache__" not in p.parts
)


def test_the_inside_files_are_found() -> None:
    assert {"frozen/_apepy_importer.py", "runtime/_apepy.py", "runtime/_apepy_boot.py"} <= set(
        PYTHON
    )


@pytest.mark.parametrize("rel", PYTHON)
def test_shipped_source_keeps_its_lines_and_imports_no_apepy(rel: str) -> None:
    original = inside.path(rel).read_text(encoding="utf-8")
    shipped = inside.source(rel)
    assert shipped.count("\n") == original.count("\n")
    assert "apepy.layout" not in shipped
    compile(shipped, rel, "exec", dont_inherit=True)
    # Only the layout import's lines differ, so a traceback quotes the lines of the file here.
    layout_lines = {
        line
        for node in ast.parse(original).body
        if isinstance(node, ast.ImportFrom) and node.module == "apepy.layout"
        for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
    }
    pairs = zip(original.splitlines(), shipped.splitlines(), strict=True)
    changed = {n for n, (a, b) in enumerate(pairs, start=1) if a != b}
    assert changed <= layout_lines


def test_the_importer_carries_the_layouts_values() -> None:
    namespace: dict[str, object] = {"__name__": "_apepy_importer"}
    exec(compile(inside.source("frozen/_apepy_importer.py"), "_apepy_importer", "exec"), namespace)
    assert namespace["INDEX_MAGIC"] == layout.INDEX_MAGIC
    assert namespace["FROZEN_PREFIX"] == layout.FROZEN_PREFIX
    assert namespace["LIB"] == layout.LIB


def test_runtime_modules_carry_the_layouts_values() -> None:
    for rel, name in (
        ("runtime/_apepy.py", "CA_BUNDLE"),
        ("runtime/_apepy_boot.py", "BUNDLE_CONFIG"),
    ):
        tree = ast.parse(inside.source(rel))
        assigned = {
            t.id: ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        assert assigned[name] == getattr(layout, name)


def _inside_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "mod.py").write_text(text, encoding="utf-8")
    monkeypatch.setattr(inside, "INSIDE", tmp_path)
    return "probe/mod.py"


def test_a_multiline_layout_import_keeps_the_line_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rel = _inside_file(
        tmp_path,
        monkeypatch,
        "import os\nfrom apepy.layout import (  # why\n    LIB,\n    SITE as S,\n)\nX = 1\n",
    )
    assert inside.source(rel) == "import os\nLIB = 'Lib/'; S = 'Lib/site-packages/'\n\n\n\nX = 1\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from apepy import layout\n", "imports apepy"),
        ("def f():\n    from apepy.layout import LIB\n", "imports apepy"),
        ("import apepy.zipstore\n", "imports apepy"),
        ("from apepy.layout import NOT_THERE\n", "has no 'NOT_THERE'"),
        ("from apepy.layout import *\n", "has no '*'"),
        ("X = 1; from apepy.layout import LIB\n", "on its own lines"),
        ("from apepy.layout import LIB; X = 1\n", "on its own lines"),
    ],
)
def test_anything_but_a_layout_import_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    rel = _inside_file(tmp_path, monkeypatch, text)
    with pytest.raises(ValueError, match=message):
        inside.source(rel)


def test_import_all_counts_a_wrapped_missing_dependency_as_missing(tmp_path: Path) -> None:
    """pandas turns a missing dateutil into its own ImportError: still "missing", with the
    name from the error's chain; any other failure stays an error."""
    (tmp_path / "wrapper.py").write_text(
        "try:\n    import apepy_absent_dep\nexcept ImportError as e:\n"
        "    raise ImportError('Unable to import required dependency apepy_absent_dep') from e\n"
    )
    (tmp_path / "broken.py").write_text("raise ImportError('no symbol')\n")
    (tmp_path / "plain.py").write_text("import apepy_absent_too\n")
    run = subprocess.run(
        [sys.executable, "-c", inside.source("probes/import_all.py"), "wrapper", "broken", "plain"],
        capture_output=True, text=True, cwd=tmp_path, env={},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "wrapper": ["missing", "apepy_absent_dep"],
        "broken": ["error", "ImportError: no symbol"],
        "plain": ["missing", "apepy_absent_too"],
    }
