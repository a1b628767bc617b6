"""Supply chain: a wheel is installed only as it was when pip downloaded it.

The cached resolution records each wheel's sha256; `apepy bundle` checks the wheel
against it when it takes it out of the cache, and installs from that checked copy.
A wheel changed in the cache is refused even when its own RECORD agrees with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import apepy_cmd
from wheelmaker import make_wheel


def bundle(
    project: Path, links: Path, out: Path, base: Path, cache: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, APEPY_CACHE_DIR=str(cache), COLUMNS="4000")
    command = apepy_cmd(
        "bundle", project, "-o", out, "--base", base, "--no-index", "--find-links", links, *extra
    )
    return subprocess.run(command, capture_output=True, text=True, env=env)


@pytest.fixture()
def app(tmp_path: Path) -> tuple[Path, Path]:
    """A project that prints a value from its one dependency, and the wheel it comes from."""
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(links, "rows", "1.0", {"rows/__init__.py": b"COUNT = 3\n"})
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[project]\nname = 'demo'\nversion = '1'\ndependencies = ['rows']\n"
        "[project.scripts]\ndemo = 'demo_app:main'\n"
    )
    (project / "demo_app.py").write_text("import rows\ndef main():\n    print(rows.COUNT)\n")
    return project, links


def cached_entry(cache: Path) -> Path:
    entries = [d for d in (cache / "wheels").iterdir() if d.is_dir()]
    assert len(entries) == 1, entries
    return entries[0]


def run_app(out: Path) -> str:
    return subprocess.run([str(out)], capture_output=True, text=True, env={}).stdout


def test_resolution_records_each_wheels_sha256(
    app: tuple[Path, Path], tmp_path: Path, built_python: Path
) -> None:
    project, links = app
    cache = tmp_path / "cache"
    result = bundle(project, links, tmp_path / "out", built_python, cache)
    assert result.returncode == 0, result.stderr
    entry = cached_entry(cache)
    recorded = json.loads((entry / "resolved.json").read_text())
    wheel = entry / "rows-1.0-py3-none-any.whl"
    assert recorded == {wheel.name: hashlib.sha256(wheel.read_bytes()).hexdigest()}
    # ... and the same bytes pip was given.
    assert wheel.read_bytes() == (links / wheel.name).read_bytes()


@pytest.mark.parametrize("change", ["forged", "truncated"])
def test_a_wheel_changed_in_the_cache_is_refused(
    app: tuple[Path, Path], tmp_path: Path, built_python: Path, change: str
) -> None:
    project, links = app
    cache = tmp_path / "cache"
    out = tmp_path / "out"
    assert bundle(project, links, out, built_python, cache).returncode == 0
    assert run_app(out) == "3\n"
    out.unlink()
    wheel = cached_entry(cache) / "rows-1.0-py3-none-any.whl"
    if change == "forged":
        # Well made: its RECORD matches its content, so installer's own check passes.
        evil = tmp_path / "evil"
        evil.mkdir()
        wheel.write_bytes(
            make_wheel(evil, "rows", "1.0", {"rows/__init__.py": b"COUNT = 4\n"}).read_bytes()
        )
    else:
        wheel.write_bytes(wheel.read_bytes()[:-40])

    refused = bundle(project, links, out, built_python, cache)
    assert refused.returncode == 1, refused.stderr
    assert "Traceback" not in refused.stderr
    assert "rows-1.0-py3-none-any.whl does not match the sha256 recorded" in refused.stderr
    assert "hint: run again with --refresh" in refused.stderr
    assert not out.exists()

    # --refresh downloads it again; the app gets the genuine dependency.
    again = bundle(project, links, out, built_python, cache, "--refresh")
    assert again.returncode == 0, again.stderr
    assert run_app(out) == "3\n"


def test_a_wheel_whose_record_does_not_match_is_refused(tmp_path: Path, built_python: Path) -> None:
    """Tampered at its source (the index or --find-links): installer's RECORD check refuses it."""
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(
        links, "rows", "1.0", {"rows/__init__.py": b"COUNT = 3\n"}, tamper="rows/__init__.py"
    )
    project = tmp_path / "proj"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        "[project]\nname = 'demo'\nversion = '1'\ndependencies = ['rows']\n"
        "[project.scripts]\ndemo = 'demo_app:main'\n"
    )
    (project / "demo_app.py").write_text("import rows\ndef main():\n    print(rows.COUNT)\n")
    out = tmp_path / "out"
    result = bundle(project, links, out, built_python, tmp_path / "cache")
    assert result.returncode == 1, result.stderr
    assert "rows-1.0-py3-none-any.whl fails its RECORD check" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
