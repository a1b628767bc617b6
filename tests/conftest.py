"""Shared fixtures: the real CPython source in apepy's cache, and one real interpreter build.

Tests come in two tiers. `pytest -m "not build"` is the fast loop: it builds nothing.
A test is in the `build` tier when it uses a fixture whose set-up builds (registered
with `builds`, reached directly or through other fixtures), or when its own body
builds (marked `@pytest.mark.build` where it does so).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import platform
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from apepy import sources
from apepy.cache import cache_root

REPO = Path(__file__).resolve().parent.parent
FLASK_HELLO = REPO / "examples" / "flask-hello"

# Pinned like a user's lock file: a changed sdist on the index fails the test.
EXTENSION_PINS = {
    "markupsafe": "markupsafe==3.0.4 --hash=sha256:2e9ad7dd851bf45fab9f75cbff4cb493fee9979e8d8c7c9c3ee119022518edd6",
    "simplejson": "simplejson==4.3.0 --hash=sha256:ffe34ab51a0d37e6d1c661a5672df00d2d5e18804e38eac07abffb83fa5ec3d7",
    "greenlet": "greenlet==3.5.6 --hash=sha256:8e67c43bdfc88d5fee6db0d3e40175b362fc95fb85f0412d233b9b203c53a575",
    "pyyaml": "pyyaml==6.0.4 --hash=sha256:e24bf71af8a432d7808fabff134d38dfe16d3cbb41f2873bb4b1e42422de0a1a",
    # Carries its own copy of libyaml, while PyYAML links the system's: both must link.
    "ruamel-yaml-clib": "ruamel.yaml.clib==0.2.15 --hash=sha256:46e4cc8c43ef6a94885f72512094e482114a8a706d3c555a34ed4b0d20200600",
}

F = TypeVar("F", bound=Callable[..., object])

# The names of the fixtures whose set-up builds an interpreter or an extension.
BUILDING_FIXTURES: set[str] = set()


def builds(fixture: F) -> F:
    """Register a fixture function (put it under `@pytest.fixture`) as one that builds:
    every test that uses it, however indirectly, gets the `build` marker."""
    BUILDING_FIXTURES.add(fixture.__name__)
    return fixture


# tryfirst: the marker has to be there before `-m` deselects by it.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # fixturenames is the closure: fixtures used through other fixtures count too.
        if BUILDING_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.build)


def apepy_cmd(*args: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "apepy", *map(str, args)]


def run_apepy(
    *args: str | os.PathLike[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env["COLUMNS"] = "200"
    if env:
        full_env.update(env)
    return subprocess.run(apepy_cmd(*args), capture_output=True, text=True, env=full_env, cwd=cwd)


def apepy_ok(
    *args: str | os.PathLike[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``run_apepy`` for a fixture's set-up: a failure fails the test with apepy's stderr."""
    result = run_apepy(*args, env=env)
    if result.returncode != 0:
        pytest.fail(f"apepy {' '.join(map(str, args))} failed:\n{result.stderr}")
    return result


