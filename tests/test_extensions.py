"""Third-party C extensions compiled into the interpreter from their sdists, for real.

One interpreter gets markupsafe and simplejson (both define PyInit__speedups),
greenlet (C++) and PyYAML (Cython, linked against the system's libyaml); each is
imported as a built-in and exercised. Then one more package (a small local sdist,
unique per run) is added and only that package is built. CPython 3.11.2 gets
markupsafe too: its importer needs apepy's backport to find built-in submodules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import (
    EXTENSION_PINS,
    apepy_ok,
    builds,
    local_release,
    make_project,
    run_apepy,
    run_clean,
)
from wheelmaker import make_sdist, make_wheel

from apepy import manifest, sources

PINS = EXTENSION_PINS

SMOKE = """
import sys, json
import markupsafe, markupsafe._speedups
import simplejson, simplejson._speedups, simplejson.encoder
import greenlet, greenlet._greenlet
import yaml
out = {}
out['builtins'] = sorted(m for m in sys.builtin_module_names if '.' in m)
out['ruamel'] = '_ruamel_yaml' in sys.builtin_module_names
out['escape'] = str(markupsafe.escape('<b>&</b>'))
out['markupsafe_native'] = markupsafe._escape_inner.__module__
out['simplejson_c'] = simplejson.encoder.c_make_encoder is not None
out['simplejson'] = simplejson.dumps({'a': [1, 2.5, None]}, sort_keys=True)
def child(x):
    y = main.switch(x * 2)
    return y + 1
