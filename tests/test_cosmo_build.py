"""`apepy build --toolchain cosmo` for real: an Actually Portable Executable, run.

cosmocc cannot be downloaded on apepy's CI machines, so these tests run only when
``APEPY_TEST_COSMOCC`` names an unpacked cosmocc directory (the release zip, or a
toolchain laid out like it); otherwise they are reported as skipped with that
reason. They build the half for this host's architecture (``--arch`` as
``platform.machine()`` names it) and run it here.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import builds, run_apepy
from test_bundle import FLASK_HELLO, serving
from test_extensions import PINS

from apepy import ape

COSMOCC = os.environ.get("APEPY_TEST_COSMOCC")
ARCH = platform.machine()

pytestmark = pytest.mark.skipif(
    not COSMOCC, reason="APEPY_TEST_COSMOCC does not name a cosmocc directory"
)

# Extensions built in under cosmo: the host extension tests' pins.
EXTENSIONS = (PINS["markupsafe"], PINS["pyyaml"])


def cosmo_build(out: Path, *extra: str) -> None:
    result = run_apepy(
        "build",
        "--toolchain",
        "cosmo",
        "--arch",
        ARCH,
        "--cosmocc",
        str(COSMOCC),
        "--offline",
        *extra,
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr[-6000:]


@pytest.fixture(scope="session")
@builds
def python_com(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cosmo") / "python.com"
    cosmo_build(out)
    return out


def run_clean(
    exe: Path, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Start the APE as a shell would (Linux execve refuses it without binfmt_misc)."""
    return subprocess.run(
        [*ape.command(exe), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env or {},
        timeout=300,
    )


def copied_alone(exe: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The file copied into an empty directory, and that directory to run it from."""
    alone = tmp_path / "alone"
    alone.mkdir()
    target = alone / exe.name
    shutil.copy2(exe, target)
    return target, alone


def test_the_output_is_an_ape_and_info_lists_its_loaders(python_com: Path) -> None:
    assert python_com.read_bytes()[:6] == b"MZqFpD"
    info = run_apepy("info", python_com, "--json")
    assert info.returncode == 0, info.stderr
    manifest = json.loads(info.stdout)
    assert manifest["toolchain"] == "cosmo" and manifest["output_kind"] == "ape"
    text = run_apepy("info", python_com)
    assert f"ELF {ARCH}" in text.stdout and "shell" in text.stdout.lower()


def test_runs_alone_from_an_empty_environment(python_com: Path, tmp_path: Path) -> None:
    exe, alone = copied_alone(python_com, tmp_path)
    code = (
        "import sys, json, sqlite3, ssl, zlib, bz2, lzma, hashlib, decimal, ctypes, asyncio,"
        " email, http.server\n"
        "ctx = ssl.create_default_context()\n"
        "print(json.dumps({'version': sys.version, 'platform': sys.platform,"
        " 'executable': sys.executable, 'path': sys.path,"
        " 'cas': ctx.cert_store_stats()['x509_ca'], 'sqlite': sqlite3.sqlite_version,"
        " 'sha': hashlib.sha256(b'x').hexdigest()[:8], 'z': zlib.decompress(zlib.compress(b'ab')).decode()}))\n"
    )
    result = run_clean(exe, "-c", code, cwd=alone)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["version"].startswith("3.13.")
    assert got["platform"] in ("linux", "cosmo")
    assert got["executable"] == str(exe)
    # '' is the current directory that -c puts first, as in any Python.
    inside = [p for p in got["path"] if p]
    assert inside and all(p.startswith(f"{exe}/") for p in inside), got["path"]
    assert got["cas"] > 10
    assert got["sha"] == "2d711642" and got["z"] == "ab"


def test_threads_subprocess_fork_and_multiprocessing(python_com: Path, tmp_path: Path) -> None:
    exe, alone = copied_alone(python_com, tmp_path)
    script = alone / "work.py"
    script.write_text(
        "import os, subprocess, sys, threading, multiprocessing\n"
        "def square(x):\n    return x * x\n"
        "if __name__ == '__main__':\n"
        "    out = []\n"
        "    t = threading.Thread(target=lambda: out.append('thread')); t.start(); t.join()\n"
        "    child = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True)\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n        os._exit(7)\n"
        "    _, status = os.waitpid(pid, 0)\n"
        "    with multiprocessing.Pool(2) as pool:\n"
        "        squares = pool.map(square, range(5))\n"
        "    print(out[0], child.stdout.strip(), os.waitstatus_to_exitcode(status), squares)\n"
    )
    result = run_clean(exe, str(script), cwd=alone)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "thread 42 7 [0, 1, 4, 9, 16]"


def test_flask_bundle_on_the_ape_serves_from_an_empty_environment(
    python_com: Path, tmp_path: Path
) -> None:
    out = tmp_path / "hello.com"
    result = run_apepy("bundle", FLASK_HELLO, "--base", python_com, "-o", out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:6] == b"MZqFpD"
    assert ".args" in zipfile.ZipFile(out).namelist()
    exe, alone = copied_alone(out, tmp_path)
    home = alone / "home"
    home.mkdir()
    with serving([*ape.command(exe), "--host", "127.0.0.1"], alone, {"HOME": str(home)}) as url:
        page = urllib.request.urlopen(url + "/", timeout=10)
        assert page.status == 200 and b"Hello" in page.read()
    plain = run_clean(
        exe,
        "-c",
        "import flask, sys; print(flask.__name__, sys.argv[1:])",
        cwd=alone,
        env={"APEPY_PLAIN": "1"},
    )
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split()[0] == "flask"


@pytest.mark.build
def test_c_extensions_are_built_in_under_cosmo(tmp_path: Path) -> None:
    out = tmp_path / "ext.com"
    cosmo_build(out, *(f"--with={spec}" for spec in EXTENSIONS))
    exe, alone = copied_alone(out, tmp_path)
    code = (
        "import sys, markupsafe, yaml\n"
        "print('markupsafe._speedups' in sys.builtin_module_names,"
        " 'yaml._yaml' in sys.builtin_module_names, yaml.__with_libyaml__,"
        " markupsafe.escape('<a>'), yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader))\n"
    )
    result = run_clean(exe, "-c", code, cwd=alone)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True True &lt;a&gt; {'a': [1, 2]}"