def run_clean(
    exe: Path | str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run with an empty environment (like `env -i`) from ``cwd``."""
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, cwd=cwd, env=env or {}, timeout=120
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serving(
    cmd: list[str], cwd: Path, env: dict[str, str], probe: str = "/health", wait: float = 30
) -> Iterator[str]:
    """Run a server app (``cmd`` gets --port), yield its URL once ``probe`` answers; stop it."""
    port = free_port()
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A runner started in the background may ignore SIGINT; the app must not inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        # Its own process group, stopped as one below: a runner (Wine, qemu) may leave
        # the app's own process behind when the runner itself exits.
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                with urllib.request.urlopen(url + probe, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read() if proc.stdout else ""
                    pytest.fail(f"{cmd[0]} did not start serving:\n{output}")
                time.sleep(0.2)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{cmd[0]} did not stop on SIGINT")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)


def make_project(
    root: Path, deps: list[str], code: str = "def main():\n    print('hi')\n", extra: str = ""
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f"[project]\nname = 'demo'\nversion = '1'\ndependencies = {deps!r}\n"
        f"[project.scripts]\ndemo = 'demo_app:main'\n{extra}"
    )
    (root / "demo_app.py").write_text(code)
    return root


@contextlib.contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fake_layout(root: Path, version: str = "4.0.2") -> Path:
    """A directory laid out like an unpacked cosmocc release (its programs are stubs)."""
    major, minor, patch = version.split(".")
    header = root / "include" / "libc" / "integral" / "normalize.inc"
    header.parent.mkdir(parents=True)
    header.write_text(
        f"#define __COSMOPOLITAN_MAJOR__ {major}\n#define __COSMOPOLITAN_MINOR__ {minor}\n"
        f"#define __COSMOPOLITAN_PATCH__ {patch}\n"
    )
    (root / "bin").mkdir()
    for name in (
        "cosmocc",
        "cosmoc++",
        "cosmoar",
        "cosmoranlib",
        "x86_64-unknown-cosmo-cc",
        "x86_64-unknown-cosmo-c++",
        *(f"x86_64-linux-cosmo-{n}" for n in ("ar", "ranlib", "objcopy", "nm", "gcc")),
    ):
        (root / "bin" / name).write_text("#!/bin/sh\nexit 0\n")
        (root / "bin" / name).chmod(0o755)
    return root


def real_cache_root() -> Path:
    """The developer's (or CI's) apepy cache, where scripts/setup put the CPython tarballs."""
    return cache_root()


def local_release(series: str) -> sources.Release | None:
    """The newest pinned release of ``series`` whose tarball is in the source cache."""
    found = [
        r
        for r in sources.RELEASES
        if r.series == series and (real_cache_root() / "sources" / r.filename).is_file()
    ]
    return max(found, key=lambda r: tuple(map(int, r.version.split(".")))) if found else None


def platform_wheel(release: sources.Release) -> tuple[str, str]:
    """A platform wheel's tag for ``release`` on this machine, and the file name suffix
    of its extension modules (``.cpython-313-x86_64-linux-gnu.so``)."""
    nodot = release.series.replace(".", "")
    machine = platform.machine()
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{machine}-linux-gnu"
    return f"cp{nodot}-cp{nodot}-manylinux_2_17_{machine}", f".cpython-{nodot}-{multiarch}.so"


@pytest.fixture(scope="session")
def release() -> sources.Release:
    found = local_release(sources.DEFAULT_SERIES)
    if found is None:
        pytest.fail(
            f"no CPython {sources.DEFAULT_SERIES} tarball in {real_cache_root() / 'sources'}: "
            "run scripts/setup first"
        )
    return found


@pytest.fixture(scope="session")
def source_tarball(release: sources.Release) -> Path:
    return real_cache_root() / "sources" / release.filename


@pytest.fixture(scope="session")
@builds
def built_python(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    """One real build through the CLI, shared by the tests; cached across runs by its inputs."""
    out = tmp_path_factory.mktemp("build") / "python"
    apepy_ok("build", "--python", release.version, "-o", out, "--offline")
    return out


@pytest.fixture()
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty apepy cache for tests that must not see the real one."""
    root = tmp_path / "cache"
    monkeypatch.setenv("APEPY_CACHE_DIR", str(root))
    monkeypatch.delenv("APEPY_SOURCE_DIR", raising=False)
    yield root


@pytest.fixture()
def pledge(tmp_path: Path) -> Path:
    """A real APE: Cosmopolitan's pledge, from the PyPI wheel cosmo-file (fetched by scripts/setup)."""
    import zipfile

    wheels = sorted((real_cache_root() / "fixtures").glob("cosmo_file-*.whl"))
    if not wheels:
        pytest.fail(f"no cosmo_file wheel in {real_cache_root() / 'fixtures'}: run scripts/setup")
    target = tmp_path / "pledge"
    with zipfile.ZipFile(wheels[-1]) as wheel:
        target.write_bytes(wheel.read("cosmo_file/data/pledge"))
    target.chmod(0o755)
    return target