main = greenlet.getcurrent()
g = greenlet.greenlet(child)
first = g.switch(20)
out['greenlet'] = [first, g.switch(41)]
out['yaml'] = yaml.load('a: [1, 2]\\nb: {c: d}\\n', Loader=yaml.CSafeLoader)
out['yaml_c'] = yaml.__with_libyaml__
print(json.dumps(out, sort_keys=True))
"""


def _with(*names: str) -> list[str]:
    return [arg for name in names for arg in ("--with", PINS[name])]


@pytest.fixture(scope="session")
@builds
def ext_python(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("ext") / "python"
    version = release.version
    apepy_ok(
        "build",
        "--python",
        version,
        *_with("markupsafe", "simplejson", "greenlet", "pyyaml", "ruamel-yaml-clib"),
        "-o",
        out,
    )
    return out


def test_extensions_are_built_in_and_work(ext_python: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ext_python), "-c", SMOKE], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    # greenlet's test-suite extensions are not linked in.
    assert got["builtins"] == [
        "greenlet._greenlet",
        "markupsafe._speedups",
        "simplejson._speedups",
        "yaml._yaml",
    ]
    assert got["escape"] == "&lt;b&gt;&amp;&lt;/b&gt;"
    # markupsafe picked its C escape (from the built-in), not the pure fallback.
    assert got["markupsafe_native"] == "markupsafe._speedups"
    assert got["simplejson_c"] is True
    assert got["simplejson"] == '{"a": [1, 2.5, null]}'
    assert got["greenlet"] == [40, 42]
    assert got["yaml"] == {"a": [1, 2], "b": {"c": "d"}}
    assert got["yaml_c"] is True
    # ruamel.yaml.clib's private libyaml linked beside the system's one PyYAML uses.
    assert got["ruamel"] is True
    ldd = subprocess.run(["ldd", str(ext_python)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


def test_manifest_and_info_list_what_is_compiled_in(ext_python: Path) -> None:
    found = manifest.read(ext_python)
    assert found is not None
    dists = {d.name: d for d in found.distributions}
    assert sorted(dists) == ["greenlet", "markupsafe", "pyyaml", "ruamel-yaml-clib", "simplejson"]
    for name, dist in dists.items():
        version, sha = re.fullmatch(r"\S+==(\S+) --hash=sha256:(\w+)", PINS[name]).groups()  # type: ignore[union-attr]
        assert (dist.version, dist.sdist_sha256) == (version, sha)
    assert dists["pyyaml"].modules == ("yaml._yaml",)
    assert "markupsafe._speedups" in found.builtin_modules
    shown = run_apepy("info", ext_python)
    assert shown.returncode == 0
    assert "markupsafe 3.0.4" in shown.stdout and "yaml._yaml" in shown.stdout
    # Package metadata of the compiled-in distributions is there for importlib.metadata.
    meta = subprocess.run(
        [str(ext_python), "-c", "import importlib.metadata as m; print(m.version('PyYAML'))"],
        capture_output=True,
        text=True,
        env={},
    )
    assert meta.stdout.strip() == "6.0.4", meta.stderr


PROBE_C = """
#include <Python.h>
/* A generic global name, as many packages have; it must stay private. */
const char *version_string = "%(token)s";
static PyObject *token(PyObject *self, PyObject *args) { return PyUnicode_FromString(version_string); }
static PyMethodDef methods[] = {{"token", token, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "probe._speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&def); }
"""


def make_probe_sdist(folder: Path, token: str) -> Path:
    """A small setuptools package with a third `_speedups`, unique per run (never cached)."""
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "apepy-probe"\nversion = "1.0"\n',
        "setup.py": "from setuptools import setup, Extension\n"
        "setup(packages=['probe'], ext_modules=[Extension('probe._speedups', ['probe/_speedups.c'])])\n",
        "probe/__init__.py": "from probe._speedups import token\n",
        "probe/_speedups.c": PROBE_C % {"token": token},
        "PKG-INFO": "Metadata-Version: 2.1\nName: apepy-probe\nVersion: 1.0\n",
    }
    return make_sdist(folder, "apepy_probe-1.0", files)


def test_adding_one_extension_builds_only_that_one(
    ext_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    token = f"probe-{time.time_ns()}"
    probe = make_probe_sdist(tmp_path, token)
    out = tmp_path / "python"
    started = time.monotonic()
    result = run_apepy(
        "build",
        "--python",
        release.version,
        *_with("markupsafe", "simplejson", "greenlet", "pyyaml", "ruamel-yaml-clib"),
        "--with",
        probe,
        "-o",
        out,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    log = result.stderr
    for name in ("markupsafe", "simplejson", "greenlet", "pyyaml", "ruamel-yaml-clib"):
        assert re.search(rf"{name} \S+: built in before, from the cache", log), log
    assert re.search(r"extension apepy-probe 1\.0: probe\._speedups", log), log
    assert "compile CPython" not in log, "CPython was recompiled"
    assert "build-python" not in log, "the build Python was rebuilt"
    run = subprocess.run(
        [
            str(out),
            "-c",
            "import probe, markupsafe._speedups as m, simplejson._speedups as s; "
            "print(probe.token(), probe._speedups.__spec__.origin, m.__name__, s.__name__)",
        ],
        capture_output=True,
        text=True,
        env={},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [
        token,
        "built-in",
        "markupsafe._speedups",
        "simplejson._speedups",
    ]
    # The generic global stayed private to its module.
    nm = subprocess.run(["nm", str(out)], capture_output=True, text=True).stdout
    assert not any(line.split()[-2:] == ["D", "version_string"] for line in nm.splitlines())
    print(f"adding one extension to a cached interpreter: {elapsed:.1f} s")


def test_bundle_counts_compiled_in_packages_as_installed(ext_python: Path, tmp_path: Path) -> None:
    script = tmp_path / "page.py"
    script.write_text(
        "# /// script\n# dependencies = ['markupsafe']\n# ///\n"
        "import markupsafe, markupsafe._speedups, sys\n"
        "print(markupsafe.escape('<x>'), markupsafe._speedups.__spec__.origin)\n"
    )
    out = tmp_path / "page"
    result = run_apepy("bundle", script, "--base", ext_python, "-o", out)
    assert result.returncode == 0, result.stderr
    assert "provided by the base interpreter" in result.stderr
    # The base's copy is the only one: the bundle adds no second markupsafe.
    listing = run_apepy("ls", out).stdout
    assert "Lib/site-packages/markupsafe/__init__.pyc" in listing
    assert "markupsafe" not in "".join(
        line for line in listing.splitlines() if not line.startswith("Lib/site-packages/markupsafe")
    )
    run = subprocess.run([str(out)], capture_output=True, text=True, env={}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["&lt;x&gt;", "built-in"]


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        ("six==1.17.0", "pure Python, so it needs no --with"),
    ],
)
def test_refusals_come_before_any_long_work(
    package: str, expected: str, tmp_path: Path, release: sources.Release
) -> None:
    out = tmp_path / "python"
    started = time.monotonic()
    result = run_apepy("build", "--python", release.version, "--with", package, "-o", out)
    assert result.returncode == 1
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "configure" not in result.stderr and "build-python" not in result.stderr
    assert not out.exists()
    assert time.monotonic() - started < 120


def test_tampered_pin_is_refused(tmp_path: Path, release: sources.Release) -> None:
    pin = PINS["markupsafe"][:-4] + "0000"
    out = tmp_path / "python"
    result = run_apepy("build", "--python", release.version, "--with", pin, "-o", out)
    assert result.returncode == 1
    assert "does not match its pinned hash" in result.stderr
    assert not out.exists()


@pytest.mark.build
def test_311_finds_built_in_submodules(tmp_path: Path) -> None:
    release = local_release("3.11")
    if release is None:
        pytest.fail("no CPython 3.11 tarball in the source cache: run scripts/setup")
    out = tmp_path / "python311"
    result = run_apepy("build", "--python", release.version, *_with("markupsafe"), "-o", out)
    assert result.returncode == 0, result.stderr
    run = subprocess.run(
        [
            str(out),
            "-c",
            "import markupsafe, markupsafe._speedups as s; print(s, markupsafe.escape('<'))",
        ],
        capture_output=True,
        text=True,
        env={},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["<module", "'markupsafe._speedups'", "(built-in)>", "&lt;"]


def test_tool_apepy_extensions_build_the_base(ext_python: Path, tmp_path: Path) -> None:
    """[tool.apepy] extensions: the bundle's own base gets them compiled in (no --base)."""
    app = tmp_path / "app"
    (app / "pageapp").mkdir(parents=True)
    (app / "pageapp" / "__init__.py").write_text(
        "import markupsafe._speedups as s\n"
        "def main():\n    print(s.__spec__.origin, s._escape_inner('<'))\n"
    )
    (app / "pyproject.toml").write_text(
        "[project]\nname = 'pageapp'\nversion = '1'\ndependencies = ['markupsafe']\n"
        "[project.scripts]\npageapp = 'pageapp:main'\n"
        f"[tool.apepy]\nextensions = [{PINS['markupsafe']!r}]\n"
    )
    out = tmp_path / "pageapp-bin"
    result = run_apepy("bundle", app, "-o", out)
    assert result.returncode == 0, result.stderr
    run = subprocess.run([str(out)], capture_output=True, text=True, env={}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["built-in", "&lt;"]


def _builddep_sdist(folder: Path, version: str, requires: list[str]) -> Path:
    """apepy-bdprobe VERSION, a C package whose build needs ``requires``."""
    files = {
        "pyproject.toml": f"[build-system]\nrequires = {requires!r}\n"
        'build-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "apepy-bdprobe"\nversion = "{version}"\n',
        "setup.py": "from setuptools import setup, Extension\n"
        "setup(packages=['probe'], ext_modules=[Extension('probe._speedups', ['probe/_speedups.c'])])\n",
        "probe/__init__.py": "",
        "probe/_speedups.c": PROBE_C % {"token": version},
        "PKG-INFO": f"Metadata-Version: 2.1\nName: apepy-bdprobe\nVersion: {version}\n",
    }
    return make_sdist(folder, f"apepy_bdprobe-{version}", files)


UNSERVED = "apepy-no-such-builddep>=9"


def _builddep_index(folder: Path) -> Path:
    folder.mkdir()
    _builddep_sdist(folder, "1.0", ["setuptools>=61"])
    _builddep_sdist(folder, "1.5", ["setuptools>=61", UNSERVED])
    _builddep_sdist(folder, "2.0", ["setuptools>=61", UNSERVED])
    return folder


def test_the_newest_release_whose_build_requirements_resolve(tmp_path: Path) -> None:
    links = _builddep_index(tmp_path / "links")
    make_wheel(links, "setuptools", "70.0", {"setuptools/__init__.py": b""})
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(links)}
    found = subprocess.run(
        [sys.executable, "-m", "apepy.extensions.buildreqs", "apepy-bdprobe", "2.0"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == {"version": "1.0"}


@pytest.mark.build
def test_an_unserved_build_requirement_is_named_with_a_release_that_builds(
    tmp_path: Path, release: sources.Release
) -> None:
    links = _builddep_index(tmp_path / "links")
    find_links = " ".join(filter(None, [str(links), os.environ.get("PIP_FIND_LINKS")]))
    result = run_apepy(
        "build", "--python", release.version, "--with", "apepy-bdprobe==2.0",
        "-o", tmp_path / "python", env={"PIP_FIND_LINKS": find_links},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert (
        f"error: apepy-bdprobe 2.0 needs {UNSERVED} to build, and the package index has no "
        "version of it that fits"
    ) in result.stderr
    assert "--with apepy-bdprobe==1.0" in result.stderr
    assert "first compiler error" not in result.stderr


SETPROCTITLE = "setproctitle==1.3.8 --hash=sha256:cafe209d064a6efb88cb45a03e97981ff8832802b2b5d009dde0197a3b7b41c8"
TITLE = """
import json, setproctitle, sys
setproctitle.setproctitle("apepy-title")
with open("/proc/self/cmdline", "rb") as f:
    shown = f.read().split(b"\\0")[0].decode()
print(json.dumps([setproctitle.getproctitle(), shown, sys.orig_argv]))
"""


@pytest.fixture(scope="module")
@builds
def title_python(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("title") / "python"
    apepy_ok("build", "--python", release.version, "--with", SETPROCTITLE, "-o", out)
    return out


def test_setproctitle_sets_the_title_ps_shows(title_python: Path, tmp_path: Path) -> None:
    """setproctitle rewrites the argument area the kernel shows as the process's command
    line, which it finds by walking back from the first environment string: it needs one
    variable (with none it gives up, as on any CPython), and `.args` must not hide the
    real argv from it (a bundle's app got '' back)."""
    env = {"HOME": "/"}
    plain = run_clean(title_python, "-c", TITLE, cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)[:2] == ["apepy-title", "apepy-title"]
    project = make_project(
        tmp_path / "app", [], code="def main():\n    exec(" + repr(TITLE) + ")\n"
    )
    bundled = run_apepy("bundle", project, "--base", title_python, "-o", tmp_path / "demo")
    assert bundled.returncode == 0, bundled.stderr
    run = run_clean(tmp_path / "demo", "one", "two", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    title, shown, orig_argv = json.loads(run.stdout)
    assert (title, shown) == ("apepy-title", "apepy-title")
    # The command line as given, without the arguments .args put before the user's.
    assert orig_argv == [str(tmp_path / "demo"), "one", "two"]
