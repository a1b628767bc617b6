"""Rust extensions (PyO3, built by maturin) compiled into the interpreter, for real.

One interpreter gets pydantic-core (fat LTO, the one FastAPI needs), rpds-py,
bcrypt (an abi3 module) and cryptography (abi3, links OpenSSL): four Rust modules,
each with its own copy of Rust's standard library, kept private to it. Each is imported as a built-in from an empty
environment and exercised; then the FastAPI demo is bundled onto that base and
serves real requests. The refusals (no cargo, a crate newer than the toolchain)
come before any long work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, apepy_ok, builds, make_project, run_apepy, serving
from wheelmaker import make_sdist, make_wheel

from apepy import manifest, sources
from apepy.cache import cache_root

PINS = {
    "pydantic-core": "pydantic-core==2.50.5 --hash=sha256:1e740886083ff95530d694e6a3f09ed914bcf92a496d16acd307c6c3484fc36d",
    "rpds-py": "rpds-py==2026.9.1 --hash=sha256:4793ef7f78268b124b73fa933440f01d258bbae01de9fa53e9080c9ab0425a12",
    "bcrypt": "bcrypt==5.0.0 --hash=sha256:f748f7c2d6fd375cc93d3fba7ef4a9e3a092421b8dbf34d8d4dc06be9492dfdd",
    # Links OpenSSL (through openssl-sys); its cffi-generated bindings need cffi.
    "cryptography": "cryptography==50.0.2 --hash=sha256:7b46165bb56eb4704e2eaaf86f3c940d19154535d9b0ca7d6d590b04060e00d5",
    "cffi": "cffi==2.1.1 --hash=sha256:dd31f52ea1086513bb9df30f8fcee9b8918323ae067a3d5b78bc826a000712be",
}
FASTAPI_HELLO = REPO / "examples" / "fastapi-hello"

SMOKE = """
import json, sys
import pydantic_core, rpds, bcrypt
from pydantic_core import SchemaValidator, ValidationError, core_schema as cs
out = {'builtins': sorted(m for m in sys.builtin_module_names if m.split('.')[0] in
                          ('pydantic_core', 'rpds', 'bcrypt')),
       'all_builtins': sorted(sys.builtin_module_names)}
v = SchemaValidator(cs.typed_dict_schema({'n': cs.typed_dict_field(cs.int_schema(gt=0))}))
out['valid'] = v.validate_python({'n': '42'})
try:
    v.validate_python({'n': -1})
except ValidationError as exc:
    out['error'] = exc.errors()[0]['type']
