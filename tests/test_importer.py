"""apepy's frozen importer and its index, and pruning, on real builds and bundles."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import builds, run_apepy
from test_bundle import make_project, run_clean
from wheelmaker import make_wheel

from apepy import sources, zipstore


def test_stdlib_is_served_by_the_index(built_python: Path, tmp_path: Path) -> None:
    code = (
        "import sys, json, email.mime.text, pkgutil, importlib.resources\n"
        "finders = {k: type(v).__name__ for k, v in sys.path_importer_cache.items()}\n"
        "print(json.dumps({'lib': finders[sys.prefix + '/Lib'], 'hook': sys.path_hooks[0].__module__,"
        " 'json_pkg': sorted(m.name for m in pkgutil.iter_modules(json.__path__)),"
        " 'file': email.mime.text.__file__}))\n"
    )
    result = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["lib"] == "Finder" and got["hook"] == "_apepy_importer"
    assert got["json_pkg"] == ["decoder", "encoder", "scanner", "tool"]
    assert got["file"] == f"{built_python}/Lib/email/mime/text.py"
    archive = zipstore.read_archive(built_python)
    assert archive.comment.startswith(zipstore.INDEX_MAGIC)
    assert archive.members[-1].name == zipstore.INDEX_ARCNAME


def test_an_index_that_no_longer_matches_falls_back_to_zipimport(
    built_python: Path, tmp_path: Path
) -> None:
    """Another tool appends to the zip (the central directory moves): zipimport takes over."""
    exe = tmp_path / "python"
    shutil.copy2(built_python, exe)
    with zipfile.ZipFile(exe, "a") as zf:
        zf.writestr("Lib/added_later.py", "VALUE = 42\n")
    code = "import sys, json, added_later; print(type(sys.path_importer_cache[sys.prefix + '/Lib']).__name__, added_later.VALUE)"
    result = run_clean(exe, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["zipimporter", "42"]
    checked = run_apepy("verify", exe)
    assert (
        "import index is out of date (the central directory moved)"
        in checked.stdout + checked.stderr
    )
    # apepy's own store tools rewrite the index: the fast path is back.
    assert run_apepy("rm", exe, "Lib/added_later.py").returncode == 0
    assert run_apepy("verify", exe).returncode == 0
    result = run_clean(
        exe,
        "-c",
        "import sys, json; print(type(sys.path_importer_cache[sys.prefix + '/Lib']).__name__)",
        cwd=tmp_path,
    )
    assert result.stdout.strip() == "Finder", result.stderr


def test_bundled_code_tracebacks_namespaces_and_data(built_python: Path, tmp_path: Path) -> None:
    links = tmp_path / "links"
    links.mkdir()
    make_wheel(
        links,
        "nsdemo",
        "1.0",
        {
            "nsdemo/parts/one.py": b"X = 'namespace portion'\n",
            "nsdemo/data.txt": b"data beside the module\n",
        },
    )
    code = (
        "import pkgutil, nsdemo.parts.one as one\n"
        "def fail():\n"
        "    raise ValueError('the line above this is shown')\n"
        "def main():\n"
        "    print(one.X)\n"
        "    print(one.__spec__.loader.get_data(one.__file__.rsplit('/', 2)[0] + '/data.txt').decode(), end='')\n"
        "    print(sorted(m.name for m in pkgutil.iter_modules(one.__spec__.parent and __import__('nsdemo.parts').parts.__path__)))\n"
        "    fail()\n"
    )
    project = make_project(tmp_path / "p", ["nsdemo"], code=code)
    out = tmp_path / "out"
    result = run_apepy(
        "bundle", project, "-o", out, "--base", built_python, "--no-index", "--find-links", links
    )
    assert result.returncode == 0, result.stderr
    ran = run_clean(out, cwd=tmp_path)
    assert ran.returncode == 1
    assert ran.stdout.splitlines() == ["namespace portion", "data beside the module", "['one']"]
    # The traceback quotes the bundled source line.
    assert "raise ValueError('the line above this is shown')" in ran.stderr
    # Named by the module's __file__, inside the file, as CPython's own loader names it.
    assert f'File "{out}/Lib/site-packages/demo_app.py", line 3, in fail' in ran.stderr


def test_prune_keep_and_recorded_imports(built_python: Path, tmp_path: Path) -> None:
    code = (
        "import importlib, json, sys\n"
        "def main():\n"
        "    name = sys.argv[1] if len(sys.argv) > 1 else 'json'\n"
        "    mod = importlib.import_module(name)\n"
        "    print(mod.__name__, json.dumps([1]))\n"
    )
    project = make_project(tmp_path / "p", [], code=code)
    full = tmp_path / "full"
    pruned = tmp_path / "pruned"
    assert run_apepy("bundle", project, "-o", full, "--base", built_python).returncode == 0
    result = run_apepy("bundle", project, "-o", pruned, "--base", built_python, "--prune")
    assert result.returncode == 0, result.stderr
    assert "pruned the standard library" in result.stderr
    assert pruned.stat().st_size < full.stat().st_size - 3_000_000
    names = {m.name for m in zipstore.read_archive(pruned).members}
    assert "Lib/json/__init__.pyc" in names and "Lib/sqlite3/__init__.pyc" not in names
    # A module's source goes or stays with its code: top-level modules too.
    assert {"Lib/json/__init__.py", "Lib/os.py", "Lib/os.pyc"} <= names
    assert not {"Lib/sqlite3/__init__.py", "Lib/smtplib.py", "Lib/smtplib.pyc"} & names
    assert "Lib/asyncio/" not in names  # no empty directory left to look like a namespace
    assert run_clean(pruned, cwd=tmp_path).stdout.split() == ["json", "[1]"]
    # Only a dynamic import names sqlite3: gone, unless kept or recorded.
    missing = run_clean(pruned, "sqlite3", cwd=tmp_path)
    assert missing.returncode == 1 and "No module named 'sqlite3'" in missing.stderr
    record = tmp_path / "imports.txt"
    assert (
        run_clean(
            full, "sqlite3", cwd=tmp_path, env={"APEPY_RECORD_IMPORTS": str(record)}
        ).returncode
        == 0
    )
    assert "sqlite3" in record.read_text().split()
    result = run_apepy(
        "bundle", project, "-o", pruned, "--base", built_python, "--prune", "--keep-from", record
    )
    assert result.returncode == 0, result.stderr
    assert run_clean(pruned, "sqlite3", cwd=tmp_path).stdout.split() == ["sqlite3", "[1]"]
    result = run_apepy(
        "bundle", project, "-o", pruned, "--base", built_python, "--prune", "--keep", "wave"
    )
    assert result.returncode == 0, result.stderr
    assert run_clean(pruned, "wave", cwd=tmp_path).stdout.split() == ["wave", "[1]"]


def test_hot_from_a_recorded_run_and_no_sources(built_python: Path, tmp_path: Path) -> None:
    """--hot-from: the .pyc a real run imported stay stored, every other is deflated;
    --no-sources leaves the packages' .py out. The file runs as before, smaller."""
    code = (
        "import json, os, sys, time\n"
        "def main():\n"
        "    if sys.argv[1:] == ['wait']:\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(60)\n"
        "    if sys.argv[1:] == ['fail']:\n"
        "        raise ValueError('no source line for this')\n"
        "    print(json.dumps({'cwd': os.path.basename(os.getcwd())}))\n"
    )
    project = make_project(tmp_path / "p", [], code=code)
    full = tmp_path / "full"
    assert run_apepy("bundle", project, "-o", full, "--base", built_python).returncode == 0
    # The record is written when the app is stopped with SIGTERM, as a service manager
    # stops a server.
    record = tmp_path / "imports.txt"
    proc = subprocess.Popen(
        [full, "wait"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"APEPY_RECORD_IMPORTS": str(record)},
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    recorded = set(record.read_text().split())
    assert {"json", "json.decoder", "demo_app", "time"} <= recorded
    assert "asyncio" not in recorded

    small = tmp_path / "small"
    result = run_apepy(
        "bundle",
        project,
        "-o",
        small,
        "--base",
        built_python,
        "--hot-from",
        record,
        "--no-sources",
    )
    assert result.returncode == 0, result.stderr
    assert "kept" in result.stderr and "stored (imported by the recorded run)" in result.stderr
    assert small.stat().st_size < full.stat().st_size - 1_000_000
    methods = {m.name: m.method for m in zipstore.read_archive(small).members}
    base = {m.name: m.method for m in zipstore.read_archive(built_python).members}
    stored, deflated = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
    # Imported: stored, as in the base; on the base's hot list but not imported: deflated.
    assert base["Lib/json/decoder.pyc"] == methods["Lib/json/decoder.pyc"] == stored
    assert base["Lib/asyncio/base_events.pyc"] == stored
    assert methods["Lib/asyncio/base_events.pyc"] == deflated
    assert methods["Lib/site-packages/demo_app.pyc"] == stored
    assert "Lib/site-packages/demo_app.py" not in methods
    assert "Lib/site-packages/demo_app.py" in {m.name for m in zipstore.read_archive(full).members}
    assert run_apepy("verify", small).returncode == 0
    ran = run_clean(small, cwd=tmp_path)
    assert ran.returncode == 0 and json.loads(ran.stdout) == {"cwd": tmp_path.name}
    asyncio_code = "import asyncio; print(asyncio.run(asyncio.sleep(0, 'slept')))"
    plain = run_clean(small, "-c", asyncio_code, cwd=tmp_path, env={"APEPY_PLAIN": "1"})
    assert plain.stdout.split() == ["slept"], plain.stderr
    failed = run_clean(small, "fail", cwd=tmp_path)
    assert failed.returncode == 1
    assert f'File "{small}/Lib/site-packages/demo_app.py", line 7, in main' in failed.stderr
    assert "raise ValueError" not in failed.stderr  # no source to quote

    # A record of another program names nothing here: refused, no file written.
    other = tmp_path / "other.txt"
    other.write_text("some_other_app\nits_module\n")
    refused = tmp_path / "refused"
    result = run_apepy(
        "bundle", project, "-o", refused, "--base", built_python, "--hot-from", other
    )
    assert result.returncode != 0 and not refused.exists()
    assert "names none of the modules in this bundle" in result.stderr
    assert "APEPY_RECORD_IMPORTS" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="session")
