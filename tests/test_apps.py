"""Real apps from PyPI, bundled as a new user would: datasette, httpie, black.

Each comes from a requirements file with nothing apepy-specific in it; each runs
from its single file with an empty environment, in an empty directory.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import urllib.request
from pathlib import Path

import pytest
from conftest import run_apepy, serving


def _requirements(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _run_dir(tmp_path: Path, app: Path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    shutil.copy2(app, folder / app.name)
    return folder


@pytest.mark.parametrize("pruned", [False, True], ids=["full", "pruned"])
def test_datasette_serves_a_database(tmp_path: Path, built_python: Path, pruned: bool) -> None:
    reqs = _requirements(tmp_path, "datasette==0.65.5")
    app = tmp_path / "ds"
    extra = ["--prune"] if pruned else []
    result = run_apepy("bundle", reqs, "-m", "datasette", "--base", built_python, "-o", app, *extra)
    assert result.returncode == 0, result.stderr
    # It finds its templates through __file__: apepy unpacks it on first start.
    assert "datasette: reads its data files from disk" in result.stderr
    folder = _run_dir(tmp_path, app)
    with sqlite3.connect(folder / "data.db") as db:
        db.execute("create table birds (id integer primary key, name text)")
        db.executemany("insert into birds (name) values (?)", [("wren",), ("kite",)])
    cmd = [str(folder / "ds"), "serve", "data.db", "--host", "127.0.0.1"]
    with serving(cmd, folder, {"HOME": str(folder)}, "/-/versions.json", 60) as url:
        with urllib.request.urlopen(url + "/data/birds.json?_shape=array", timeout=10) as resp:
            assert json.load(resp) == [{"id": 1, "name": "wren"}, {"id": 2, "name": "kite"}]
        with urllib.request.urlopen(url + "/-/versions.json", timeout=10) as resp:
            versions = json.load(resp)
        with urllib.request.urlopen(url + "/data", timeout=10) as resp:
            assert "birds" in resp.read().decode()
    assert versions["datasette"]["version"] == "0.65.5"
    assert versions["python"]["version"].startswith("3.13.")


def test_httpie_runs_by_its_script_name(tmp_path: Path, built_python: Path) -> None:
    reqs = _requirements(tmp_path, "httpie==3.2.4")
    app = tmp_path / "http"
    result = run_apepy("bundle", reqs, "--script", "http", "--base", built_python, "-o", app)
    assert result.returncode == 0, result.stderr
    folder = _run_dir(tmp_path, app)
    run = subprocess.run(
        [str(folder / "http"), "--offline", "GET", "example.org", "x==1"],
        capture_output=True,
        text=True,
        env={"HOME": str(folder)},
        cwd=folder,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("GET /?x=1 HTTP/1.1")
    assert "Host: example.org" in run.stdout


def test_black_formats_a_file_on_its_pure_python_fallback(
    tmp_path: Path, built_python: Path
) -> None:
    # black's wheels for CPython are compiled with mypyc; the static base keeps their
    # Python sources (and pytokens', a mypyc-built dependency) and drops the .so files.
    reqs = _requirements(tmp_path, "black==26.10.1")
    app = tmp_path / "black"
    result = run_apepy("bundle", reqs, "--script", "black", "--base", built_python, "-o", app)
    assert result.returncode == 0, result.stderr
    assert "black 26.10.1: its C speedups" in result.stderr
    folder = _run_dir(tmp_path, app)
    source = folder / "messy.py"
    source.write_text("x = {  'a':1 }\ndef f( y ):\n  return y\n")
    run = subprocess.run(
        [str(folder / "black"), "messy.py"],
        capture_output=True,
        text=True,
        env={"HOME": str(folder)},
        cwd=folder,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert source.read_text() == 'x = {"a": 1}\n\n\ndef f(y):\n    return y\n'
    version = subprocess.run(
        [str(folder / "black"), "--version"], capture_output=True, text=True, env={}, cwd=folder
    )
    assert "black, 26.10.1 (compiled: no)" in version.stdout


def test_unknown_script_names_the_ones_there_are(tmp_path: Path, built_python: Path) -> None:
    reqs = _requirements(tmp_path, "httpie==3.2.4")
    app = tmp_path / "http"
    result = run_apepy("bundle", reqs, "--script", "curl", "--base", built_python, "-o", app)
    assert result.returncode == 1
    assert "--script curl: no installed distribution has a console script of that name" in (
        result.stderr
    )
    assert "available: http, httpie, https" in result.stderr and "Traceback" not in result.stderr
    assert not app.exists()


def test_with_and_base_together_are_refused(tmp_path: Path, built_python: Path) -> None:
    reqs = _requirements(tmp_path, "httpie==3.2.4")
    app = tmp_path / "http"
    result = run_apepy("bundle", reqs, "--with", "markupsafe", "--base", built_python, "-o", app)
    assert result.returncode == 1
    assert "--with builds the base" in result.stderr and "apepy build --with" in result.stderr
    assert not app.exists()
