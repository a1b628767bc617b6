"""--optimize: a PGO + LTO build trained on apepy's own task, not CPython's test suite."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from conftest import EXTENSION_PINS, apepy_ok, builds, real_cache_root, run_apepy, run_clean

from apepy import sources
from apepy.interpreter import compile, pgo

TASK = Path(pgo.__file__).resolve().parent.parent / "inside" / "pgo" / "task.py"


@pytest.fixture(scope="session")
@builds
def optimized(
    tmp_path_factory: pytest.TempPathFactory, release: sources.Release
) -> tuple[Path, Path | None]:
    """The --optimize interpreter, and the log of the build if it built the core now
    (from the cache, apepy names no log)."""
    out = tmp_path_factory.mktemp("optimized") / "python"
    result = apepy_ok("build", "--python", release.version, "--optimize", "-o", out, "--offline")
    match = re.search(r"\(log: (\S+)\)", result.stdout + result.stderr)
    return out, Path(match.group(1)) if match else None


def _task_parts() -> list[str]:
    spec = importlib.util.spec_from_file_location("apepy_pgo_task", TASK)
    assert spec is not None and spec.loader is not None
    task = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(task)
    return list(task.PARTS)


def _trained_trees(version: str) -> list[Path]:
    """The cached CPython trees of --optimize builds trained on apepy's task."""
    found = []
    for marker in (real_cache_root() / "cpython").glob(f"*/{compile.COMPLETE_MARKER}"):
        record = json.loads(marker.read_text())
        if record.get("version") == version and record.get("optimization") == pgo.describe("apepy"):
            found.append(marker.parent / record["tree"])
    return found


def test_optimize_trains_on_apepys_task(
    optimized: tuple[Path, Path | None], release: sources.Release
) -> None:
    python, log = optimized
    info = run_apepy("info", python).stdout
    assert re.search(r"optimised\s+PGO \(apepy's training task\) \+ LTO", info), info
    # The training's profile stays in the cached tree: the interpreter's core's, which
    # the second compile read.
    trees = _trained_trees(release.version)
    assert trees, "no cached --optimize tree records apepy's training"
    core = [t / pgo.PROFILES / "Python#ceval.gcda" for t in trees]
    assert any(p.is_file() and p.stat().st_size > 0 for p in core), core
    text = log.read_text(errors="replace") if log is not None else ""
    if "apepy-pgo: done" not in text:
        return  # the core came from the cache: the log of its build is not this run's
    # Every part of the task ran, in order, and not in the cache: in the place named by
    # the build's inputs.
    parts = re.findall(r"^apepy-pgo: (.+)$", text, flags=re.M)
    assert parts == [*_task_parts(), "done"], parts
    assert re.search(r"^\$ \(cd /tmp/apepy-pgo-\w+ && setarch \S+ -R ./python", text, flags=re.M)
    # Then the build used the profile with LTO.
    final = text[text.index("apepy-pgo: done") :]
    assert "-fprofile-use" in final and "-flto" in final
    # The profile matched the code it was used on: no function of the interpreter was
    # compiled without one for want of a matching .gcda.
    assert "coverage mismatch" not in text
    missing = re.findall(r"([\w/.#-]+\.gcda)\W+profile count data file not found", final)
    assert not missing, missing
    # One LTO link, the interpreter's: the frozen modules' tools come from the first
    # step, and the test-embedding program is never made.
    links = re.findall(r"^\S*gcc\S* .*-o (\S+) ", final, flags=re.M)
    linked = [name for name in links if not name.endswith(".o")]
    assert linked == ["python"], linked


def test_optimized_interpreter_runs_the_workload(
    optimized: tuple[Path, Path | None], built_python: Path, tmp_path: Path
) -> None:
    python, _ = optimized
    assert python.read_bytes() != built_python.read_bytes()
    done = run_clean(python, str(TASK), "--scale", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "apepy-pgo: done"
    facts = run_clean(
        python,
        "-c",
        "import sysconfig; print(sysconfig.get_config_var('CONFIG_ARGS'))",
        cwd=tmp_path,
    )
    assert "--enable-optimizations" in facts.stdout and "--with-lto" in facts.stdout


def test_extensions_link_into_the_optimized_core(
    optimized: tuple[Path, Path | None], release: sources.Release, tmp_path: Path
) -> None:
    # The relink with an extension takes its command from the cached tree's Makefile:
    # it must be the optimised build's own link (slim LTO objects need an LTO link), and
    # sysconfig must record that build, not configure's first guess.
    out = tmp_path / "python"
    apepy_ok(
        "build", "--python", release.version, "--optimize",
        "--with", EXTENSION_PINS["markupsafe"], "-o", out, "--offline",
    )  # fmt: skip
    done = run_clean(
        out,
        "-c",
        "import markupsafe, markupsafe._speedups, sysconfig\n"
        "print(markupsafe.escape('<b>'), markupsafe._escape_inner.__module__)\n"
        "print(sysconfig.get_config_var('CONFIGURE_LDFLAGS_NODIST'))",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    escaped, flags = done.stdout.splitlines()
    assert escaped == "&lt;b&gt; markupsafe._speedups"
    words = flags.split()
    assert "-fno-fat-lto-objects" in words and "-ffat-lto-objects" not in words, flags
    assert "-flto-partition=none" not in words and "-g" not in words, flags
    assert any(re.fullmatch(r"-flto=\d+", w) for w in words), flags


def test_pgo_task_needs_optimize(tmp_path: Path) -> None:
    result = run_apepy("build", "--pgo-task", "cpython", "-o", tmp_path / "python")
    assert result.returncode != 0
    assert "--pgo-task chooses the training run of an --optimize build" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "python").exists()