@builds
def frozen_python(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("frozen") / "python"
    result = run_apepy("build", "--python", release.version, "--freeze", "--offline", "-o", out)
    assert result.returncode == 0, result.stderr
    patches = json.loads(run_apepy("info", out, "--json").stdout)["patches"]
    assert any(
        p.startswith("freeze_modules: ") and p.endswith(" hot stdlib modules") for p in patches
    )
    return out


def test_the_default_build_serves_every_stdlib_module_from_the_zip(
    built_python: Path, tmp_path: Path
) -> None:
    code = "import _imp, json; print(_imp.is_frozen('__apepy__.json'), json.__loader__._frozen_code('json'))"
    result = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "None"]


def test_hot_stdlib_modules_come_frozen_from_the_binary(
    frozen_python: Path, tmp_path: Path
) -> None:
    built_python = frozen_python
    code = (
        "import _imp, json, sys, traceback, importlib.resources, email.message\n"
        "loader = json.__loader__\n"
        "try:\n"
        "    json.loads('{')\n"
        "except ValueError:\n"
        "    tb = traceback.format_exc()\n"
        "print(json.dumps({\n"
        "  'frozen': _imp.is_frozen('__apepy__.json'), 'plain_frozen': _imp.is_frozen('json'),\n"
        "  'loader': type(loader).__module__, 'file': json.__file__,\n"
        "  'code_file': json.decoder.JSONDecoder.decode.__code__.co_filename,\n"
        "  'from_binary': loader._frozen_code('json') is not None,\n"
        "  'tb': tb, 'resources': sorted(p.name for p in importlib.resources.files('json').iterdir()),\n"
        "  'email': email.message.__spec__.origin}))\n"
    )
    result = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["frozen"] and not got["plain_frozen"]
    assert got["loader"] == "_apepy_importer" and got["from_binary"]
    assert got["file"] == f"{built_python}/Lib/json/__init__.py"
    # Named like the module's file, as from the zip's .pyc and in an ordinary build;
    # the traceback shows the source line, read from the stdlib's .py in the zip.
    assert got["code_file"] == f"{built_python}/Lib/json/decoder.py"
    assert f'File "{built_python}/Lib/json/decoder.py", line' in got["tb"]
    assert "obj, end = self.scan_once(s, idx)" in got["tb"] and "<frozen" not in got["tb"]
    assert "decoder.pyc" in got["resources"]
    assert got["email"] == f"{built_python}/Lib/email/message.py"

    # With CPython's frozen modules turned off, the same modules come from the zip's .pyc.
    off = run_clean(
        built_python,
        "-X",
        "frozen_modules=off",
        "-c",
        "import _imp, json; print(_imp.is_frozen('__apepy__.json'), json.loads('[1]'))",
        cwd=tmp_path,
    )
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["False", "[1]"]


