"""Shared fixtures: the real CPython source in apepy's cache, and one real interpreter build.

Tests come in two tiers. `pytest -m "not build"` is the fast loop: it builds nothing.
A test is in the `build` tier when it uses a fixture whose set-up builds (registered
with `builds`, reached directly or through other fixtures), or when its own body
builds (marked `@pytest.mark.build` where it does so).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import sysconfig
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from apepy import sources
from apepy.cache import cache_root

REPO = Path(__file__).resolve().parent.parent

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
    result = run_apepy("build", "--python", release.version, "-o", out, "--offline")
    if result.returncode != 0:
        pytest.fail(f"apepy build failed:\n{result.stderr}")
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
