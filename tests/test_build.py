"""A real interpreter build, run the way a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from conftest import apepy_cmd, run_apepy, run_clean

from apepy import sources
from apepy.interpreter import stdlib
from apepy.interpreter.modules import REQUIRED
from apepy.layout import SITE


def test_output_is_fully_static(built_python: Path) -> None:
    result = subprocess.run(["ldd", str(built_python)], capture_output=True, text=True)
    assert "not a dynamic executable" in (result.stdout + result.stderr)


def test_every_required_module_imports_from_an_empty_environment(
    built_python: Path, tmp_path: Path
) -> None:
    exe = tmp_path / "python"
    shutil.copy2(built_python, exe)
    empty = tmp_path / "empty"
    empty.mkdir()
    code = (
        "import importlib, json, sys\n"
        f"names = {sorted(REQUIRED)!r}\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'builtin': [n for n in names if n in sys.builtin_module_names],"
        " 'path': sys.path, 'prefix': sys.prefix, 'executable': sys.executable}))\n"
    )
    # HOME with no user site-packages: where ~/.local/lib/python3.X/site-packages exists
    # it is on sys.path, as in any Python.
    result = run_clean(exe, "-c", code, cwd=empty, env={"HOME": str(empty)})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert sorted(data["builtin"]) == sorted(REQUIRED)
    # sys.path is the stdlib and site-packages inside the file, nothing on disk.
    assert data["path"][-2:] == [f"{exe}/Lib", f"{exe}/Lib/site-packages"]
    assert all(p.startswith(str(exe)) for p in data["path"] if p), data["path"]
    assert data["prefix"] == str(exe)


def test_stdlib_modules_load_from_inside_the_file(built_python: Path, tmp_path: Path) -> None:
    code = (
        "import json, email.message, http.server, asyncio, sqlite3, decimal, xml.etree.ElementTree as ET\n"
        "con = sqlite3.connect(':memory:'); con.execute('create table t(x)');"
        " con.execute('insert into t values (41)')\n"
        "assert con.execute('select x + 1 from t').fetchone() == (42,)\n"
        "assert str(decimal.Decimal('1.1') + decimal.Decimal('2.2')) == '3.3'\n"
        "assert ET.fromstring('<a><b/></a>')[0].tag == 'b'\n"
        "print(json.__file__, type(json.__loader__).__module__)\n"
    )
    result = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # Served by apepy's frozen importer, with the file name a source install would have.
    assert result.stdout.split() == [f"{built_python}/Lib/json/__init__.py", "_apepy_importer"]


def test_runs_through_a_symlink_and_from_path(built_python: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    link = bindir / "py"
    link.symlink_to(built_python)
    result = run_clean(
        link, "-c", "import sys; print(sys.path[-2])", cwd=tmp_path, env={"HOME": str(bindir)}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{built_python}/Lib"
    # Found through PATH under another name, with nothing else in the environment.
    result = subprocess.run(
        ["py", "-c", "import os, sys; print(os.path.basename(sys.executable))"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": str(bindir)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "py"


def test_ignores_the_hosts_python_and_pythonhome(built_python: Path, tmp_path: Path) -> None:
    fake_home = tmp_path / "home"
    (fake_home / "lib").mkdir(parents=True)
    result = run_clean(
        built_python,
        "-c",
        "import os, sys; print(os.__file__); print(sys.prefix)",
        cwd=tmp_path,
        env={"PYTHONHOME": str(fake_home)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"{built_python}/Lib/os.py", str(built_python)]


def test_zip_follows_the_store_rules(built_python: Path) -> None:
    with zipfile.ZipFile(built_python) as archive:
        infos = archive.infolist()
        names = {i.filename for i in infos}
        assert archive.testzip() is None
    assert "Lib/os.pyc" in names and "Lib/email/" in names and "Lib/site-packages/" in names
    assert not any(
        n.startswith(("Lib/test/", "Lib/idlelib/", "Lib/tkinter/", "Lib/ensurepip/")) for n in names
    )
    methods = {i.filename: i.compress_type for i in infos}
    assert methods["Lib/json/decoder.pyc"] == zipfile.ZIP_STORED
    assert methods["Lib/tomllib/_parser.pyc"] == zipfile.ZIP_DEFLATED
    size = built_python.stat().st_size
    for info in infos:
        assert info.flag_bits & 0x08 == 0, info.filename  # no data descriptors
        assert info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
        mode = info.external_attr >> 16
        assert mode & 0o170000 == (0o040000 if info.is_dir() else 0o100000), info.filename
        stdlib_pyc = info.filename.endswith(".pyc") and not info.filename.startswith(SITE)
        if stdlib_pyc:
            # The hot modules' .pyc stored (read without inflating), the rest deflated.
            stored = stdlib.stored_pyc(info.filename[len("Lib/") : -1])
            expected = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            assert info.compress_type == expected, info.filename
        assert 0 < info.header_offset < size
    # Absolute offsets: the local header is right where the central directory says.
    with open(built_python, "rb") as handle:
        first = min(infos, key=lambda i: i.header_offset)
        handle.seek(first.header_offset)
        assert handle.read(4) == b"PK\x03\x04"


def test_info_prints_the_manifest(built_python: Path, release: sources.Release) -> None:
    result = run_apepy("info", built_python, "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["python_version"] == release.version
    assert manifest["source_sha256"] == release.sha256
    assert manifest["toolchain"] == "host"
    assert set(REQUIRED) <= set(manifest["builtin_modules"])
    text = run_apepy("info", built_python)
    assert f"python            {release.version}" in text.stdout


def test_second_build_comes_from_the_cache(
    built_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    out = tmp_path / "again"
    result = run_apepy("build", "--python", release.version, "-o", out, "--offline")
    assert result.returncode == 0, result.stderr
    assert "from the cache" in result.stderr
    assert out.read_bytes() == built_python.read_bytes()


def test_https_uses_the_bundled_cas_where_the_system_has_none(
    built_python: Path, tmp_path: Path
) -> None:
    """In a mount namespace where /usr/lib/ssl and /etc/ssl are empty, the zip's CA bundle is used."""
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed for this test")
    code = (
        "import ssl, _apepy; ctx = ssl.create_default_context();"
        " names = [dict(x[0] for x in c['subject']).get('commonName') for c in ctx.get_ca_certs()];"
        " print(len(names), 'ISRG Root X1' in names, ssl.get_default_verify_paths().capath)"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    script = (
        f"mount --bind {empty} /usr/lib/ssl && mount --bind {empty} /etc/ssl && "
        f'exec {built_python} -c "{code}"'
    )
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert result.returncode == 0, result.stderr
    count, has_isrg, capath = result.stdout.split()
    assert int(count) > 100 and has_isrg == "True" and capath == "None"


def test_https_verifies_certificates(built_python: Path, tmp_path: Path) -> None:
    """A real TLS handshake on loopback: a trusted CA passes, an unknown one is refused."""
    from tls_server import serve_https

    with serve_https(tmp_path) as (port, ca_file):
        code = (
            "import sys, urllib.request, ssl\n"
            f"url = 'https://127.0.0.1:{port}/'\n"
            "try:\n"
            "    print(urllib.request.urlopen(url, timeout=10).read().decode())\n"
            "except urllib.error.URLError as e:\n"
            "    print('refused', isinstance(e.reason, ssl.SSLCertVerificationError))\n"
        )
        trusted = run_clean(
            built_python, "-c", code, cwd=tmp_path, env={"SSL_CERT_FILE": str(ca_file)}
        )
        untrusted = run_clean(built_python, "-c", code, cwd=tmp_path)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.strip() == "hello over tls"
    assert untrusted.stdout.strip() == "refused True", untrusted.stderr


def test_unwritable_output_fails_before_building(tmp_path: Path, release: sources.Release) -> None:
    result = run_apepy(
        "build", "--python", release.version, "-o", tmp_path / "nope" / "python", "--offline"
    )
    assert result.returncode != 0
    assert "output directory" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_read_only_output_filesystem(tmp_path: Path, release: sources.Release) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    script = (
        f"mount -t tmpfs -o ro,size=1m tmpfs {ro} && "
        f"exec {' '.join(apepy_cmd())} build --python {release.version} --offline -o {ro}/python"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "not writable" in result.stderr or "cannot write" in result.stderr
    assert "Traceback" not in result.stderr


def test_disk_full_while_writing_leaves_nothing(
    built_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    """A 4 MB filesystem as output: the copy runs out of space, no partial file is left."""
    small = tmp_path / "small"
    small.mkdir()
    script = (
        f"mount -t tmpfs -o size=4m tmpfs {small} && "
        f"{' '.join(apepy_cmd())} build --python {release.version} --offline -o {small}/python; "
        f"code=$?; ls -A {small}; exit $code"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "no space left" in result.stderr
    assert result.stdout.strip() == ""  # nothing, not even a temp file
    assert "Traceback" not in result.stderr


def test_full_cache_filesystem_while_packing(
    built_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    """The cache on a 40 MB filesystem (the compiled tree and sources linked in from the
    real cache): packing cannot fit, the build stops with one message, no entry is left."""
    from conftest import real_cache_root

    small = tmp_path / "cache"
    small.mkdir()
    real = real_cache_root()
    script = (
        f"mount -t tmpfs -o size=40m tmpfs {small} && "
        f"ln -s {real / 'cpython'} {small / 'cpython'} && ln -s {real / 'sources'} {small / 'sources'} && "
        f"APEPY_CACHE_DIR={small} {' '.join(apepy_cmd())} build --python {release.version} --offline "
        f"-o {tmp_path / 'python'}; code=$?; ls -A {small / 'interpreters'}; exit $code"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "not enough free space for packing the interpreter" in result.stderr
    assert "Traceback" not in result.stderr
    assert [n for n in result.stdout.split() if not n.endswith(".lock")] == []
    assert not (tmp_path / "python").exists()


def test_a_damaged_cache_entry_is_made_again(
    built_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    from apepy import manifest
    from apepy.cache import cache_root

    found = manifest.read(built_python)
    assert found is not None
    cached = cache_root() / "interpreters" / found.build_key / "python"
    data = cached.read_bytes()
    cached.write_bytes(data[: len(data) // 2])  # truncated behind apepy's back
    out = tmp_path / "again"
    result = run_apepy("build", "--python", release.version, "-o", out, "--offline")
    assert result.returncode == 0, result.stderr
    assert "is damaged; building it again" in result.stderr
    assert out.read_bytes() == data
    assert run_clean(out, "-c", "print(6 * 7)", cwd=tmp_path).stdout.strip() == "42"
