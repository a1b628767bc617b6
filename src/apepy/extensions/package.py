"""Running a package's own build with apepy's compiler wrapper, and reading what it made.

The build makes an ordinary wheel (pip wheel on the build Python); the wrapper
records, for each extension module it links, the objects that went in. The
wheel gives the pure-Python part and the dotted name of each module.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from apepy import pip, procs, records, toolchains, ui
from apepy.context import Context
from apepy.errors import ApepyError, InternalError
from apepy.extensions import cross, rust
from apepy.extensions.hostpython import HostPython
from apepy.extensions.sdist import Sdist
from apepy.toolchains import Toolchain

_WRAPPER = Path(__file__).with_name("ccwrap.py")
_DRIVER_NAMES = ("cc", "gcc", "clang", "c++", "g++", "clang++")
_EXTENSION_SUFFIXES = (".so", ".pyd")
_CARGO_COMPILING = re.compile(r"^\s*Compiling (\S+ v\S+)")


class Archive(NamedTuple):
    path: str
    whole: bool  # linked with --whole-archive


@dataclass(frozen=True)
class LinkRecord:
    """What the compiler wrapper recorded of one link: its record.json, whose keys are
    these fields, put into the standalone wrapper (write_wrapper) and read strictly."""

    output: str
    sha256: str
    cxx: bool
    objects: tuple[str, ...]
    archives: tuple[Archive, ...]
    libs: tuple[str, ...]
    libdirs: tuple[str, ...]
    shared_inputs: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class WrapperConfig:
    """The compiler wrapper's configuration (ccwrap.json), whose keys are these fields."""

    cc: str
    cxx: str
    ar: str
    # The build Python's include directory, swapped for the target's.
    include_from: str
    include_to: tuple[str, ...]
    # Where each link's record goes.
    collect: str
    # Without shared objects (Cosmopolitan) the records are the product.
    fake_shared: bool


@dataclass(frozen=True)
class Module:
    """One extension module of a package: its dotted name and how it was linked."""

    dotted: str
    wheel_path: str
    link: LinkRecord


@dataclass(frozen=True)
class Built:
    wheel: Path
    modules: tuple[Module, ...]


def jobs_env(jobs: int) -> dict[str, str]:
    """How the build systems a package may use learn ``-j``: make (setuptools' own
    compiles are serial), CMake (scikit-build-core) and cargo."""
    return {
        "MAKEFLAGS": f"-j{jobs}",
        "CMAKE_BUILD_PARALLEL_LEVEL": str(jobs),
        "CARGO_BUILD_JOBS": str(jobs),
    }


