"""Each record written with `records` has the bytes its hand-written JSON had, and old ones read.

The expected texts are the expressions each record was written with before the helper.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import asdict
from pathlib import Path

import pytest

from apepy import inside, records
from apepy.bundle import CONFIG_SCHEMA, BundleConfig, Distribution, Extract
from apepy.extensions import RESULT, Extension, _load, package
from apepy.extensions.link import LinkedModule
from apepy.extensions.package import Archive, LinkRecord
from apepy.interpreter import compile
from apepy.layout import BUNDLE_CONFIG
from apepy.manifest import SCHEMA, CompiledIn, Manifest, RuntimeDependency


def manifest() -> Manifest:
    return Manifest(
        apepy_version="0.1",
        python_version="3.13.15",
        toolchain="host",
        compiler="cc 12",
        target="x86_64-linux-gnu",
        output_kind="elf-static",
        source_sha256="ab" * 32,
        source_pinned=True,
        builtin_modules=("_ssl", "zlib"),
        excluded_modules=(),
        patches=("getpath: é",),
        ca_bundle="certifi 2024",
        build_date="2024-01-01T00:00:00Z",
        source_date_epoch=1704067200,
        build_key="k" * 24,
        minimal=True,
        left_out={"_gdbm": "libgdbm.a not found"},
        distributions=(CompiledIn("x", "1.0", "cd" * 32, ("x._y",)),),
        runtime_dependencies=(
            RuntimeDependency("z", "2.0", "z-2.0-py3-none-any.whl", "ef" * 32, ("x",)),
        ),
    )


def test_manifest_bytes_and_old_manifests() -> None:
    found = manifest()
    assert found.to_json() == (json.dumps(asdict(found), indent=2, sort_keys=True) + "\n").encode()
    assert Manifest.from_json(found.to_json()) == found
    data = json.loads(found.to_json())
    # This schema is read exactly: an unknown or a missing key is an error.
    for changed in (
        {**data, "from_the_future": 1},
        {k: v for k, v in data.items() if k != "minimal"},
    ):
        with pytest.raises(ValueError, match=r"from_the_future|no 'minimal'"):
            Manifest.from_json(json.dumps(changed).encode())
    with pytest.raises(ValueError, match="newer apepy"):
        Manifest.from_json(json.dumps({**data, "schema": SCHEMA + 1}).encode())
    # Schema 3 had no optimization: read as the default build's "".
    three = {k: v for k, v in data.items() if k != "optimization"}
    assert Manifest.from_json(json.dumps({**three, "schema": 3}).encode()).optimization == ""
    # Schema 2 had no run-time dependencies: read as none.
    two = {k: v for k, v in data.items() if k not in ("runtime_dependencies", "optimization")}
    read_two = Manifest.from_json(json.dumps({**two, "schema": 2}).encode())
    assert read_two.runtime_dependencies == () and read_two.distributions == found.distributions
    # Schema 1 (no "schema" key at first) kept these in "extras"; absent lists read as
    # empty, as they always did, and a newer schema-1 apepy's field is ignored.
    old = {k: v for k, v in data.items() if k not in ("minimal", "left_out", "distributions")}
    del old["patches"], old["schema"]
    extras = {"minimal": True, "distributions": data["distributions"], "unknown": 1}
    read = Manifest.from_json(json.dumps({**old, "extras": extras, "more": 1}).encode())
    assert read.patches == () and read.schema == 1 and read.minimal and read.left_out == {}
    assert read.distributions == found.distributions


def test_core_marker_bytes_and_old_markers(tmp_path: Path) -> None:
    marker = compile._Marker(
        tree=Path("Python-3.13.15"),
        version="3.13.15",
        builtins=("_io", "sys"),
        expected=("_io",),
        excluded=("_tkinter",),
        patches=("one", "two"),
        left_out={"_gdbm": "no libgdbm.a"},
        optimization="PGO (apepy's training task) + LTO",
    )
    written = records.to_json(marker)
    assert written == json.dumps(
        {
            "tree": "Python-3.13.15",
            "version": "3.13.15",
            "builtins": ("_io", "sys"),
            "expected": ("_io",),
            "excluded": ("_tkinter",),
            "patches": ("one", "two"),
            "left_out": {"_gdbm": "no libgdbm.a"},
            "optimization": "PGO (apepy's training task) + LTO",
        }
    )
    assert compile._load(tmp_path, written).optimization == marker.optimization
    # A marker written before left_out (or optimization) was recorded reads with none.
    older = json.loads(written)
    del older["left_out"], older["optimization"]
    assert compile._load(tmp_path, json.dumps(older)).left_out == {}
    assert compile._load(tmp_path, json.dumps(older)).optimization == ""
    core = compile._load(tmp_path, written)
    assert core.left_out == {"_gdbm": "no libgdbm.a"}
    assert core.tree == tmp_path / "Python-3.13.15"
    assert core.python == core.tree / "python"
    assert (core.builtins, core.excluded, core.patches) == (
        ("_io", "sys"),
        ("_tkinter",),
        marker.patches,
    )
    assert not records.readable(compile._Marker, written[:-5])


def test_extension_result_bytes_and_old_results(tmp_path: Path) -> None:
    ext = Extension(
        name="markupsafe",
        version="2.1.5",
        sdist_sha256="cd" * 32,
        wheel=Path("markupsafe-2.1.5-cp313-cp313-linux_x86_64.whl"),
        modules=(
            LinkedModule(
                "markupsafe._speedups",
                Path("objects/markupsafe._speedups.o"),
                "PyInit_apepy_0_x",
                ("m",),
                ("/usr/lib",),
                False,
            ),
        ),
    )
    old = json.dumps(
        {
            "name": "markupsafe",
            "version": "2.1.5",
            "sdist_sha256": "cd" * 32,
            "wheel": "markupsafe-2.1.5-cp313-cp313-linux_x86_64.whl",
            "modules": [
                {
                    "dotted": "markupsafe._speedups",
                    "object": "objects/markupsafe._speedups.o",
                    "init_symbol": "PyInit_apepy_0_x",
                    "libs": ["m"],
                    "libdirs": ["/usr/lib"],
                    "cxx": False,
                }
            ],
        },
        indent=1,
    )
    assert records.to_json(ext, indent=1) == old
    (tmp_path / RESULT).write_text(old)
    loaded = _load(tmp_path)
    assert loaded.wheel == tmp_path / ext.wheel
    assert loaded.modules[0].object == tmp_path / "objects" / "markupsafe._speedups.o"
    assert loaded.modules[0].libs == ("m",)
    assert loaded.describe().modules == ("markupsafe._speedups",)


def test_the_wrapper_is_given_the_readers_keys() -> None:
    """The standalone wrapper writes record.json and reads ccwrap.json with the keys of
    the reader's records, put into it; the reader is strict (test_extension_parts runs
    the real wrapper)."""
    source = package.wrapper_source()
    assert f"RECORD_FIELDS = {records.fields(LinkRecord)!r}\n" in source
    assert f"CONFIG_FIELDS = {records.fields(package.WrapperConfig)!r}\n" in source
    record = LinkRecord("/b/x.so", "00", True, ("a.o",), (Archive("l.a", False),), (), (), (), ())
    data = json.loads(records.to_json(record))
    assert records.from_json(LinkRecord, data, strict=True) == record
    with pytest.raises(ValueError, match=r"unknown 'inputs'; no 'shared_inputs'"):
        data["inputs"] = data.pop("shared_inputs")
        records.from_json(LinkRecord, data, strict=True)


def test_bundle_config_gains_a_schema_and_old_ones_read() -> None:
    config = BundleConfig(
        name="demo",
        entry={"kind": "function", "target": "demo_app:main"},
        scripts={"demo": "demo_app:main"},
        extract=(Extract("Lib/site-packages/demo/", "demo-0123456789abcdef"),),
        distributions=(Distribution("flask", "3.0"),),
    )
    before = {
        "name": "demo",
        "entry": {"kind": "function", "target": "demo_app:main"},
        "scripts": {"demo": "demo_app:main"},
        "extract": [{"prefix": "Lib/site-packages/demo/", "digest": "demo-0123456789abcdef"}],
        "distributions": [{"name": "flask", "version": "3.0"}],
    }
    assert (
        config.to_json()
        == json.dumps({**before, "schema": CONFIG_SCHEMA}, indent=1, sort_keys=True).encode()
    )
    assert BundleConfig.from_json(json.dumps(before, indent=1, sort_keys=True)) == config
    no_entry = BundleConfig.from_json(json.dumps({**before, "entry": None}))
    assert no_entry.entry is None


def test_the_boot_reads_exactly_what_bundle_config_writes(tmp_path: Path) -> None:
    """bundle.json, from BundleConfig, read by the real _apepy_boot imported from a zip
    as a bundle imports it; a key the two do not share stops the app, naming the file."""
    config = BundleConfig(
        name="demo",
        entry=None,
        scripts={"demo": "demo_app:main"},
        extract=(),
        distributions=(Distribution("flask", "3.0"),),
    )

    def boot_reads(raw: bytes) -> subprocess.CompletedProcess[str]:
        archive = tmp_path / "app.zip"
        with zipfile.ZipFile(archive, "w") as store:
            store.writestr("_apepy_boot.py", inside.source("runtime/_apepy_boot.py"))
            store.writestr(BUNDLE_CONFIG, raw)
        code = (
            f"import sys, json; sys.path.insert(0, {str(archive)!r}); import _apepy_boot; "
            f"print(json.dumps(_apepy_boot._config({str(archive)!r})))"
        )
        return subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True)

    read = boot_reads(config.to_json())
    assert read.returncode == 0, read.stderr
    assert BundleConfig.from_json(read.stdout) == config
    renamed = json.loads(config.to_json())
    renamed["commands"] = renamed.pop("scripts")
    refused = boot_reads(json.dumps(renamed).encode())
    assert refused.returncode == 1
    assert (
        f"{BUNDLE_CONFIG} has the keys" in refused.stderr
        and "bundle the app again" in refused.stderr
    )


def test_tool_apepy_is_read_once_into_typed_options(tmp_path: Path) -> None:
    from apepy.bundle import project
    from apepy.errors import ApepyError

    (tmp_path / "app.py").write_text("print('hi')\n")
    head = '[project]\nname = "app"\nversion = "1"\n[tool.apepy]\n'
    (tmp_path / "pyproject.toml").write_text(
        head + 'keep = ["json"]\nprune = true\nindex-url = "https://example.invalid/simple"\n'
        'hot-from = "imports.txt"\nno-sources = true\n'
    )
    tool = project.load(tmp_path).tool
    assert tool == project.ToolOptions(
        keep=("json",),
        prune=True,
        index_url="https://example.invalid/simple",
        hot_from="imports.txt",
        no_sources=True,
    )
    (tmp_path / "pyproject.toml").write_text(head + "keep = [1]\n")
    with pytest.raises(ApepyError, match=r"\[tool.apepy\] keep must be a list of strings"):
        project.load(tmp_path)
