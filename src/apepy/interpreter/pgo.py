"""``--optimize``: a profile-guided (PGO) and link-time-optimised (LTO) CPython build.

CPython's own ``make profile-opt`` builds the instrumented interpreter with LTO too (a
whole serial link of code that is thrown away) and trains it on a subset of its test
suite: 30 to 40 minutes on 2 cores. Here the three steps run one by one:

1. compile with the compiler's profile instrumentation and without LTO;
2. run the training task: apepy's own (``inside/pgo/task.py``, about a minute), or
   CPython's (``--pgo-task cpython``, for comparison);
3. compile again with the profile and LTO (GCC's LTRANS in parallel: ``_final_lto``).
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from collections.abc import Callable
from pathlib import Path

from apepy import procs
from apepy.errors import ApepyError

TASKS = ("apepy", "cpython")
_TASK_FILE = Path(__file__).resolve().parent.parent / "inside" / "pgo" / "task.py"
# Copied into the tree under this name, run from there.
_TASK_IN_TREE = "apepy_pgo_task.py"
# CPython's own: what `make profile-opt` runs (its PROFILE_TASK); TESTTIMEOUT is 1200.
_CPYTHON_TASK = ["-m", "test", "--pgo", "--timeout=1200"]
_LTO_WORDS = ("-fuse-linker-plugin", "-ffat-lto-objects")


def identity(task: str) -> str:
    """What the cache key records for an --optimize build with ``task``."""
    if task == "cpython":
        return "cpython " + " ".join(_CPYTHON_TASK)
    return "apepy " + hashlib.sha256(_TASK_FILE.read_bytes()).hexdigest()[:16]


def describe(task: str) -> str:
    """The manifest's words for an --optimize build (``apepy info`` shows them)."""
    how = "apepy's training task" if task == "apepy" else "CPython's own profile task"
    return f"PGO ({how}) + LTO"


def makefile_values(makefile: Path) -> dict[str, str]:
    """The plain ``NAME=value`` assignments of a configured Makefile."""
    values = {}
    for line in makefile.read_text(encoding="utf-8", errors="replace").splitlines():
        if "=" in line and not line.startswith(("#", "\t")):
            name, value = line.split("=", 1)
            values[name.strip()] = value.strip()
    return values


def _without_lto(flags: str) -> str:
    return " ".join(
        w for w in flags.split() if not w.startswith("-flto") and w not in (*_LTO_WORDS, "-g")
    )


def _final_lto(flags: str, jobs: int) -> str:
    """configure's LTO flags, changed as CPython 3.14 changed them (gh-132257): GCC's
    link-time work split into partitions and run ``jobs`` at a time, not as one serial
    unit (4 times faster there, the same speed in CPython's benchmarks); and no -g,
    which configure adds for debug symbols (bpo-30345): the output is stripped, and -g
    never changes the code, only the compile and link time."""
    out = []
    for word in flags.split():
        if word in ("-g", "-flto-partition=none"):
            continue
        out.append(f"-flto={jobs}" if word == "-flto" else word)
    return " ".join(out)


def build(
    tree: Path,
    *,
    jobs: int,
    log: Path,
    env: dict[str, str],
    task: str,
    on_line: Callable[[str], None],
    on_step: Callable[[str], None],
) -> None:
    """Build ``tree`` (configured with --enable-optimizations --with-lto) in three steps."""
    values = makefile_values(tree / "Makefile")
    gen, use = values["PGO_PROF_GEN_FLAG"], values["PGO_PROF_USE_FLAG"]
    cflags, ldflags = values["CONFIGURE_CFLAGS_NODIST"], values["CONFIGURE_LDFLAGS_NODIST"]

    def make(*args: str, what: str) -> None:
        procs.run_logged(
            ["make", *args],
            cwd=tree,
            log=log,
            env=env,
            what=what,
            hint="see the log for the first error",
            on_line=on_line,
        )

    on_step("1/3 instrumented build")
    # `build_all`, not `all`: with --enable-optimizations `all` is CPython's profile-opt.
    make(
        f"-j{jobs}",
        "build_all",
        f"CONFIGURE_CFLAGS_NODIST={_without_lto(cflags)}",
        f"CONFIGURE_LDFLAGS_NODIST={_without_lto(ldflags)}",
        f"CFLAGS_NODIST={gen}",
        f"LDFLAGS_NODIST={gen}",
        what="compiling CPython with profile instrumentation",
    )
    on_step(f"2/3 training run ({task}'s task)")
    _train(tree, log=log, task=task, on_line=on_line)
    make("clean-retain-profile", what="removing the instrumented objects")
    on_step("3/3 optimised build (profile + LTO)")
    make(
        f"-j{jobs}",
        "build_all",
        f"CONFIGURE_CFLAGS_NODIST={_final_lto(cflags, jobs)}",
        f"CONFIGURE_LDFLAGS_NODIST={_final_lto(ldflags, jobs)}",
        f"CFLAGS_NODIST={use}",
        what="compiling CPython with the profile and LTO",
    )


def _train(tree: Path, *, log: Path, task: str, on_line: Callable[[str], None]) -> None:
    if task == "cpython":
        args = _CPYTHON_TASK
    else:
        shutil.copyfile(_TASK_FILE, tree / _TASK_IN_TREE)
        args = [_TASK_IN_TREE]
    # Without address-space randomisation the run takes the same paths each time (ids,
    # and the set and dict orders that follow from them), so two builds get one profile.
    fixed = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    # Its own environment, the same on every machine: none of the user's PYTHON*
    # variables (PYTHONDONTWRITEBYTECODE would compile every import from source, over
    # and over, and train the compiler instead of the program).
    code = procs.run_streamed(
        [*fixed, "./python", *args],
        cwd=tree,
        log=log,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONHASHSEED": "0",
            "LC_ALL": "C.UTF-8",
        },
        whole_env=True,
        on_line=on_line,
    )
    # CPython's task is a test run; like `make profile-opt`, its failures do not matter.
    if code != 0 and task != "cpython":
        raise ApepyError(
            f"the PGO training run failed (exit code {code})",
            hint="this is a bug in apepy's training task, please report it with the log; "
            "build without --optimize meanwhile",
            details=f"full log: {log}",
        )
    if not any(tree.rglob("*.gcda")) and not any(tree.glob("*.profraw")):
        raise ApepyError(
            "the PGO training run wrote no profile data",
            hint="the compiler's profile runtime did not work; build without --optimize",
            details=f"full log: {log}",
        )
