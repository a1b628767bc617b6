"""--optimize's pieces that need no CPython build: the final LTO flags, the Makefile
rewrite, the clean that keeps step 1's frozen modules, the profile flags (on a small
program), and doctor's check of the LTO archiving (tests/test_optimize.py builds for
real)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_apepy

from apepy import doctor, toolchains
from apepy.interpreter import pgo
from apepy.toolchains import host

TASK = Path(pgo.__file__).resolve().parent.parent / "inside" / "pgo" / "task.py"

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


def _tree_with_compiler(tmp_path: Path, cc: str) -> Path:
    tree = tmp_path / "Python-3.13.15"
    tree.mkdir()
    (tree / "Makefile").write_text(
        f"CC=\t\t{cc}\n"
        "PGO_PROF_GEN_FLAG=-fprofile-generate -fprofile-update=atomic\n"
        "PGO_PROF_USE_FLAG=-fprofile-use -fprofile-correction\n"
    )
    return tree


def test_profile_flags_name_no_tree_and_count_without_atomics_for_apepys_task(
    tmp_path: Path,
) -> None:
    gcc = os.path.realpath(shutil.which("gcc") or "gcc")
    tree = _tree_with_compiler(tmp_path, gcc)
    values = pgo.makefile_values(tree / "Makefile")
    gen, use = pgo.profile_flags(values, tree, "apepy")
    assert (
        gen == f"-fprofile-generate=/apepy-pgo -fprofile-prefix-path={tree} -frandom-seed=apepy "
        "-fprofile-update=single"
    )
    assert use == (
        f"-fprofile-use={tree / pgo.PROFILES} -fprofile-prefix-path={tree} -fprofile-correction"
    )
    gen, _ = pgo.profile_flags(values, tree, "cpython")
    assert gen.endswith("-fprofile-update=atomic")


def test_a_profile_written_in_another_place_is_read_by_the_optimised_compile(
    tmp_path: Path,
) -> None:
    """A small program through --optimize's steps: compiled with profile_flags'
    instrumentation, run twice with its profile written elsewhere (as the training
    writes it, in its place), moved into the tree and read by the optimised compile."""
    gcc = os.path.realpath(shutil.which("gcc") or "gcc")
    tree = _tree_with_compiler(tmp_path, gcc)
    gen, use = pgo.profile_flags(pgo.makefile_values(tree / "Makefile"), tree, "apepy")
    (tree / "Modules").mkdir()
    (tree / "Modules" / "count.c").write_text(
        "#include <stdlib.h>\n"
        "int main(int argc, char **argv) {\n"
        "  int s = 0;\n"
        "  for (int i = 0; i < atoi(argv[1]); i++) s += i;\n"
        "  return s & 1;\n"
        "}\n"
    )

    def cc(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([gcc, *args], cwd=tree, capture_output=True, text=True)

    assert cc(*gen.split(), "-O2", "-c", "Modules/count.c", "-o", "Modules/count.o").returncode == 0
    assert cc(*gen.split(), "Modules/count.o", "-o", "count").returncode == 0
    # Where the tree is does not reach the instrumented program.
    assert str(tree).encode() not in (tree / "count").read_bytes()
    written = tmp_path / "place" / "profiles"
    for loops in ("7", "35"):
        subprocess.run(
            ["./count", loops], cwd=tree, env={**os.environ, **pgo._profile_place(written)}
        )
    assert sorted(p.name for p in written.iterdir()) == ["Modules#count.gcda"]
    shutil.move(written, tree / pgo.PROFILES)
    major = subprocess.run([gcc, "-dumpversion"], capture_output=True, text=True).stdout
    dump = shutil.which(f"gcov-dump-{major.strip()}") or "gcov-dump"
    text = subprocess.run(
        [dump, "-l", str(tree / pgo.PROFILES / "Modules#count.gcda")],
        capture_output=True,
        text=True,
    ).stdout
    assert re.search(r"runs=2\b", text), text
    # The loop's back edge ran 7 + 35 times in all.
    arcs = re.search(r"COUNTERS arcs \d+ counts\n\S*\s+0: ([\d ]+)", text)
    assert arcs and 42 in [int(c) for c in arcs.group(1).split()], text
    # The optimised compile finds it ("profile count data file not found" otherwise).
    used = cc(
        *use.split(),
        "-Werror=missing-profile",
        "-O2",
        "-c",
        "Modules/count.c",
        "-o",
        "Modules/count.o",
    )
    assert used.returncode == 0, used.stderr


def test_instrumented_programs_are_the_same_bytes_from_trees_at_other_paths(
    tmp_path: Path,
) -> None:
    gcc = os.path.realpath(shutil.which("gcc") or "gcc")
    programs = []
    for where in ("a", "a-much-longer-cache-path"):
        (tmp_path / where).mkdir()
        tree = _tree_with_compiler(tmp_path / where, gcc)
        gen, _ = pgo.profile_flags(pgo.makefile_values(tree / "Makefile"), tree, "apepy")
        (tree / "Modules").mkdir()
        (tree / "Modules" / "one.c").write_text("int main(void) { return 0; }\n")
        for args in (
            ["-c", "Modules/one.c", "-o", "Modules/one.o"],
            ["Modules/one.o", "-o", "one"],
        ):
            subprocess.run([gcc, *gen.split(), "-O2", *args], cwd=tree, check=True)
        programs.append((tree / "one").read_bytes())
    assert programs[0] == programs[1]
