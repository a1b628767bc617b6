"""The commands and environment a library's build runs, from its table entry and the
toolchain's fields: the recipes assemble these."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from apepy import procs
from apepy.deps.table import Library
from apepy.toolchains import Toolchain

# The fat object layout of cosmocc/cosmoar: the aarch64 twin of lib/libz.a is lib/.aarch64/libz.a.
FAT_TWIN_DIR = ".aarch64"

# The release's date, for builds that stamp one in (OpenSSL's "built on"), so two
# builds of the same tarball give the same bytes. Written by the builder when it unpacks.
EPOCH_FILE = ".apepy-source-date-epoch"


def compile_flags(lib: Library, tc: Toolchain, tree: Path) -> list[str]:
    """CFLAGS for ``lib``: upstream's usual -O2, the toolchain's position-independence
    flags, the library's own for this family, and the build directory mapped away from
    debug info and ``__FILE__``."""
    return [
        "-O2",
        *tc.pic_flags,
        *lib.options_for(tc.family).cflags,
        *tc.cflags,
        f"-ffile-prefix-map={tree}=.",
    ]


def build_env(lib: Library, tc: Toolchain, root: Path, tree: Path) -> dict[str, str]:
    """The environment for configure and make: the toolchain's tools, and the sysroot
    (only the sysroot) for headers, libraries and pkg-config."""
    include = root / "include"
    env = {
        "CC": tc.cc,
        "AR": tc.ar,
        "RANLIB": tc.ranlib,
        "CFLAGS": " ".join(compile_flags(lib, tc, tree)),
        "CPPFLAGS": " ".join(
            [f"-I{include}", *(f"-I{include / d}" for d in lib.include_dirs), *lib.defines]
        ),
        "LDFLAGS": " ".join([f"-L{root / 'lib'}", *tc.ldflags]),
        "PKG_CONFIG_LIBDIR": str(root / "lib" / "pkgconfig"),
        "PKG_CONFIG_PATH": "",
    }
    epoch = tree / EPOCH_FILE
    if epoch.is_file():
        env["SOURCE_DATE_EPOCH"] = epoch.read_text().strip()
    if tc.install:
        env["INSTALL"] = tc.install
    return env


def configure_command(lib: Library, tc: Toolchain, root: Path) -> list[str]:
    """The ``./configure`` command line of an autoconf library."""
    args = [
        "./configure",
        f"--prefix={root}",
        *lib.static_args,
        *(a.replace("{sysroot}", str(root)) for a in lib.configure_args),
    ]
    if lib.per_arch and tc.triplet:
        # A library that picks its sources by the host triplet (libffi's assembly) must
        # not take config.guess's answer (the build machine) when the compiler is
        # another architecture's. configure then runs no test programs (superconfigure
        # leaves --host out for the others and runs their probes natively).
        args.append(f"--host={tc.triplet}")
    return [*args, *lib.options_for(tc.family).configure_args]


def make_variables(lib: Library, tc: Toolchain) -> list[str]:
    """Variables passed on make's command line."""
    build_cc = shutil.which("cc") or "cc"
    return [a.replace("{build_cc}", build_cc) for a in lib.options_for(tc.family).make_args]


def run(cmd: list[str], tree: Path, log: Path, env: dict[str, str], what: str) -> None:
    procs.run_logged(
        cmd, cwd=tree, log=log, env=env, what=what, hint="see the log for the compiler's error"
    )


def install_file(src: Path, dest: Path) -> None:
    """Copy one built file into the sysroot, with its fat-build aarch64 twin if there is one."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    os.chmod(dest, 0o644)
    twin = src.parent / FAT_TWIN_DIR / src.name
    if twin.is_file():
        install_file(twin, dest.parent / FAT_TWIN_DIR / dest.name)


def write_pkgconfig(root: Path, name: str, description: str, version: str, libs: str) -> None:
    """A pkg-config file for a library whose build writes none."""
    pc = root / "lib" / "pkgconfig" / f"{name}.pc"
    pc.parent.mkdir(parents=True, exist_ok=True)
    pc.write_text(
        f"prefix={root}\nlibdir=${{prefix}}/lib\nincludedir=${{prefix}}/include\n\n"
        f"Name: {name}\nDescription: {description}\nVersion: {version}\n"
        f"Libs: -L${{libdir}} {libs}\nCflags: -I${{includedir}}\n"
    )