def build(
    sdist: Sdist,
    hostpy: HostPython,
    toolchain: Toolchain,
    target_include: tuple[Path, ...],
    work: Path,
    ctx: Context,
    *,
    rust_build: bool = False,
    library_env: Mapping[str, str] | None = None,
    backend: str = "",
    builder: Toolchain | None = None,
) -> Built:
    """Build ``sdist`` into ``work``; every extension module must have a link record.

    ``library_env``: where the build finds the C libraries it looks for
    (``libraries.package_env``); ``backend``: the sdist's build backend;
    ``builder``: the build machine's toolchain (a cross build's native compilers)."""
    log = ctx.log
    bin_dir = work / "bin"
    collect = work / "links"
    wheels = work / "wheels"
    for folder in (bin_dir, collect, wheels):
        folder.mkdir(parents=True, exist_ok=True)
    config = write_wrapper(bin_dir, collect, toolchain, hostpy.include, target_include)
    env = {
        **wrapper_env(bin_dir, config),
        # The toolchain's archiver for static libraries a package builds itself
        # (setuptools' build_clib: Pillow's libpil_imaging_mode.a): fat cosmoar writes
        # the archive's .aarch64/ twin, which a plain ar would not.
        "AR": toolchain.ar,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        # Packages that compile their speedups only when asked (charset-normalizer).
        "CHARSET_NORMALIZER_USE_CYTHON": "1",
        **jobs_env(ctx.jobs),
        **(library_env or {}),
    }
    if rust_build:
        pyo3 = work / "pyo3-config.txt"
        rust.write_pyo3_config(
            pyo3,
            version=hostpy.version,
            pyconfig_h=next(
                d / "pyconfig.h" for d in target_include if (d / "pyconfig.h").is_file()
            ),
            build_python=hostpy.python,
        )
        env.update(rust.build_env(linker=bin_dir / "cc", pyo3_config=pyo3, offline=ctx.offline))
    options: list[str] = []
    machine = toolchains.cross_machine(toolchain)
    if machine is not None:
        options += cross.package_options(sdist.name)
        env.update(cross.package_env(sdist.name, work))
    if not toolchain.shared_objects:
        # The module a CMake build installs is the wrapper's stand-in, not an ELF file:
        # CMake must not rewrite its RPATH (pyzmq adds libzmq's directory to it).
        env["CMAKE_ARGS"] = " ".join(
            filter(None, [os.environ.get("CMAKE_ARGS"), "-DCMAKE_SKIP_INSTALL_RPATH=ON"])
        )
    if machine is not None and backend == "mesonpy":
        cross_ini = work / "cross.ini"
        cross_ini.write_text(
            cross.cross_file(
                machine,
                cc=bin_dir / "cc",
                cxx=bin_dir / "c++",
                ar=toolchain.ar,
                python=hostpy.python,
                pkg_config=env.get("PKG_CONFIG", "pkg-config").split()[0],
            )
        )
        options += cross.meson_options(sdist.name, cross_ini, toolchain)
        if builder is not None:
            env.update(cross.build_env(builder.cc, builder.cxx or builder.cc))
    with ui.phase("extension", f"building {sdist.name} {sdist.version} from its sdist") as st:
        compiled = 0

        def progress(line: str) -> None:
            nonlocal compiled
            crate = _CARGO_COMPILING.match(line)
            name = crate.group(1) if crate else procs.compiled_file(line)
            if name:
                compiled += 1
                st.update(f"{compiled} files · {Path(name).name}")

        start = log.stat().st_size if log.exists() else 0
        try:
            _run_build(sdist, hostpy, wheels, work, log, env, progress, options)
        except ApepyError as exc:
            explained = _explained(exc, sdist, log, offline=ctx.offline)
            if explained is exc:
                explained = _compiler_failure(exc, sdist, toolchain, log, start)
            raise explained from exc
        found = sorted(wheels.glob("*.whl"))
        if len(found) != 1:
            raise InternalError(
                f"building {sdist.name} produced {len(found)} wheels, expected one",
                details=f"full log: {log}",
            )
        modules = _match(found[0], read_records(collect), sdist)
        st.done_text = f"{sdist.name} {sdist.version}: " + (
            ", ".join(m.dotted for m in modules) or "no extension modules"
        )
    return Built(found[0], modules)


def _run_build(
    sdist: Sdist,
    hostpy: HostPython,
    wheels: Path,
    work: Path,
    log: Path,
    env: dict[str, str],
    progress: Callable[[str], None],
    options: list[str],
) -> None:
    procs.run_logged(
        [
            str(hostpy.python),
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-input",
            "--progress-bar",
            "off",
            "-v",
            "-w",
            str(wheels),
            *options,
            str(sdist.path),
        ],
        cwd=work,
        log=log,
        env=env,
        what=f"building {sdist.name} {sdist.version}",
        hint="see the log for the first compiler error; a missing header usually names "
        "a -dev package to install",
        on_line=progress,
    )


