"""--optimize's pieces that need no build: the final LTO flags, the Makefile rewrite, the
clean that keeps step 1's frozen modules, and doctor's check of the LTO archiving
(tests/test_optimize.py builds for real)."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from conftest import run_apepy

from apepy import doctor, toolchains
from apepy.interpreter import pgo
from apepy.toolchains import host

# What CPython 3.13's configure writes for GCC with --with-lto (and --enable-optimizations).
CONFIGURED = "-fno-semantic-interposition -flto -fuse-linker-plugin -ffat-lto-objects -flto-partition=none -g"


def test_final_lto_flags_are_parallel_slim_and_without_debug_info() -> None:
    words = pgo._final_lto(CONFIGURED, 4).split()
    assert words == [
        "-fno-semantic-interposition",
        "-flto=4",
        "-fuse-linker-plugin",
        "-fno-fat-lto-objects",
    ]


def test_instrumented_flags_have_no_lto() -> None:
    assert pgo._without_lto(CONFIGURED) == "-fno-semantic-interposition"


def test_makefile_values_are_replaced_and_its_time_kept(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "# CONFIGURE_CFLAGS_NODIST= in a comment\n"
        f"CONFIGURE_CFLAGS_NODIST=\t{CONFIGURED}\n"
        "CONFIGURE_LDFLAGS_NODIST= -flto\n"
        "OTHER=CONFIGURE_CFLAGS_NODIST=x\n"
        "target:\n\tCONFIGURE_CFLAGS_NODIST=recipe\n"
    )
    os.utime(makefile, ns=(1_000_000_000, 2_000_000_000))
    pgo.set_makefile_values(
        makefile, {"CONFIGURE_CFLAGS_NODIST": "-O3 -flto=2", "CONFIGURE_LDFLAGS_NODIST": ""}
    )
    values = pgo.makefile_values(makefile)
    assert values["CONFIGURE_CFLAGS_NODIST"] == "-O3 -flto=2"
    assert values["CONFIGURE_LDFLAGS_NODIST"] == ""
    assert values["OTHER"] == "CONFIGURE_CFLAGS_NODIST=x"
    text = makefile.read_text()
    assert "# CONFIGURE_CFLAGS_NODIST= in a comment\n" in text
    assert "\tCONFIGURE_CFLAGS_NODIST=recipe\n" in text
    # Objects that depend on the Makefile must not look out of date.
    assert makefile.stat().st_mtime_ns == 2_000_000_000


def test_clean_keeps_the_frozen_modules_and_their_tools(tmp_path: Path) -> None:
    tree = tmp_path / "Python-3.13.15"
    frozen = tree / "Python" / "frozen_modules" / "abc.h"
    tool = tree / "_bootstrap_python"
    obj = tree / "Objects" / "dictobject.o"
    for path in (frozen, tool, obj):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(path.name)
    os.utime(frozen, ns=(5_000_000_000, 5_000_000_000))
    ran = []

    def make(*args: str, what: str) -> None:
        # What clean-retain-profile does to these: every object and every kept file.
        ran.append(args)
        for path in (frozen, tool, obj):
            path.unlink(missing_ok=True)

    pgo._clean_keeping(tree, pgo._KEPT, make)
    assert ran == [("clean-retain-profile",)]
    assert frozen.read_text() == "abc.h" and frozen.stat().st_mtime_ns == 5_000_000_000
    assert tool.read_text() == "_bootstrap_python"
    assert not obj.exists()
    assert not (tree / ".apepy-kept").exists()


def test_doctor_finds_that_lto_objects_archive_here() -> None:
    result = run_apepy("doctor")
    assert "--optimize (PGO + LTO): GCC's LTO objects are archived and indexed" in result.stderr


def test_doctor_names_an_ar_that_leaves_lto_objects_unindexed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # An ar that writes no index for them, as binutils does without GCC's LTO plugin.
    ar = tmp_path / "ar"
    ar.write_text(f'#!/bin/sh\nexec {shutil.which("ar")} rcS "$2" "$3"\n')
    ar.chmod(0o755)
    tc = host.detect(toolchains.Options())
    doctor._optimize_row(dataclasses.replace(tc, ar=str(ar)))
    err = capfd.readouterr().err
    assert f"{ar} cannot index GCC's LTO objects" in err and "bfd-plugins" in err
