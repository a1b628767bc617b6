"""A CMake project: configured out of tree with the toolchain's compilers, built and
installed with CMake's own driver."""

from __future__ import annotations

import shutil
from pathlib import Path

from apepy.deps.commands import FAT_TWIN_DIR, build_env, install_file, run
from apepy.deps.table import Library
from apepy.errors import ApepyError
from apepy.toolchains import Toolchain


def configure_command(lib: Library, tc: Toolchain, root: Path, tree: Path) -> list[str]:
    env = build_env(lib, tc, root, tree)
    flags = f"{env['CFLAGS']} {env['CPPFLAGS']}"
    return [
        "cmake",
        "-S",
        str(tree),
        "-B",
        str(tree / "apepy-build"),
        "-G",
        "Unix Makefiles",
        "-DCMAKE_BUILD_TYPE=Release",
        f"-DCMAKE_INSTALL_PREFIX={root}",
        # Not lib64 or a multiarch directory: the sysroot has one lib/. Absolute:
        # libjpeg-turbo resolves a relative one against its build directory.
        f"-DCMAKE_INSTALL_LIBDIR={root / 'lib'}",
        f"-DCMAKE_PREFIX_PATH={root}",
        f"-DCMAKE_C_COMPILER={tc.cc}",
        f"-DCMAKE_CXX_COMPILER={tc.cxx or tc.cc}",
        f"-DCMAKE_AR={tc.ar}",
        f"-DCMAKE_RANLIB={tc.ranlib}",
        f"-DCMAKE_C_FLAGS={flags}",
        f"-DCMAKE_CXX_FLAGS={flags}",
        f"-DCMAKE_EXE_LINKER_FLAGS={env['LDFLAGS']}",
        "-DBUILD_SHARED_LIBS=OFF",
        *lib.static_args,
        *(a.replace("{sysroot}", str(root)) for a in lib.configure_args),
        *lib.options_for(tc.family).configure_args,
    ]


def build(lib: Library, tc: Toolchain, tree: Path, root: Path, log: Path, jobs: int) -> None:
    if shutil.which("cmake") is None:
        raise ApepyError(
            f"building {lib.name} needs CMake, which is not installed",
            hint="install it (Debian/Ubuntu: apt-get install cmake)",
        )
    env = build_env(lib, tc, root, tree)
    out = tree / "apepy-build"
    run(configure_command(lib, tc, root, tree), tree, log, env, f"configure {lib.name}")
    run(["cmake", "--build", str(out), f"-j{jobs}"], tree, log, env, f"make {lib.name}")
    run(["cmake", "--install", str(out)], tree, log, env, f"install {lib.name}")
    if tc.fat:
        # CMake installs the archives it built, not the .aarch64/ twins fat cosmoar
        # writes beside them (cosmoinstall would): those go in here. Found by the fat
        # extension test (libjpeg-turbo).
        for product in lib.products:
            twins = sorted(out.rglob(f"{FAT_TWIN_DIR}/{product}"))
            if twins:
                install_file(twins[0], root / "lib" / FAT_TWIN_DIR / product)