def _explained(exc: ApepyError, sdist: Sdist, log: Path, *, offline: bool) -> ApepyError:
    """A failed package build, with the cause named where its output shows it."""
    with open(log, "rb") as handle:
        handle.seek(max(0, log.stat().st_size - 65536))
        text = handle.read().decode("utf-8", "replace")
    if offline and re.search(r"using offline mode|but --offline was specified", text):
        return ApepyError(
            f"{sdist.name} {sdist.version} needs crates that are not in apepy's cargo cache "
            f"({rust.cargo_home()}), and --offline forbids downloading them",
            hint="run the same build once with network access (without --offline); the crates "
            "are kept in the cache for offline rebuilds",
            details=exc.details,
        )
    unserved = re.search(r"No matching distribution found for (\S+)", text)
    # pip says "installing build dependencies did not run successfully" (older pips:
    # "pip subprocess to install build dependencies ...").
    if unserved and re.search(r"install(?:ing)? build dependencies did not run", text):
        return _unserved_build_requirement(sdist, unserved.group(1), log, exc)
    need = re.search(r"requires rustc (\S+) or newer|rustc (\S+) is not supported", text)
    if need:
        return ApepyError(
            f"{sdist.name} {sdist.version} needs Rust {need.group(1) or need.group(2)} or newer",
            hint="update the toolchain (rustup update stable), or pin an older release of "
            f"{sdist.name}",
            details=exc.details,
        )
    return exc


# A compiler's or linker's error line: GCC's and Clang's "file:line[:col]: [fatal ]error:",
# and ld's undefined references.
_COMPILER_ERROR = re.compile(
    r"^[ \t]*(\S[^:\n]*:\d+(?::\d+)?: (?:fatal )?error: .+|\S.*: undefined reference to .+)$",
    re.M,
)


def first_compiler_error(text: str) -> str | None:
    """The first compiler or linker error in a build's output, as one line."""
    # pip -v indents the backend's output.
    found = _COMPILER_ERROR.search(text)
    return found.group(1).strip() if found else None


def _compiler_failure(
    exc: ApepyError, sdist: Sdist, toolchain: Toolchain, log: Path, start: int
) -> ApepyError:
    """A package build that failed compiling: its first compiler error, in one line."""
    with open(log, "rb") as handle:
        handle.seek(start)
        first = first_compiler_error(handle.read().decode("utf-8", "replace"))
    if first is None:
        return exc
    return ApepyError(
        f"{sdist.name} {sdist.version} does not build with {toolchain.compiler_version}: {first}",
        hint=f"the full output is in {log}; the package's code (or a library it needs) does "
        f"not compile for this target: leave it out (drop --with {sdist.name})",
        details=exc.details,
    )


def _unserved_build_requirement(
    sdist: Sdist, requirement: str, log: Path, exc: ApepyError
) -> ApepyError:
    """The package's build requirement ``requirement`` has no version on the index: name
    it, and the newest older release whose build requirements the index serves."""
    answer = pip.run_module("apepy.extensions.buildreqs", [sdist.name, sdist.version], log)
    try:
        older = json.loads(answer).get("version") if answer else None
    except (ValueError, AttributeError):
        older = None
    pin = (
        f"pin the newest release whose build requirements it serves: --with {sdist.name}=={older}"
        if isinstance(older, str)
        else f"no older release of {sdist.name} on it has build requirements it serves"
    )
    return ApepyError(
        f"{sdist.name} {sdist.version} needs {requirement} to build, and the package index "
        "has no version of it that fits",
        hint=f"make {requirement} available on the index (or --find-links), or {pin}",
        details=exc.details,
    )


def write_wrapper(
    bin_dir: Path,
    collect: Path,
    toolchain: Toolchain,
    include_from: Path,
    include_to: tuple[Path, ...],
) -> Path:
    """Install the wrapper as cc/c++/... in ``bin_dir``; return its configuration file."""
    wrapper = bin_dir / "apepy-ccwrap"
    wrapper.write_text(f"#!{sys.executable} -I\n" + wrapper_source())
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for name in _DRIVER_NAMES:
        (bin_dir / name).symlink_to(wrapper.name)
    config = bin_dir.parent / "ccwrap.json"
    settings = WrapperConfig(
        cc=toolchain.cc,
        cxx=toolchain.cxx or toolchain.cc,
        ar=toolchain.ar,
        include_from=str(include_from),
        include_to=tuple(str(p) for p in include_to),
        collect=str(collect),
        fake_shared=not toolchain.shared_objects,
    )
    config.write_text(records.to_json(settings))
    return config


