"""Lock files, SBOM and licences without building anything: the pure parts."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from apepy import deps, licences, linked, lock, sbom
from apepy.errors import ApepyError
from apepy.linked import LinkedLibrary
from apepy.manifest import CompiledIn, Manifest


def test_every_pinned_library_has_a_licence() -> None:
    assert set(licences.LIBRARIES) == set(deps.LIBRARIES)
    assert all(licences.LIBRARIES.values())


@pytest.mark.parametrize(
    ("expression", "kind"),
    [
        ("GPL-3.0-or-later", "strong"),
        ("AGPL-3.0-only", "strong"),
        ("LGPL-3.0-or-later", "weak"),
        ("MPL-2.0", "weak"),
        ("FTL OR GPL-2.0-or-later", None),
        ("MIT AND GPL-2.0-only", "strong"),
        ("GNU General Public License v3 (GPLv3)", "strong"),
        ("GPL-3.0-or-later WITH GCC-exception-3.1", None),
        ("LGPL-2.1-or-later", "weak"),
        ("MIT", None),
        ("BSD-3-Clause", None),
        ("PSF-2.0", None),
    ],
)
def test_copyleft(expression: str, kind: str | None) -> None:
    assert licences.copyleft(expression) == kind


def test_licence_from_metadata() -> None:
    assert sbom.metadata_licence("Name: a\nLicense-Expression: MIT OR Apache-2.0\n") == (
        "MIT OR Apache-2.0"
    )
    assert sbom.metadata_licence("Name: a\nLicense: BSD-3-Clause\n") == "BSD-3-Clause"
    classified = "Name: a\nClassifier: License :: OSI Approved :: MIT License\n"
    assert sbom.metadata_licence(classified) == "MIT License"
    assert sbom.metadata_licence("Name: a\n") == ""


def _manifest() -> Manifest:
    return Manifest(
        apepy_version="0",
        python_version="3.13.15",
        toolchain="host",
        compiler="gcc 12",
        target="linux-x86_64",
        output_kind="ELF",
        source_sha256="1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76",
        source_pinned=True,
        builtin_modules=("_ssl", "zlib"),
        excluded_modules=(),
        patches=("a patch",),
        ca_bundle="certifi",
        build_date="2026-01-01T00:00:00Z",
        source_date_epoch=1767225600,
        build_key="k" * 24,
        distributions=(CompiledIn("pyyaml", "6.0.4", "e" * 64, ("yaml._yaml",)),),
    )


def test_sbom_is_valid_reproducible_and_nests_the_base() -> None:
    libs = [
        LinkedLibrary(
            "zlib",
            "1.3.1",
            "Zlib",
            "source",
            ("libz.a",),
            ("zlib",),
            sha256=deps.LIBRARIES["zlib"].sha256,
        ),
        LinkedLibrary(
            "readline", "8.2-1.3", "GPL-3.0-or-later", "system", ("libreadline.a",), ("readline",)
        ),
    ]
    compiled = [sbom.CompiledPart("pyyaml", "6.0.4", "e" * 64, ("yaml._yaml",), "MIT")]
    raw = sbom.for_interpreter(_manifest(), libs, compiled)
    assert raw == sbom.for_interpreter(_manifest(), libs, compiled)
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    assert validator.validate_str(raw.decode()) is None
    wheel = sbom.WheelPart(
        "flask", "3.1.3", "flask-3.1.3-py3-none-any.whl", "f" * 64, "BSD-3-Clause"
    )
    bundled = sbom.for_bundle(raw, _manifest(), ("app", "1.0"), [wheel], 1767225600)
    assert validator.validate_str(bundled.decode()) is None
    data = json.loads(bundled)
    refs = {c["bom-ref"] for c in data["components"]}
    assert {"cpython", "c-library:zlib:source", "compiled-in:pyyaml", "wheel:flask"} <= refs
    assert "apepy-interpreter" in refs  # the base itself, a component of the bundle
    assert data["metadata"]["component"]["name"] == "app"
    assert data["serialNumber"] != json.loads(raw)["serialNumber"]
    found = sbom.summary(sbom.parse(bundled))
    assert found.strong == ["readline 8.2-1.3 (GPL-3.0-or-later)"]
    assert found.by_licence["BSD-3-Clause"] == ["flask"]


def test_cosmo_runtime_names_libcxx_when_a_module_is_cxx() -> None:
    """A C++ extension under cosmocc links its libc++: the SBOM and info say so."""
    toolchain = SimpleNamespace(family="cosmo", compiler_version="cosmocc 4.0.2 (fat)")

    def names(cxx: bool) -> list[tuple[str, str]]:
        return [(lib.name, lib.license) for lib in linked.runtime(toolchain, cxx)]  # type: ignore[arg-type]

    assert names(False) == [("cosmopolitan", "ISC")]
    assert names(True) == [("cosmopolitan", "ISC"), ("libc++", "Apache-2.0 WITH LLVM-exception")]
    raw = sbom.for_interpreter(_manifest(), linked.runtime(toolchain, True), [])  # type: ignore[arg-type]
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(raw.decode()) is None
    found = sbom.summary(sbom.parse(raw))
    assert found.strong == [] and found.weak == []
    assert "libc++" in found.by_licence["Apache-2.0 WITH LLVM-exception"]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    return path


def test_lock_read_names_the_package(tmp_path: Path) -> None:
    good = _write(
        tmp_path,
        'lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "flask"\nversion = "3.1.3"\n'
        '[[packages.wheels]]\nname = "flask-3.1.3-py3-none-any.whl"\npath = "x.whl"\n'
        f'hashes = {{sha256 = "{"a" * 64}"}}\n',
    )
    assert lock.read(good).packages[0].name == "flask"
    no_hashes = _write(
        tmp_path,
        'lock-version = "1.0"\ncreated-by = "t"\n[[packages]]\nname = "flask"\n'
        '[[packages.wheels]]\npath = "flask-3.1.3-py3-none-any.whl"\n',
    )
    with pytest.raises(ApepyError, match=r"\(package flask\).*hashes"):
        lock.read(no_hashes)


def test_wheel_urls_from_pips_log_without_credentials() -> None:
    from apepy.bundle import wheels

    log = (
        '  Looking up "https://user:secret@index.example:8443/p/a/flask-3.1.3-py3-none-any.whl"'
        " in the cache\n"
        "  Added blinker==1.9.0 from https://index.example/p/b/blinker-1.9.0-py3-none-any.whl"
        "#sha256=ab (from flask)\n"
        '  Looking up "https://index.example/simple/flask/" in the cache\n'
    )
    found = {m["name"]: wheels._public(m["url"]) for m in wheels._FETCHED.finditer(log)}
    assert found == {
        "flask-3.1.3-py3-none-any.whl": "https://index.example:8443/p/a/flask-3.1.3-py3-none-any.whl",
        "blinker-1.9.0-py3-none-any.whl": "https://index.example/p/b/blinker-1.9.0-py3-none-any.whl",
    }
