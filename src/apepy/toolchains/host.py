"""The host's own C compiler, producing a fully static executable for this machine."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from apepy.errors import ApepyError
from apepy.toolchains.toolchain import CrossMachine, Options, Toolchain

OUTPUT_KIND: str = "elf-static"

_NO_COMPILER_HINT = (
    "install a C compiler and make (Debian/Ubuntu: apt-get install build-essential), "
    "or point CC at one"
)


def _find(env: str, *names: str) -> str | None:
    chosen = os.environ.get(env)
    if chosen:
        return shutil.which(chosen.split()[0])
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def detect(options: Options) -> Toolchain:
    if options.arch not in (None, platform.machine()):
        raise ApepyError(
            f"the host toolchain builds for this machine ({platform.machine()}), "
            f"not {options.arch}",
            hint=f"drop --arch, or build a portable file with --toolchain cosmo --arch {options.arch}",
        )
    if options.cosmocc is not None:
        raise ApepyError(
            "--cosmocc applies to --toolchain cosmo only", hint="add --toolchain cosmo"
        )
    libraries = options.libraries or "system"
    if not sys.platform.startswith("linux"):
        raise ApepyError(
            f"the host toolchain makes fully static executables on Linux only, not on {sys.platform}",
            hint="build on Linux, or use the Cosmopolitan toolchain (--toolchain cosmo) for a portable file",
        )
    cc = _find("CC", "cc", "gcc", "clang")
    if cc is None:
        raise ApepyError(
            "no C compiler found (looked for $CC, cc, gcc, clang)", hint=_NO_COMPILER_HINT
        )
    if shutil.which("make") is None:
        raise ApepyError("make is not installed", hint=_NO_COMPILER_HINT)
    version = _compiler_version(cc)
    _check_static_link(cc)
    machine = platform.machine().lower()
    return Toolchain(
        family="host",
        cc=cc,
        cxx=_find("CXX", "c++", "g++", "clang++"),
        ar=_find("AR", "ar") or "ar",
        ranlib=_find("RANLIB", "ranlib") or "ranlib",
        strip=_find("STRIP", "strip"),
        compiler_version=version,
        target=sysconfig.get_platform(),
        arch={"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine),
        ldflags=("-static",),
        # From source, line editing is libedit (BSD), as under cosmo: see apepy/deps.
        configure_args=("--with-readline=editline",) if libraries == "source" else (),
        configure_env={
            "MODULE_BUILDTYPE": "static",
            "LINKFORSHARED": " ",
            # --static makes pkg-config name each library's own dependencies
            # (tinfo for readline, ...), which a static link needs.
            "PKG_CONFIG": "pkg-config --static",
        },
        objcopy=_find("OBJCOPY", "objcopy"),
        nm=_find("NM", "nm"),
        libraries=libraries,
    )


def _compiler_version(cc: str) -> str:
    try:
        result = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ApepyError(
            f"the C compiler {cc} does not run: {exc}", hint=_NO_COMPILER_HINT
        ) from exc
    return result.stdout.splitlines()[0].strip() if result.stdout else cc


def _check_static_link(cc: str) -> None:
    with tempfile.TemporaryDirectory(prefix="apepy-cc-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("int main(void) { return 0; }\n")
        result = subprocess.run(
            [cc, "-static", "-o", str(Path(tmp) / "probe"), str(src)],
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise ApepyError(
            f"the C compiler {cc} cannot link a static executable",
            hint="install the static C library (Debian/Ubuntu: apt-get install libc6-dev)",
            details=result.stderr.strip()[-2000:] or None,
        )


def system_library(toolchain: Toolchain, filename: str) -> Path | None:
    """Ask the compiler where it would find ``filename`` (e.g. ``libssl.a``)."""
    try:
        result = subprocess.run(
            [toolchain.cc, f"-print-file-name={filename}"], capture_output=True, text=True
        )
    except OSError:
        return None
    found = result.stdout.strip()
    # The compiler echoes the bare name when it does not find the file.
    if result.returncode != 0 or not os.path.isabs(found) or not Path(found).is_file():
        return None
    return Path(found)


def for_arch(toolchain: Toolchain, arch: str) -> Toolchain:
    raise ApepyError(
        f"the host toolchain builds for this machine ({toolchain.arch}), not {arch}",
        hint=f"build a portable file with --toolchain cosmo --arch {arch}",
    )


def runs_linux_wheels(platform: str) -> bool:
    return platform.startswith("linux")


def cross_machine(toolchain: Toolchain) -> CrossMachine | None:
    return None


def cxx_runtime(toolchain: Toolchain) -> tuple[str, ...]:
    return ("-lstdc++",)