def wrapper_source() -> str:
    """ccwrap.py with the keys of its configuration and its records put in."""
    text = _WRAPPER.read_text(encoding="utf-8")
    for name, cls in (("CONFIG_FIELDS", WrapperConfig), ("RECORD_FIELDS", LinkRecord)):
        line = f"{name}: tuple[str, ...] = ()\n"
        if text.count(line) != 1:
            raise InternalError(f"ccwrap.py has no line {line.strip()!r} to put the keys in")
        text = text.replace(line, f"{name} = {records.fields(cls)!r}\n")
    return text


def wrapper_env(bin_dir: Path, config: Path) -> dict[str, str]:
    """What a package build needs to see so that every compiler call goes through the wrapper."""
    return {
        "APEPY_CCWRAP": str(config),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "CC": str(bin_dir / "cc"),
        "CXX": str(bin_dir / "c++"),
        "LDSHARED": f"{bin_dir / 'cc'} -shared",
        "LDCXXSHARED": f"{bin_dir / 'c++'} -shared",
    }


def read_records(collect: Path) -> list[LinkRecord]:
    found = []
    for path in sorted(collect.glob("link-*/record.json")):
        try:
            found.append(
                records.from_json(LinkRecord, path.read_text(encoding="utf-8"), strict=True)
            )
        except (ValueError, TypeError) as exc:
            raise InternalError(
                f"the compiler wrapper's record {path} is not what apepy reads: {exc}"
            ) from exc
    return found


def dotted_name(wheel_path: str) -> str:
    """`markupsafe/_speedups.cpython-313-x86_64-linux-gnu.so` → `markupsafe._speedups`."""
    parts = wheel_path.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in ("purelib", "platlib"):
        wheel_path = "/".join(parts[2:])
    parent, _, filename = wheel_path.rpartition("/")
    stem = filename.split(".", 1)[0]
    return ".".join([*(parent.split("/") if parent else []), stem])


def _match(wheel: Path, records: list[LinkRecord], sdist: Sdist) -> tuple[Module, ...]:
    by_hash = {r.sha256: r for r in records}
    modules = []
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            name = info.filename
            if not name.endswith(_EXTENSION_SUFFIXES) and ".so." not in name:
                continue
            digest = hashlib.sha256(archive.read(info)).hexdigest()
            record = by_hash.get(digest) or _by_name(records, name)
            if record is None:
                raise ApepyError(
                    f"{sdist.name}: the build made {name} without going through apepy's "
                    "compiler wrapper",
                    hint="the package's build uses a compiler or linker apepy does not intercept "
                    "(a hard-coded path, a prebuilt binary, or for Rust a `-C linker=` in "
                    "RUSTFLAGS or the package's .cargo/config.toml); it cannot be linked in",
                )
            modules.append(Module(dotted_name(name), name, record))
    return tuple(sorted(modules, key=lambda m: m.dotted))


def _by_name(records: list[LinkRecord], wheel_name: str) -> LinkRecord | None:
    base = wheel_name.rsplit("/", 1)[-1]
    # cargo names a cdylib lib<crate>.so; maturin and setuptools-rust rename it.
    names = {base, f"lib{base.split('.', 1)[0]}.so"}
    same = [r for r in records if Path(r.output).name in names]
    return same[-1] if len(same) >= 1 else None


def copy_wheel(built: Built, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / built.wheel.name
    shutil.copyfile(built.wheel, target)
    return target