m = rpds.HashTrieMap({'a': 1}).insert('b', 2)
out['rpds'] = sorted(m.items())
h = bcrypt.hashpw(b'secret', bcrypt.gensalt(rounds=4))
out['bcrypt'] = [bcrypt.checkpw(b'secret', h), bcrypt.checkpw(b'wrong', h)]
out['version'] = pydantic_core.__version__
import ssl
from cryptography.fernet import Fernet
from cryptography.hazmat.backends.openssl import backend
f = Fernet(Fernet.generate_key())
out['fernet'] = f.decrypt(f.encrypt(b'portable')).decode()
out['openssl'] = [ssl.OPENSSL_VERSION, backend.openssl_version_text()]
print(json.dumps(out, sort_keys=True))
"""


@pytest.fixture(scope="session")
@builds
def rust_python(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("rust") / "python"
    with_args = [arg for pin in PINS.values() for arg in ("--with", pin)]
    apepy_ok("build", "--python", release.version, *with_args, "-o", out)
    return out


def test_rust_extensions_are_built_in_and_work(rust_python: Path, tmp_path: Path) -> None:
    # pydantic-core's one pure-Python dependency; an app bundle would carry it.
    deps = tmp_path / "deps"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(deps),
            "typing-extensions>=4.14",
        ],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [str(rust_python), "-c", SMOKE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(deps)},
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["builtins"] == ["bcrypt._bcrypt", "pydantic_core._pydantic_core", "rpds.rpds"]
    assert "cryptography.hazmat.bindings._rust" in got["all_builtins"]
    assert got["valid"] == {"n": 42}
    assert got["error"] == "greater_than"
    assert got["rpds"] == [["a", 1], ["b", 2]]
    assert got["bcrypt"] == [True, False]
    assert got["version"] == "2.50.5"
    assert got["fernet"] == "portable"
    # cryptography and the stdlib's _ssl run on one OpenSSL.
    assert got["openssl"][0] == got["openssl"][1], got["openssl"]
    ldd = subprocess.run(["ldd", str(rust_python)], capture_output=True, text=True)
    assert "not a dynamic executable" in ldd.stdout + ldd.stderr


def test_rust_modules_in_the_manifest_and_stack_not_executable(rust_python: Path) -> None:
    found = manifest.read(rust_python)
    assert found is not None
    dists = {d.name: d for d in found.distributions}
    assert dists["pydantic-core"].modules == ("pydantic_core._pydantic_core",)
    assert dists["bcrypt"].modules == ("bcrypt._bcrypt",)
    assert dists["rpds-py"].version == "2026.9.1"
    # rustc's symbols.o has no .note.GNU-stack; linked as it is, it would make the
    # interpreter's stack executable.
    program = subprocess.run(
        ["readelf", "-lW", str(rust_python)], capture_output=True, text=True, check=True
    ).stdout
    stack = next(line for line in program.splitlines() if "GNU_STACK" in line)
    assert stack.split()[-2] == "RW", stack


def test_openssl_is_linked_once(rust_python: Path) -> None:
    # cryptography's module leaves OpenSSL undefined: the final link resolves it from
    # the same static libraries CPython's _ssl uses, so the file holds one OpenSSL.
    entries = [
        p.parent
        for p in (cache_root() / "extensions").glob("*/result.json")
        if json.loads(p.read_text())["name"] == "cryptography"
    ]
    assert entries
    obj = max(entries, key=lambda p: p.stat().st_mtime) / "objects"
    symbols = subprocess.run(
        ["nm", "-P", *map(str, obj.glob("*.o"))], capture_output=True, text=True, check=True
    ).stdout
    kinds = {line.split()[0]: line.split()[1] for line in symbols.splitlines() if line.split()}
    assert kinds["SSL_CTX_new"] == "U" and kinds["EVP_EncryptInit_ex"] == "U"


def test_cached_rust_build_builds_nothing(
    rust_python: Path, tmp_path: Path, release: sources.Release
) -> None:
    out = tmp_path / "again"
    with_args = [arg for pin in PINS.values() for arg in ("--with", pin)]
    started = time.monotonic()
    result = run_apepy("build", "--python", release.version, *with_args, "-o", out, "--offline")
    assert result.returncode == 0, result.stderr
    assert "Compiling" not in result.stderr and "building pydantic" not in result.stderr
    assert out.read_bytes() == rust_python.read_bytes()
    assert time.monotonic() - started < 120


@pytest.fixture()
def fastapi_served(rust_python: Path, tmp_path: Path) -> Iterator[str]:
    app = tmp_path / "fastapi-hello"
    result = run_apepy("bundle", FASTAPI_HELLO, "--base", rust_python, "-o", app)
    assert result.returncode == 0, result.stderr
    assert "pydantic_core: provided by the base interpreter" in result.stderr
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy2(app, run_dir / "app")
    with serving([str(run_dir / "app")], run_dir, {"HOME": str(run_dir)}, "/versions", 60) as url:
        yield url


def test_fastapi_app_served_from_one_file(fastapi_served: str) -> None:
    with urllib.request.urlopen(fastapi_served + "/items/1", timeout=10) as response:
        assert response.status == 200
        assert json.load(response) == {"name": "portable python", "price": 1.5, "tags": ["ape"]}
    with urllib.request.urlopen(fastapi_served + "/versions", timeout=10) as response:
        versions = json.load(response)
    assert versions["pydantic_core"] == "2.50.5"
    assert "built-in" in versions["pydantic_core_module"]
    bad = urllib.request.Request(
        fastapi_served + "/items",
        data=json.dumps({"name": "", "price": -3}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(bad, timeout=10)
    assert refused.value.code == 422
    detail = json.load(refused.value)["detail"]
    assert {(d["loc"][-1], d["type"]) for d in detail} == {
        ("name", "string_too_short"),
        ("price", "greater_than"),
    }
    good = urllib.request.Request(
        fastapi_served + "/items",
        data=json.dumps({"name": "zip", "price": 2}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(good, timeout=10) as response:
        assert response.status == 201 and json.load(response) == {"id": 2}


# A Rust extension module with no crates at all (setuptools-rust, no bindings): it
# builds offline in seconds. Its init runs what a Rust module needs of its runtime:
# a panic caught by unwinding, a thread (TLS), the allocator behind a HashMap.
_BARE_LIB = """use std::os::raw::{c_char, c_long, c_void};

#[repr(C)]
pub struct ModuleDef {
    head: [usize; 5],
    name: *const c_char,
    doc: *const c_char,
    size: isize,
    rest: [usize; 5],
}

