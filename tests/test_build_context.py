"""How a build runs reaches every step: ``--offline`` and ``-j`` are one Context, passed
whole down to the re-link and the C libraries built for extensions (both were lost on
the way once: the re-link ran online, the libraries on every core)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import real_cache_root, run_apepy
from wheelmaker import make_sdist

from apepy import context, deps, sources, toolchains
from apepy.errors import ApepyError
from apepy.extensions import link


@dataclasses.dataclass
class Listener:
    url: str
    connections: int = 0


@pytest.fixture()
def listener() -> Iterator[Listener]:
    """A server that counts the connections made to it and answers none of them."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    # accept() wakes up now and then to see whether the test is over.
    server.settimeout(0.1)
    found = Listener(f"http://127.0.0.1:{server.getsockname()[1]}/")
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            found.connections += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield found
    done.set()
    thread.join(timeout=5)
    server.close()


def _lxml_module(tmp_path: Path) -> link.LinkedModule:
    # Debian ships no libxslt.a: the re-link builds lxml's libraries from source.
    return link.LinkedModule(
        "lxml.etree", tmp_path / "etree.o", "PyInit_x", ("xslt", "xml2", "z"), (), False
    )


def test_the_relink_of_an_offline_build_reaches_for_no_network(
    isolated_cache: Path,
    listener: Listener,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Every library's upstream is the listener, and no tarball is in the (empty) cache.
    for name, lib in deps.LIBRARIES.items():
        monkeypatch.setitem(
            deps.LIBRARIES, name, dataclasses.replace(lib, url=listener.url + lib.filename)
        )
    host = toolchains.get("host")
    modules = [_lxml_module(tmp_path)]
    offline = context.Context(jobs=1, offline=True, log=tmp_path / "log")
    with pytest.raises(ApepyError, match="not in the cache"):
        link.libraries_for(modules, host, offline)
    assert listener.connections == 0
    # The same call online does download: the listener is what the test watches.
    with pytest.raises(ApepyError, match="cannot be downloaded"):
        link.libraries_for(modules, host, dataclasses.replace(offline, offline=False))
    assert listener.connections > 0


@pytest.mark.build
def test_the_c_libraries_an_extension_needs_build_with_the_jobs_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty cache, so that the libraries are built here, with their tarballs.
    real = real_cache_root() / "sources" / "deps"
    isolated_cache = tmp_path / "cache"
    monkeypatch.setenv("APEPY_CACHE_DIR", str(isolated_cache))
    shelf = isolated_cache / "sources" / "deps"
    shelf.mkdir(parents=True)
    for name in ("zlib", "libxml2", "libxslt"):
        lib = deps.LIBRARIES[name]
        shutil.copyfile(real / lib.filename, shelf / lib.filename)
    ctx = context.Context(jobs=1, offline=True, log=tmp_path / "log")
    flags = link.libraries_for([_lxml_module(tmp_path)], toolchains.get("host"), ctx)
    assert any(f.endswith("/libxslt.a") for f in flags), flags
    # Each library's compile step runs `make -jN` (its install step, serial, has no -j).
    jobs = [
        word.rstrip(")")
        for log in sorted((isolated_cache / "logs").glob("deps-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if line.startswith("$ (cd ") and " make " in line
        for word in line.split()
        if word.startswith("-j")
    ]
    assert len(jobs) >= 3 and set(jobs) == {"-j1"}, jobs


PROBE_SETUP = """
import os
from setuptools import setup, Extension
# What the package's build sees of -j, kept in the package for the test to read.
with open("probe/jobs.py", "w") as out:
    out.write("MAKEFLAGS = %r\\nTOKEN = %r\\n" % (os.environ.get("MAKEFLAGS"), "{token}"))
setup(packages=["probe"], ext_modules=[Extension("probe._speedups", ["probe/_speedups.c"])])
"""

PROBE_C = """
#include <Python.h>
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "probe._speedups", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&def); }
"""


@pytest.mark.build
def test_an_offline_j1_build_with_an_extension_from_the_cache(
    tmp_path: Path, release: sources.Release, listener: Listener
) -> None:
    """`apepy build -j1 --with PKG`, then the same `--offline` against a closed index
    with everything cached: only the re-link and the packing run again, and succeed."""
    token = f"probe-{time.time_ns()}"
    sdist = make_sdist(
        tmp_path,
        "apepy_ctxprobe-1.0",
        {
            "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n'
            '[project]\nname = "apepy-ctxprobe"\nversion = "1.0"\n',
            "setup.py": PROBE_SETUP.replace("{token}", token),
            "probe/__init__.py": "",
            "probe/_speedups.c": PROBE_C,
            "PKG-INFO": "Metadata-Version: 2.1\nName: apepy-ctxprobe\nVersion: 1.0\n",
        },
    )
    args = ("build", "--python", release.version, "-j1", "--with", sdist)
    first = run_apepy(*args, "-o", tmp_path / "online")
    assert first.returncode == 0, first.stderr
    read = "import json, probe.jobs as j; print(json.dumps([j.MAKEFLAGS, j.TOKEN]))"
    seen = subprocess.run(
        [str(tmp_path / "online"), "-c", read], capture_output=True, text=True, env={}
    )
    assert json.loads(seen.stdout) == ["-j1", token], seen.stderr

    # The interpreter's own entry goes: the next build re-links from the cached tree
    # and the cached package build.
    info = run_apepy("info", "--json", tmp_path / "online")
    key = json.loads(info.stdout)["build_key"]
    shutil.rmtree(real_cache_root() / "interpreters" / key)
    closed = {
        "PIP_INDEX_URL": listener.url + "simple/",
        "http_proxy": listener.url,
        "https_proxy": listener.url,
        "APEPY_PYTHON_MIRROR": listener.url,
    }
    second = run_apepy(*args, "--offline", "-o", tmp_path / "offline", env=closed)
    assert second.returncode == 0, second.stderr
    assert "1 extension modules" in second.stderr, second.stderr
    assert listener.connections == 0
    again = subprocess.run(
        [str(tmp_path / "offline"), "-c", read], capture_output=True, text=True, env={}
    )
    assert json.loads(again.stdout) == ["-j1", token], again.stderr
