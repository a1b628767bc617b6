"""`apepy doctor`: what apepy would use on this machine, and what is missing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from apepy import cache, deps, sources, toolchains, ui
from apepy.errors import ApepyError
from apepy.extensions import rust
from apepy.toolchains import cosmo, host
from apepy.toolchains.toolchain import Toolchain


def _row(ok: bool | None, what: str, detail: str) -> None:
    mark = {True: "[green]✓[/]", False: "[red]✗[/]", None: "[yellow]-[/]"}[ok]
    ui.info(f"{what}: {detail}", mark=mark)


def _optimize_row(tc: Toolchain) -> None:
    """--optimize needs GCC, and an ``ar`` that indexes GCC's slim LTO objects (through
    the LTO plugin binutils loads from its bfd-plugins directory): tried on a probe."""
    what = "--optimize (PGO + LTO)"
    if "clang" in tc.compiler_version.lower():
        _row(None, what, f"needs GCC; {tc.cc} is Clang")
        return
    with tempfile.TemporaryDirectory() as tmp:
        src, obj, lib = Path(tmp, "probe.c"), Path(tmp, "probe.o"), Path(tmp, "libprobe.a")
        src.write_text("int apepy_lto_probe(void) { return 1; }\n")
        steps = (
            [tc.cc, "-O2", "-flto", "-fno-fat-lto-objects", "-c", str(src), "-o", str(obj)],
            [tc.ar, "rcs", str(lib), str(obj)],
            [tc.nm or "nm", "--print-armap", str(lib)],
        )
        out = ""
        for cmd in steps:
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                break
            out = done.stdout
            if done.returncode != 0:
                break
    # The archive's own index (what the linker reads), not the members' symbols after it.
    index = out.partition("Archive index:")[2].split("\n\n", 1)[0]
    if "apepy_lto_probe in" in index:
        _row(True, what, "GCC's LTO objects are archived and indexed")
    else:
        _row(
            False,
            what,
            f"{tc.ar} cannot index GCC's LTO objects: put GCC's liblto_plugin.so where "
            "binutils looks (/usr/lib/bfd-plugins/; Debian's gcc package does), or build "
            "without --optimize",
        )


def run(cosmocc: Path | None) -> int:
    host_ok = True
    try:
        tc = host.detect(toolchains.Options())
        _row(True, "host toolchain", f"{tc.cc} ({tc.compiler_version}), static linking works")
        for name, found in (("objcopy", tc.objcopy), ("nm", tc.nm)):
            _row(
                bool(found), name, found or "missing: apt-get install binutils (needed for --with)"
            )
        _optimize_row(tc)
    except ApepyError as exc:
        host_ok = False
        _row(False, "host toolchain", f"{exc.message} ({exc.hint})")
    found_rust = rust.find()
    _row(
        found_rust is not None or None,
        "Rust (for --with of Rust packages)",
        f"rustc {found_rust.version} ({found_rust.cargo}); crates cached in {rust.cargo_home()}"
        if found_rust
        else "no cargo/rustc on PATH: install with rustup (see rustup.rs)",
    )
    try:
        root, version = cosmo.locate(cosmocc, offline=True)
        _row(True, "cosmocc", f"{version} at {root}")
    except ApepyError as exc:
        _row(None, "cosmocc", f"{exc.message}; {exc.hint}")
    if Path("/proc/sys/fs").is_dir():
        # cosmocc's ape/apeinstall.sh registers the loader under these names.
        registered = any(Path("/proc/sys/fs/binfmt_misc", n).exists() for n in ("APE", "APE-jart"))
        _row(
            True if registered else None,
            "APE loader",
            "registered with binfmt_misc: an APE runs like any program"
            if registered
            else "not registered with binfmt_misc: an APE runs through a shell "
            "(./python.com from sh or bash, or sh python.com; apepy does that itself)",
        )
    for arch in ("aarch64", "x86_64"):
        try:
            runner = cosmo.qemu_for(arch)
            _row(
                True,
                f"--arch {arch}",
                f"test programs run {'under ' + runner if runner else 'natively'}",
            )
        except ApepyError as exc:
            _row(None, f"--arch {arch}", f"{exc.message} ({exc.hint})")
    tarballs = sorted(
        r.version for r in sources.RELEASES if (cache.cache_dir("sources") / r.filename).is_file()
    )
    _row(
        bool(tarballs) or None,
        "CPython sources in the cache",
        ", ".join(tarballs) or "none (apepy build downloads them; offline: --source FILE)",
    )
    store = cache.cache_dir("sources", "deps")
    libs = [lib for lib in deps.LIBRARIES.values() if (store / lib.filename).is_file()]
    absent = [lib.name for lib in deps.LIBRARIES.values() if lib not in libs]
    _row(
        not absent or None,
        "C library sources (cosmo toolchain)",
        f"{len(libs)} of {len(deps.LIBRARIES)} in {store}"
        + (f"; missing: {', '.join(absent)} (downloaded when needed)" if absent else ""),
    )
    free = shutil.disk_usage(cache.cache_root()).free
    _row(free > 2_000_000_000, "cache", f"{cache.cache_root()} ({free / 1e9:.1f} GB free)")
    return 0 if host_ok else 1