extern "C" {
    fn PyModule_Create2(def: *mut ModuleDef, api: i32) -> *mut c_void;
    fn PyModule_AddIntConstant(module: *mut c_void, name: *const c_char, value: c_long) -> i32;
}

static mut DEF: ModuleDef = ModuleDef {
    head: [1, 0, 0, 0, 0],
    name: b"NAME\\0".as_ptr() as *const c_char,
    doc: std::ptr::null(),
    size: -1,
    rest: [0; 5],
};

fn answer() -> c_long {
    std::panic::set_hook(Box::new(|_| {}));
    let unwound = std::panic::catch_unwind(|| panic!("unwinds")).is_err();
    let sum = std::thread::spawn(|| (1..=10u64).sum::<u64>()).join().unwrap();
    let mut map = std::collections::HashMap::new();
    map.insert("k", 7);
    (if unwound { 1000 } else { 0 }) + sum as c_long + map["k"]
}

#[no_mangle]
pub unsafe extern "C" fn PyInit_NAME() -> *mut c_void {
    let module = PyModule_Create2(std::ptr::addr_of_mut!(DEF), 1013);
    if !module.is_null() {
        PyModule_AddIntConstant(module, b"answer\\0".as_ptr() as *const c_char, answer());
    }
    module
}
"""


def _bare_rust_sdist(directory: Path, name: str, salt: str = "") -> Path:
    cargo = (
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
        '[lib]\ncrate-type = ["cdylib"]\n'
    )
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=68", "setuptools-rust>=1.7"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n\n'
        f'[[tool.setuptools-rust.ext-modules]]\ntarget = "{name}"\nbinding = "NoBinding"\n'
    )
    lib = _BARE_LIB.replace("NAME", name) + (f"// {salt}\n" if salt else "")
    return make_sdist(
        directory,
        f"{name}-0.1.0",
        {"Cargo.toml": cargo, "pyproject.toml": pyproject, "src/lib.rs": lib},
    )


@pytest.mark.build
def test_two_rust_modules_each_with_its_own_runtime(
    tmp_path: Path, release: sources.Release
) -> None:
    # Each keeps a private std; before COMDAT groups were dissolved, the second
    # module's unwinding data pointed into the first one's discarded copy and its
    # first panic crashed the interpreter.
    first = _bare_rust_sdist(tmp_path, "rustfirst")
    second = _bare_rust_sdist(tmp_path, "rustsecond")
    out = tmp_path / "python"
    result = _build_with(release, out, first, second)
    assert result.returncode == 0, result.stderr
    run = subprocess.run(
        [
            str(out),
            "-c",
            "import rustfirst, rustsecond, sys\n"
            "print(rustfirst.answer, rustsecond.answer, 'rustsecond' in sys.builtin_module_names)",
        ],
        capture_output=True,
        text=True,
        env={},
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["1062", "1062", "True"]


@pytest.mark.build
def test_offline_crate_missing_from_the_cache(tmp_path: Path, release: sources.Release) -> None:
    sdist = make_sdist(
        tmp_path,
        "needscrate-0.1.0",
        {
            "Cargo.toml": '[package]\nname = "needscrate"\nversion = "0.1.0"\nedition = "2021"\n\n'
            '[lib]\ncrate-type = ["cdylib"]\n\n[dependencies]\n'
            # No crate of that name exists: it can never be in the cache.
            'apepy-test-crate-that-is-never-published = "1"\n',
            "pyproject.toml": '[build-system]\nrequires = ["setuptools>=68", "setuptools-rust>=1.7"]\n'
            'build-backend = "setuptools.build_meta"\n\n[project]\nname = "needscrate"\n'
            'version = "0.1.0"\n\n[[tool.setuptools-rust.ext-modules]]\ntarget = "needscrate"\n'
            'binding = "NoBinding"\n',
            "src/lib.rs": "",
        },
    )
    out = tmp_path / "python"
    result = _build_with(release, out, sdist)
    assert result.returncode == 1, result.stderr
    assert "needs crates that are not in apepy's cargo cache" in result.stderr
    assert "without --offline" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.build
def test_rust_link_that_bypasses_the_wrapper_is_named(
    tmp_path: Path, release: sources.Release
) -> None:
    sdist = _bare_rust_sdist(tmp_path, "sneaky", salt=str(time.time_ns()))
    out = tmp_path / "python"
    result = _build_with(release, out, sdist, env={"RUSTFLAGS": f"-Clinker={shutil.which('gcc')}"})
    assert result.returncode == 1, result.stderr
    assert "sneaky: the build made sneaky" in result.stderr
    assert "without going through apepy's compiler wrapper" in result.stderr
    assert "-C linker=" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def _build_with(
    release: sources.Release, out: Path, *sdists: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    with_args = [arg for sdist in sdists for arg in ("--with", str(sdist))]
    return run_apepy(
        "build", "--python", release.version, *with_args, "-o", out, "--offline", env=env
    )


def _maturin_sdist(tmp_path: Path, name: str, rust_version: str = "1.60") -> Path:
    cargo = (
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n'
        f'rust-version = "{rust_version}"\n\n[lib]\ncrate-type = ["cdylib"]\n\n'
        '[dependencies]\npyo3 = { version = "0.22", features = ["extension-module"] }\n'
    )
    pyproject = (
        '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n'
    )
    return make_sdist(
        tmp_path,
        f"{name}-0.1.0",
        {"Cargo.toml": cargo, "pyproject.toml": pyproject, "src/lib.rs": ""},
    )


def test_no_cargo_is_refused_before_any_long_work(tmp_path: Path, release: sources.Release) -> None:
    sdist = _maturin_sdist(tmp_path, "rusty")
    out = tmp_path / "python"
    # PATH as it is, less cargo and rustc: a directory holding them is replaced by a
    # copy of its links without them.
    dirs = []
    for n, entry in enumerate(os.environ["PATH"].split(os.pathsep)):
        folder = Path(entry)
        if not any((folder / tool).exists() for tool in ("cargo", "rustc")):
            dirs.append(entry)
            continue
        shadow = tmp_path / f"path{n}"
        shadow.mkdir()
        for item in folder.iterdir():
            if item.name not in ("cargo", "rustc"):
                (shadow / item.name).symlink_to(item)
        dirs.append(str(shadow))
    started = time.monotonic()
    result = _build_with(release, out, sdist, env={"PATH": os.pathsep.join(dirs)})
    assert result.returncode == 1, result.stderr
    assert "written in Rust, and no Rust toolchain (cargo, rustc) is on PATH" in result.stderr
    assert "rustup" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()
    assert time.monotonic() - started < 60


def test_crate_newer_than_the_toolchain_is_refused(
    tmp_path: Path, release: sources.Release
) -> None:
    sdist = _maturin_sdist(tmp_path, "tomorrow", rust_version="99.0")
    out = tmp_path / "python"
    result = run_apepy("build", "--python", release.version, "--with", sdist, "-o", out)
    assert result.returncode == 1, result.stderr
    assert "tomorrow 0.1.0 needs Rust 99.0 or newer; this cargo is" in result.stderr
    assert "rustup update" in result.stderr
    assert not out.exists()


def test_what_the_base_has_compiled_in_constrains_the_resolution(
    rust_python: Path, tmp_path: Path
) -> None:
    # The newest `needscore` wants a pydantic-core the base does not have; pip must
    # pick the release that fits the base's 2.50.5 (as pydantic's exact pin needs).
    links = tmp_path / "links"
    links.mkdir()
    for version, core in (("1.0", "2.50.5"), ("2.0", "2.99.0")):
        make_wheel(
            links,
            "needscore",
            version,
            {"needscore/__init__.py": f"VERSION = {version!r}\n".encode()},
            requires=(f"pydantic-core=={core}",),
        )
        make_wheel(links, "pydantic_core", core, {"pydantic_core/__init__.py": b""})
    project = make_project(
        tmp_path / "p",
        ["needscore"],
        code="import needscore\ndef main():\n    print(needscore.VERSION)\n",
    )
    out = tmp_path / "app"
    result = run_apepy(
        "bundle", project, "--base", rust_python, "-o", out, "--no-index", "--find-links", links
    )
    assert result.returncode == 0, result.stderr
    run = subprocess.run([str(out)], capture_output=True, text=True, env={}, cwd=tmp_path)
    assert run.stdout.strip() == "1.0", run.stderr


def test_rust_under_cosmo_is_refused_before_any_long_work(
    tmp_path: Path, release: sources.Release
) -> None:
    from conftest import fake_layout

    cosmocc = fake_layout(tmp_path / "cosmocc")
    sdist = _bare_rust_sdist(tmp_path, "portable")
    out = tmp_path / "python.com"
    result = run_apepy(
        "build",
        "--python",
        release.version,
        "--toolchain",
        "cosmo",
        "--arch",
        "x86_64",
        "--cosmocc",
        cosmocc,
        "--with",
        sdist,
        "-o",
        out,
        "--offline",
    )
    assert result.returncode == 1, result.stderr
    assert "written in Rust, which apepy compiles in with the host toolchain only" in result.stderr
    assert "--toolchain host" in result.stderr
    assert not out.exists()
