"""`apepy build --libraries source` with the host compiler: every C library from apepy's
pinned sources (the path a cosmo build always takes), tested here with gcc.

The interpreter links the sysroot's archives, not the system's -dev packages': line
editing is libedit (the system build links GNU readline), there is no gdbm (no
recipe), and an extension's C library (PyYAML's libyaml) is apepy's build too, though
the system has a static libyaml.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import EXTENSION_PINS as PINS
from conftest import apepy_ok, builds, run_apepy
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from apepy import deps, libraries, manifest, sbom, sources, toolchains, zipstore
from apepy.interpreter import modules

SMOKE = r"""
import json, sys, ssl, sqlite3, zlib, bz2, lzma, ctypes, curses, uuid, hashlib, readline
import yaml
out = {
    "readline": getattr(readline, "backend", readline.__doc__),
    "openssl": ssl.OPENSSL_VERSION,
    "sqlite": sqlite3.sqlite_version,
    "cas": ssl.create_default_context().cert_store_stats()["x509_ca"] > 0,
    "uuid4": uuid.uuid4().version,
    "round": zlib.decompress(zlib.compress(b"apepy")) == b"apepy"
    and bz2.decompress(bz2.compress(b"apepy")) == b"apepy"
    and lzma.decompress(lzma.compress(b"apepy")) == b"apepy",
    "yaml_c": yaml.__with_libyaml__,
    "yaml": yaml.load("a: [1, apepy]", Loader=yaml.CSafeLoader),
}
try:
    import dbm.gnu
    out["gdbm"] = True
except ImportError:
    out["gdbm"] = False
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
@builds
def from_source(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("source") / "python"
    result = apepy_ok(
        "build",
        "--python",
        release.version,
        "--libraries",
        "source",
        "--with",
        PINS["pyyaml"],
        "-o",
        out,
    )
    # Said on every build, from the cache too (CI keeps its cache between runs).
    assert "without _gdbm: apepy has no recipe for libgdbm.a" in result.stderr
    return out


def test_every_library_comes_from_the_pinned_sources(from_source: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(from_source), "-c", SMOKE], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    if tuple(map(int, sources.DEFAULT_SERIES.split("."))) >= (3, 13):
        assert got["readline"] == "editline"  # readline.backend is new in 3.13
    # The system's OpenSSL is another 3.0.x (Debian's security updates move it on).
    assert got["openssl"].startswith(f"OpenSSL {deps.LIBRARIES['openssl'].version} ")
    assert got["sqlite"] == deps.LIBRARIES["sqlite"].version
    assert got["cas"] and got["uuid4"] == 4 and got["round"]
    assert got["gdbm"] is False
    assert got["yaml_c"] is True and got["yaml"] == {"a": [1, "apepy"]}
    ldd = subprocess.run(["ldd", str(from_source)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


def test_one_sysroot_serves_the_host_build_and_its_extensions(from_source: Path) -> None:
    """A host build from source and the host's extension libraries (lxml's libxslt,
    which the system lacks) share one sysroot: each library is built once."""
    found = manifest.read(from_source)
    assert found is not None and found.toolchain == "host"
    root = libraries.sysroot(toolchains.get("host", toolchains.Options(libraries="source")))
    assert root is not None and root == deps.sysroot(toolchains.get("host"))
    for archive in ("libssl.a", "libedit.a", "libyaml.a"):
        assert (root / "lib" / archive).is_file(), archive


def test_a_build_from_the_cache_still_names_what_it_lacks(
    from_source: Path, tmp_path: Path, release: sources.Release
) -> None:
    """The warning is not only for the first build: the same file from the cache lacks
    _gdbm too, and a user who builds it on a CI machine with a warm cache is told."""
    again = run_apepy(
        "build", "--python", release.version, "--libraries", "source",
        "--with", PINS["pyyaml"], "-o", tmp_path / "python",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "from the cache" in again.stderr
    assert "built without _gdbm: apepy has no recipe for libgdbm.a" in again.stderr
    found = manifest.read(tmp_path / "python")
    assert found is not None
    left_out = found.left_out
    assert left_out["_gdbm"] == "apepy has no recipe for libgdbm.a"
    assert all(f"built without {m}: {why}" in again.stderr for m, why in left_out.items())


def test_sbom_names_every_pinned_tarball(from_source: Path) -> None:
    """Every C library of a build from source is in its SBOM with the pinned tarball's
    sha256 and licence, and the compiled-in package with its sdist's."""
    raw = zipstore.read_member(from_source, sbom.SBOM_ARCNAME)
    assert raw is not None
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw.decode()) is None
    parts = {c["bom-ref"]: c for c in json.loads(raw)["components"]}
    found = manifest.read(from_source)
    assert found is not None
    wanted = {
        deps.providing(archive).name  # type: ignore[union-attr]
        for module in found.builtin_modules
        if module in modules.FROM_SOURCE
        for archive in modules.FROM_SOURCE[module].libraries
    } | {"libyaml"}
    for name in wanted:
        part = parts[f"c-library:{name}:source"]
        assert part["version"] == deps.LIBRARIES[name].version
        assert part["hashes"] == [{"alg": "SHA-256", "content": deps.LIBRARIES[name].sha256}]
        assert part["purl"] == f"pkg:generic/{name}@{deps.LIBRARIES[name].version}"
    assert not [ref for ref in parts if ref.endswith(":system")]
    pyyaml = parts["compiled-in:pyyaml"]
    assert pyyaml["hashes"][0]["content"] == found.distributions[0].sdist_sha256
    assert pyyaml["licenses"] == [{"license": {"id": "MIT"}}]
    # No GPL: libedit, not GNU readline; no gdbm. The static glibc (LGPL) is the one
    # weak-copyleft part, and it is named.
    info = run_apepy("info", from_source).stdout
    assert "copyleft (GPL)" not in info, info
    weak = re.search(r"^weak copyleft\s+(.*)$", info, re.MULTILINE)
    assert weak is not None and re.fullmatch(r"glibc \S+ \(LGPL-2\.1-or-later\)", weak[1]), info
