"""CPython 3.11.2: the older module layout (setup.py era) built fully static, and bundled onto."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, apepy_ok, builds, local_release, run_apepy

from apepy.interpreter.modules import REQUIRED


@pytest.fixture(scope="session")
@builds
def python311(tmp_path_factory: pytest.TempPathFactory) -> Path:
    release = local_release("3.11")
    if release is None:
        pytest.fail("no CPython 3.11 tarball in the source cache: run scripts/setup")
    out = tmp_path_factory.mktemp("py311") / "python"
    apepy_ok("build", "--python", release.version, "-o", out, "--offline")
    return out


def test_311_has_every_required_module_and_finds_itself(python311: Path, tmp_path: Path) -> None:
    code = (
        "import importlib, json, sys\n"
        f"names = {sorted(REQUIRED)!r}\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'version': sys.version_info[:2], 'static': [n for n in names if n in sys.builtin_module_names],"
        " 'path': sys.path}))\n"
    )
    result = subprocess.run(
        [str(python311), "-c", code], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["version"] == [3, 11]
    assert sorted(data["static"]) == sorted(REQUIRED)
    assert data["path"][-2:] == [f"{python311}/Lib", f"{python311}/Lib/site-packages"]


def test_311_bundle_dispatches(python311: Path, tmp_path: Path) -> None:
    out = tmp_path / "greeter"
    result = run_apepy("bundle", REPO / "examples" / "cli-tool", "-o", out, "--base", python311)
    assert result.returncode == 0, result.stderr
    run = subprocess.run(
        [str(out), "greet", "Eleven"], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.stdout == "Hello, Eleven!\n", run.stderr
    meta = subprocess.run(
        [str(out), "-c", "import importlib.metadata as m; print(m.version('greeter'))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"APEPY_PLAIN": "1"},
    )
    assert meta.stdout == "0.2.0\n", meta.stderr


def test_311_keeps_no_descriptor_and_leaves_closed_stdio_closed(
    python311: Path, tmp_path: Path
) -> None:
    # 3.11's mmap keeps a duplicate descriptor unless given apepy's backport of
    # trackfd=False (found by CPython's test_subprocess and test_cmd_line).
    code = (
        "import os, sys, json, email.mime.text\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "print(sum(os.path.realpath(f'/proc/self/fd/{fd}') == os.path.realpath(sys.executable)"
        " for fd in fds))\n"
    )
    result = subprocess.run(
        [str(python311), "-c", code], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
    closed = subprocess.run(
        [str(python311), "-c", "import sys; sys.exit(42 if sys.stdout is None else 1)"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
        env={},
        # stdout closed in the child, as CPython's test_no_std_streams does.
        preexec_fn=lambda: os.close(1),
    )
    assert closed.returncode == 42


def test_311_lib2to3_imports_from_the_file(python311: Path, tmp_path: Path) -> None:
    # Its grammar tables are pickled at build time, as make install does.
    code = "import lib2to3.pygram, lib2to3.refactor; print('ok')"
    result = subprocess.run(
        [str(python311), "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