# Forked children import at the same time as each other: the way CPython's
# test_multiprocessing_forkserver found the shared-offset bug (issue 26).
_FORKED_IMPORTS = """
import os, sys
import _apepy_importer
names = sys.argv[1].split(',')
assert _apepy_importer._get_store(), 'the index serves this file'
children = []
for _ in range(int(sys.argv[2])):
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_w)
        os.read(ready_r, 1)  # all children start importing together
        failed = []
        for name in names:
            try:
                __import__(name)
            except Exception as exc:
                failed.append(f'{name}: {exc!r}')
        os.write(2, ('\\n'.join(failed) + '\\n').encode() if failed else b'')
        os._exit(1 if failed else 0)
    os.close(ready_r)
    children.append((pid, ready_w))
for _, ready_w in children:
    os.write(ready_w, b'g')
bad = sum(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0 for pid, _ in children)
print(f'{bad} of {len(children)} children failed')
"""

_MANY_MODULES = [
    "json",
    "email.mime.text",
    "http.server",
    "asyncio",
    "argparse",
    "logging.handlers",
    "xml.dom.minidom",
    "urllib.request",
    "csv",
    "decimal",
    "fractions",
    "statistics",
    "difflib",
    "textwrap",
    "pprint",
    "dataclasses",
    "concurrent.futures",
    "unittest.mock",
    "tarfile",
    "zipfile",
    "gzip",
    "shutil",
    "tempfile",
    "glob",
    "fnmatch",
    "calendar",
    "ipaddress",
    "uuid",
    "sqlite3",
    "hashlib",
    "hmac",
    "secrets",
    "base64",
    "pickletools",
    "plistlib",
    "configparser",
    "optparse",
    "gettext",
    "sched",
    "queue",
    "wave",
    "colorsys",
]


def test_forked_children_import_at_once(built_python: Path, tmp_path: Path) -> None:
    script = tmp_path / "forked.py"
    script.write_text(_FORKED_IMPORTS)
    for _ in range(3):
        result = run_clean(built_python, str(script), ",".join(_MANY_MODULES), "6", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "0 of 6 children failed", result.stderr


def test_no_descriptor_stays_open_on_the_executable(built_python: Path, tmp_path: Path) -> None:
    """subprocess's pass_fds tests count a child's descriptors: the importer adds none."""
    code = (
        "import os, sys, json, email.mime.text\n"
        "fds = os.listdir('/proc/self/fd')\n"
        "print(sum(os.path.realpath(f'/proc/self/fd/{fd}') == os.path.realpath(sys.executable)"
        " for fd in fds))\n"
    )
    result = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
