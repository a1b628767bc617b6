"""A package's build for a toolchain whose programs are not the build machine's: a
meson cross file, and the options a package needs for that target.

meson runs what it compiles to check the compiler; when the target is another machine
(an APE, which Linux's execve refuses), only a cross build knows to run those programs
through the toolchain's runner, and the build machine's compiler (``*_FOR_BUILD``) is
then the host's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name

from apepy.toolchains import CrossMachine, Toolchain

# Options a package's meson.build needs for a target, by package and by what the
# target lacks. A fat build compiles each file for x86_64 and aarch64 at once, so
# per-architecture code selected at configure time (numpy's SIMD dispatch, which
# passes -mavx2 and friends, and SVML's x86_64 assembly) cannot be built: numpy
# then builds its portable C loops, as on a CPU without SIMD.
_FAT_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "numpy": ("-Ddisable-optimization=true", "-Ddisable-svml=true"),
}
# Packages that pick per-architecture code by the host's CPU family alone, with no
# option to leave it out (pandas: xsimd's SSE2 on x86_64, NEON on aarch64): in a fat
# build they are told the CPU is neither, and build their portable code.
_FAT_NEITHER_CPU = frozenset({"pandas"})
_NEITHER_CPU = "[host_machine]\ncpu_family = 'unknown'\ncpu = 'unknown'\n"
# pip's options for a package that looks for libraries in the build machine's own
# directories: Pillow adds /usr/include and /usr/lib, finds the host's libxcb there
# and compiles against glibc's headers; without that guessing it takes what
# pkg-config (the sysroot's .pc files) names.
_PACKAGE_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "pillow": ("--config-settings=platform-guessing=disable",),
}
# A header forced into every compile of a package, for a name it defines that the
# target's libc declares too: Cosmopolitan's <math.h> declares powi(double, int),
# Pillow's _imagingmath.c defines its own static powi(int, int). Renamed after
# <math.h> (whose guard keeps the libc's declaration as it is), Pillow's is its own.
_PACKAGE_PRELUDES: Mapping[str, str] = {
    "pillow": "#include <math.h>\n#define powi apepy_pillow_powi\n",
}


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cross_file(
    machine: CrossMachine, *, cc: Path, cxx: Path, ar: str, python: Path, pkg_config: str
) -> str:
    """A meson cross file for ``machine``: the wrapped compilers, the toolchain's
    archiver, and the build Python (meson asks it for the extension's suffix)."""
    lines = [
        "[binaries]",
        f"c = {_quoted(str(cc))}",
        f"cpp = {_quoted(str(cxx))}",
        f"ar = {_quoted(ar)}",
        f"python = {_quoted(str(python))}",
        f"python3 = {_quoted(str(python))}",
        f"pkg-config = {_quoted(pkg_config)}",
    ]
    if machine.exe_wrapper:
        lines.append("exe_wrapper = [" + ", ".join(_quoted(a) for a in machine.exe_wrapper) + "]")
    lines += [
        "",
        "[properties]",
        # The toolchain's programs run here (through exe_wrapper or directly).
        f"needs_exe_wrapper = {'true' if machine.exe_wrapper else 'false'}",
        "",
        "[host_machine]",
        f"system = {_quoted(machine.system)}",
        f"cpu_family = {_quoted(machine.cpu_family)}",
        f"cpu = {_quoted(machine.cpu_family)}",
        f"endian = {_quoted(machine.endian)}",
        "",
    ]
    return "\n".join(lines)


def package_options(name: str) -> list[str]:
    """pip's options for ``name``'s build for another machine, whatever its backend."""
    return list(_PACKAGE_OPTIONS.get(canonicalize_name(name), ()))


def package_env(name: str, work: Path) -> dict[str, str]:
    """The environment ``name``'s build for another machine adds (its prelude header,
    written into ``work``, through CFLAGS)."""
    prelude = _PACKAGE_PRELUDES.get(canonicalize_name(name))
    if prelude is None:
        return {}
    header = work / "apepy-prelude.h"
    header.write_text(prelude)
    return {"CFLAGS": f"-include {header}"}


def meson_options(name: str, cross: Path, toolchain: Toolchain) -> list[str]:
    """pip's ``--config-settings`` for meson-python: the cross file, and the package's
    own options for this target."""
    args = [f"--cross-file={cross}"]
    if toolchain.fat:
        args += _FAT_OPTIONS.get(canonicalize_name(name), ())
        if canonicalize_name(name) in _FAT_NEITHER_CPU:
            # A later cross file overrides an earlier one's keys.
            neither = cross.with_name("neither-cpu.ini")
            neither.write_text(_NEITHER_CPU)
            args.append(f"--cross-file={neither}")
    return [f"--config-settings=setup-args={a}" for a in args]


def build_env(build_cc: str, build_cxx: str) -> dict[str, str]:
    """The build machine's compilers, for meson's native side of a cross build: the
    host's own (meson checks them by running what they make)."""
    return {"CC_FOR_BUILD": build_cc, "CXX_FOR_BUILD": build_cxx}
