"""Several apepy processes on one cache, and processes killed mid-way."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, apepy_cmd, real_cache_root

from apepy import sources


def fresh_cache(tmp_path: Path) -> Path:
    """A new cache that shares only the compiled CPython trees and the source tarballs."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for shared in ("cpython", "sources"):
        (cache / shared).symlink_to(real_cache_root() / shared)
    return cache


def start(args: list[str | os.PathLike[str]], cache: Path, cwd: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, APEPY_CACHE_DIR=str(cache), COLUMNS="200")
    return subprocess.Popen(
        apepy_cmd(*args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_four_bundles_and_two_builds_at_once(
    tmp_path: Path, built_python: Path, release: sources.Release
) -> None:
    cache = fresh_cache(tmp_path)
    script = tmp_path / "tool.py"
    script.write_text(
        "# /// script\n# dependencies = []\n# ///\nimport sys\nprint('tool', *sys.argv[1:])\n"
    )
    jobs = {
        "build-a": ["build", "--python", release.version, "--offline", "-o", tmp_path / "py-a"],
        "build-b": ["build", "--python", release.version, "--offline", "-o", tmp_path / "py-b"],
        "bundle-1": [
            "bundle",
            REPO / "examples" / "cli-tool",
            "--base",
            built_python,
            "-o",
            tmp_path / "g1",
        ],
        "bundle-2": [
            "bundle",
            REPO / "examples" / "cli-tool",
            "--base",
            built_python,
            "-o",
            tmp_path / "g2",
        ],
        "bundle-3": ["bundle", script, "--base", built_python, "-o", tmp_path / "t3"],
        "bundle-4": ["bundle", script, "--base", built_python, "-o", tmp_path / "t4"],
    }
    procs = {name: start(args, cache, tmp_path) for name, args in jobs.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"{name}: {err}"
    assert (tmp_path / "py-a").read_bytes() == (tmp_path / "py-b").read_bytes()
    for exe in ("py-a", "py-b"):
        run = subprocess.run(
            [str(tmp_path / exe), "-c", "import ssl, sqlite3; print('ok')"],
            capture_output=True,
            text=True,
            env={},
        )
        assert run.stdout == "ok\n", run.stderr
    for exe in ("g1", "g2"):
        run = subprocess.run(
            [str(tmp_path / exe), "greet", "x"], capture_output=True, text=True, env={}
        )
        assert run.stdout == "Hello, x!\n", run.stderr
    for exe in ("t3", "t4"):
        run = subprocess.run([str(tmp_path / exe), "a"], capture_output=True, text=True, env={})
        assert run.stdout == "tool a\n", run.stderr
    # One interpreter entry, complete, and no temporary directories left behind.
    entries = [p for p in (cache / "interpreters").iterdir() if not p.name.endswith(".lock")]
    assert (
        len(entries) == 1
        and (entries[0] / "python").is_file()
        and (entries[0] / "manifest.json").is_file()
    )


@pytest.mark.build
@pytest.mark.parametrize("delay", [0.5, 1.5, 2.5, 4.0])
def test_killed_build_leaves_no_output_and_the_next_run_succeeds(
    tmp_path: Path, release: sources.Release, delay: float
) -> None:
    """kill -9 at several points of a packing build: no file at the target, the next run works."""
    cache = fresh_cache(tmp_path)
    out = tmp_path / "python"
    proc = start(["build", "--python", release.version, "--offline", "-o", out], cache, tmp_path)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # Either nothing is at the target, or the complete file (the build had finished).
    left = out.read_bytes() if out.exists() else None
    again = start(["build", "--python", release.version, "--offline", "-o", out], cache, tmp_path)
    _, err = again.communicate(timeout=900)
    assert again.returncode == 0, err
    run = subprocess.run([str(out), "-c", "print(6 * 7)"], capture_output=True, text=True, env={})
    assert run.stdout == "42\n"
    assert left is None or left == out.read_bytes()


FLASK_HELLO = REPO / "examples" / "flask-hello"
# Where `apepy bundle` is killed: a delay after a phase has reported itself done, or
# after the start. Observed: "resolve" lands before the resolution is renamed into
# the cache, "install" in the .pyc compile, "compile" before the output's temporary
# file exists, "compile"+0.1 s while it is being written, 0.5 s while pip runs.
BUNDLE_KILL_POINTS: list[tuple[str | None, float]] = [
    ("✓ resolve", 0.0),
    ("✓ install", 0.0),
    ("✓ compile", 0.0),
    ("✓ compile", 0.1),
    (None, 0.5),
]


def _wait_for_group(pgid: int, timeout: float) -> None:
    """Let the children of a killed run (pip) finish on their own, as they would."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("after", "delay"),
    BUNDLE_KILL_POINTS,
    ids=[f"{(a or 'start').replace('✓ ', '')}+{d}s" for a, d in BUNDLE_KILL_POINTS],
)
def test_killed_bundle_leaves_no_output_and_the_next_run_succeeds(
    tmp_path: Path, built_python: Path, after: str | None, delay: float
) -> None:
    """kill -9 at several points of `apepy bundle` (resolution not cached): nothing at the
    target, and the next run succeeds and removes what the killed one left behind."""
    cache = fresh_cache(tmp_path)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "hello"
    args: list[str | os.PathLike[str]] = ["bundle", FLASK_HELLO, "--base", built_python, "-o", out]
    env = dict(os.environ, APEPY_CACHE_DIR=str(cache), COLUMNS="200", TMPDIR=str(scratch))
    proc = subprocess.Popen(
        apepy_cmd(*args),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    if after is not None:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(after):
                break
        else:
            pytest.fail(f"the bundle never printed {after!r}:\n{''.join(seen)}")
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    left = out.read_bytes() if out.exists() else None
    _wait_for_group(proc.pid, timeout=120)

    again = subprocess.run(apepy_cmd(*args), cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    # Never a half-written file: nothing, or (had it finished) the whole of it.
    if after is not None:
        assert left is None, "killed before packing could finish, yet the output exists"
    assert left is None or left == out.read_bytes()
    run = subprocess.run(
        [str(out), "--help"], capture_output=True, text=True, env={"HOME": str(tmp_path)}
    )
    assert "Serve the flask-hello demo" in run.stdout, run.stderr
    # What the killed run left (its .part beside the output, its work directory, a
    # half-resolved cache entry) is gone after the next run.
    assert sorted(p.name for p in tmp_path.glob(".hello.*")) == []
    assert sorted(p.name for p in scratch.iterdir()) == []
    wheels = cache / "wheels"
    assert [p.name for p in wheels.iterdir() if ".tmp-" in p.name] == []
