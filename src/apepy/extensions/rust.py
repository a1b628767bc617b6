"""Rust extension packages (PyO3 via maturin or setuptools-rust): cargo, its cache, PyO3's view.

The package's own build drives cargo unchanged. apepy only makes sure that:
cargo links through the compiler wrapper (so the cdylib's objects and `.rlib`s are
recorded like any C extension's), PyO3 is told the static target tree's version
and ABI flags, downloaded crates live in apepy's cache (offline rebuilds work), and
a toolchain that cannot build the crate is refused before anything long runs.
"""

from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from apepy import cache
from apepy.errors import ApepyError

_RUSTUP_HINT = "install Rust with rustup (see rustup.rs), or put cargo and rustc on PATH"


@dataclass(frozen=True)
class Rust:
    cargo: str
    rustc: str
    version: Version
    # `rustc -vV`: the exact compiler, part of every Rust package's cache key.
    identity: str


@functools.cache
def find() -> Rust | None:
    """cargo and rustc on PATH, asked once per run (prepare, cache keys, doctor)."""
    cargo = shutil.which("cargo")
    rustc = shutil.which("rustc")
    if cargo is None or rustc is None:
        return None
    try:
        out = subprocess.run(
            [rustc, "-vV"], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"^release:\s*(\S+)", out, re.MULTILINE)
    if found is None:
        return None
    try:
        version = Version(found.group(1).split("-")[0])
    except InvalidVersion:
        return None
    return Rust(cargo, rustc, version, out.strip())


def require(package: str, rust_version: str | None) -> Rust:
    """The Rust toolchain, able to build ``package`` (whose crate asks for ``rust_version``)."""
    rust = find()
    if rust is None:
        raise ApepyError(
            f"{package} is written in Rust, and no Rust toolchain (cargo, rustc) is on PATH",
            hint=_RUSTUP_HINT,
        )
    if rust_version:
        try:
            needed = Version(rust_version)
        except InvalidVersion:
            needed = None
        if needed is not None and rust.version < needed:
            raise ApepyError(
                f"{package} needs Rust {rust_version} or newer; this cargo is {rust.version}",
                hint="update the toolchain (rustup update stable), or pin an older release of "
                f"{package} that supports Rust {rust.version}",
            )
    return rust


def rust_version(cargo_toml: str) -> str | None:
    """The `rust-version` (MSRV) a Cargo.toml declares for its package or workspace."""
    import tomllib

    try:
        data = tomllib.loads(cargo_toml)
    except tomllib.TOMLDecodeError:
        return None
    for table in (data.get("package", {}), data.get("workspace", {}).get("package", {})):
        value = table.get("rust-version") if isinstance(table, dict) else None
        if isinstance(value, str):
            return value
    return None


def target_triple() -> str:
    return f"{platform.machine()}-unknown-linux-gnu"


def build_env(*, linker: Path, pyo3_config: Path, offline: bool) -> dict[str, str]:
    """What cargo (under maturin or setuptools-rust) sees during a package's build."""
    home = cargo_home()
    triple = target_triple().upper().replace("-", "_")
    env = {
        # Downloaded crates and the registry index live in apepy's cache, so a
        # second build (or an offline one) fetches nothing.
        "CARGO_HOME": str(home),
        # Explicit, so a linker named in the package's .cargo/config.toml cannot
        # bypass the wrapper (environment beats config files).
        f"CARGO_TARGET_{triple}_LINKER": str(linker),
        "PYO3_CONFIG_FILE": str(pyo3_config),
        # Plain text in apepy's build log.
        "CARGO_TERM_COLOR": "never",
    }
    if offline:
        env["CARGO_NET_OFFLINE"] = "true"
    return env


def cargo_home() -> Path:
    home = cache.cache_dir("cargo")
    # The user's cargo configuration (registry mirrors, proxies) still applies.
    user_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    for name in ("config.toml", "config"):
        mine, theirs = home / name, user_home / name
        if theirs.is_file() and theirs.resolve() != mine.resolve():
            shutil.copyfile(theirs, mine)
    return home


def write_pyo3_config(path: Path, *, version: str, pyconfig_h: Path, build_python: Path) -> None:
    """PyO3's interpreter configuration, read from the static target tree.

    Without it PyO3 asks whichever python it finds; this states the target's own
    version and ABI flags. `shared=false` and suppressed link lines: the module is
    linked into the interpreter, never against a libpython.
    """
    header = pyconfig_h.read_text(encoding="utf-8", errors="replace")
    flags = [
        flag
        for flag in ("Py_DEBUG", "Py_REF_DEBUG", "Py_TRACE_REFS", "COUNT_ALLOCS", "Py_GIL_DISABLED")
        if re.search(rf"^#define {flag}\b", header, re.MULTILINE)
    ]
    series = ".".join(version.split(".")[:2])
    lines = [
        "implementation=CPython",
        f"version={series}",
        "shared=false",
        "abi3=false",
        f"lib_name=python{series}",
        f"executable={build_python}",
        "pointer_width=64",
        f"build_flags={','.join(flags)}",
        "suppress_build_script_link_lines=true",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
