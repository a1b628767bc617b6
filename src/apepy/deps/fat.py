"""Fat cosmocc's layout: one sysroot carrying x86_64 and aarch64 archives and headers.

fat cosmocc with ``cosmoar`` and ``INSTALL=cosmoinstall`` writes each archive's
aarch64 twin to ``lib/.aarch64/``, and links ``-Ldir`` as ``-Ldir/.aarch64`` for
aarch64 (cosmocc's README and script). fat cosmocc refuses assembly, so a library
with assembly (OpenSSL, libffi: ``per_arch``) is built once per architecture and
merged into that layout. Run with a locally built fat cosmocc (README, "Verified on").
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from apepy import toolchains
from apepy.deps.commands import FAT_TWIN_DIR, install_file
from apepy.deps.table import Library
from apepy.errors import ApepyError
from apepy.toolchains import Toolchain

FAT_ARCHES = ("x86_64", "aarch64")
# Where a fat sysroot keeps the headers that differ between the two architectures.
ARCH_HEADERS = ".apepy-arch"

# Builds one library into one sysroot: (lib, toolchain, source, work, root, log, jobs).
BuildInto = Callable[[Library, Toolchain, Path, Path, Path, Path, int], None]


def build_per_arch(
    lib: Library,
    tc: Toolchain,
    source: Path,
    work: Path,
    root: Path,
    log: Path,
    jobs: int,
    build_into: BuildInto,
) -> None:
    """Build ``lib`` with each architecture's compiler into a staging sysroot, and merge
    the two into ``root``."""
    if lib.requires:
        raise ApepyError(
            f"{lib.name}: a per-architecture build cannot use other libraries yet",
            hint="build with --arch x86_64 or --arch aarch64",
        )
    stages: dict[str, Path] = {}
    for name in FAT_ARCHES:
        stage = work / f"sysroot-{name}"
        (work / name).mkdir(parents=True)
        stage.mkdir()
        build_into(lib, toolchains.for_arch(tc, name), source, work / name, stage, log, jobs)
        stages[name] = stage
    merge_fat(stages["x86_64"], stages["aarch64"], root)


def merge_fat(x86_64: Path, aarch64: Path, root: Path) -> None:
    """Merge two single-architecture sysroots into ``root`` in cosmocc's fat layout.

    Archives: x86_64's in ``lib/``, aarch64's twin in ``lib/.aarch64/``. Headers that
    are the same for both are copied; one that differs goes to
    ``include/.apepy-arch/<arch>/`` under both architectures, and ``include/`` gets a
    header that includes the right one, because fat cosmocc compiles every file twice
    with the same include path. pkg-config files are x86_64's, with the staging path
    replaced by the sysroot's.
    """
    for src in sorted(p for p in x86_64.rglob("*") if p.is_file()):
        rel = src.relative_to(x86_64)
        dest = root / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        other = aarch64 / rel
        if rel.parts[0] == "lib" and src.suffix == ".a":
            if not other.is_file():
                raise ApepyError(f"the aarch64 build installed no {rel}", hint="see the build log")
            shutil.copy2(src, dest)
            install_file(other, dest.parent / FAT_TWIN_DIR / dest.name)
        elif src.suffix == ".pc":
            dest.write_text(src.read_text(encoding="utf-8").replace(str(x86_64), str(root)))
        elif rel.parts[0] == "include" and not (
            other.is_file() and other.read_bytes() == src.read_bytes()
        ):
            inner = Path(*rel.parts[1:])
            variants = {name: root / "include" / ARCH_HEADERS / name / inner for name in FAT_ARCHES}
            for name, base in (("x86_64", x86_64), ("aarch64", aarch64)):
                if (base / rel).is_file():
                    install_file(base / rel, variants[name])
            dest.write_text(_dispatch_header(dest, variants))
        else:
            shutil.copy2(src, dest)


def _dispatch_header(dest: Path, variants: dict[str, Path]) -> str:
    def include(name: str) -> str:
        if not variants[name].is_file():
            return f'#error "{dest.name} does not exist for {name}"\n'
        return f'#include "{os.path.relpath(variants[name], dest.parent)}"\n'

    return (
        "/* apepy: this header differs between x86_64 and aarch64; fat cosmocc compiles\n"
        "   every file once for each with the same include path. */\n"
        "#if defined(__aarch64__)\n"
        f"{include('aarch64')}"
        "#else\n"
        f"{include('x86_64')}"
        "#endif\n"
    )
