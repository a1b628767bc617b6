"""``--optimize``: a profile-guided (PGO) and link-time-optimised (LTO) CPython build.

CPython's own ``make profile-opt`` builds the instrumented interpreter with LTO too (a
whole serial link of code that is thrown away), trains it on a subset of its test
suite, then links the whole interpreter three times with LTO (``_freeze_module``,
``python``, ``_testembed``): 30 to 40 minutes on 2 cores. Here the three steps run
one by one:

1. compile with the compiler's profile instrumentation and without LTO;
2. run the training task: apepy's own (``inside/pgo/task.py``, about half a minute,
   from a place whose path does not depend on the cache's: ``_training_place``), or
   CPython's (``--pgo-task cpython``, for comparison);
3. compile again with the profile and LTO (slim LTO objects, GCC's LTRANS in
   parallel: ``_final_lto``), keeping step 1's frozen modules, so that the one LTO
   link is the interpreter's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from apepy import cache, procs
from apepy.errors import ApepyError

TASKS = ("apepy", "cpython")
_TASK_FILE = Path(__file__).resolve().parent.parent / "inside" / "pgo" / "task.py"
# Copied into the training's place under this name, run from there.
_TASK_IN_PLACE = "apepy_pgo_task.py"
# CPython's own: what `make profile-opt` runs (its PROFILE_TASK); TESTTIMEOUT is 1200.
_CPYTHON_TASK = ["-m", "test", "--pgo", "--timeout=1200"]
_LTO_WORDS = ("-fuse-linker-plugin", "-ffat-lto-objects")
# Made by the instrumented build and still right for the optimised one: the frozen
# modules are bytecode whatever the compiler's flags. CPython's clean-retain-profile
# deletes them with the tools that make them, and making them again costs two more
# links of the whole interpreter in step 3 (_freeze_module's an LTO link).
_KEPT = (
    "Python/frozen_modules",
    "Python/deepfreeze",
    "Programs/_freeze_module",
    "_bootstrap_python",
)
# Never made: the embedding tests' program (CPython's test_embed; apepy never runs
# it), an LTO link of the whole interpreter in step 3.
_NOT_MADE = ("Programs/_testembed",)


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
    never changes the code, only the compile and link time.

    Slim LTO objects, not configure's fat ones: a fat object holds the finished machine
    code as well, for links without LTO, and every link of this tree (the interpreter,
    and apepy's relink with extensions, which takes its command from the Makefile) is an
    LTO link that compiles the program again from the intermediate code."""
    out = []
    for word in flags.split():
        if word in ("-g", "-flto-partition=none"):
            continue
        if word == "-ffat-lto-objects":
            word = "-fno-fat-lto-objects"
        out.append(f"-flto={jobs}" if word == "-flto" else word)
    return " ".join(out)


def set_makefile_values(makefile: Path, values: dict[str, str]) -> None:
    """Replace ``NAME=value`` assignments in a configured Makefile, keeping its time
    stamp (some of CPython's objects depend on the Makefile)."""
    stat = makefile.stat()
    lines = makefile.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        name = line.split("=", 1)[0].strip() if "=" in line and line[0] not in "#\t" else ""
        if name in values:
            lines[i] = f"{name}=\t{values[name]}\n"
    makefile.write_text("".join(lines), encoding="utf-8")
    os.utime(makefile, ns=(stat.st_atime_ns, stat.st_mtime_ns))


# The instrumented programs name each object's profile file by this directory and the
# object's path in the tree, never by the tree's own path (GCC 11+:
# -fprofile-prefix-path), so they are the same bytes whatever the cache's path;
# GCOV_PREFIX puts the files where they are wanted when they run.
_PROFILE_NAME = "/apepy-pgo"
# In the tree: the training's profiles, which the optimised build reads.
PROFILES = ".apepy-pgo"
# In the tree, deleted before the training: the profiles of the build's own runs.
_BUILD_RUNS = ".apepy-pgo-build-runs"


def _gcc_version(cc: str) -> tuple[int, ...]:
    try:
        said = subprocess.run([cc, "-dumpfullversion"], capture_output=True, text=True)
        return tuple(int(n) for n in said.stdout.strip().split("."))
    except (OSError, ValueError):
        return ()


def profile_flags(values: dict[str, str], tree: Path, task: str) -> tuple[str, str]:
    """The compile flags of step 1 and step 3, from configure's ``values``.

    Profiles are named by the object's path in the tree where GCC allows it (GCC 11+),
    so the instrumented interpreter holds no cache path. apepy's task runs one thread
    per process, so counters need no atomic updates (with them its training took about
    1.6 times as long); CPython's task runs threads."""
    tree = tree.resolve()
    cc = values.get("CC", "").split()
    prefix = f" -fprofile-prefix-path={tree}" if _gcc_version(cc[0] if cc else "") >= (11,) else ""
    # A fixed seed: GCC stamps each object's profile data with the time of its compile
    # otherwise, and the instrumented interpreter with them.
    gen = values["PGO_PROF_GEN_FLAG"].replace(
        "-fprofile-generate", f"-fprofile-generate={_PROFILE_NAME}{prefix} -frandom-seed=apepy"
    )
    if task == "apepy":
        gen = gen.replace("-fprofile-update=atomic", "-fprofile-update=single")
    use = values["PGO_PROF_USE_FLAG"].replace(
        "-fprofile-use", f"-fprofile-use={tree / PROFILES}{prefix}"
    )
    return gen, use


def _profile_place(place: Path) -> dict[str, str]:
    """The environment that makes the instrumented programs write into ``place``."""
    return {"GCOV_PREFIX": str(place), "GCOV_PREFIX_STRIP": str(len(Path(_PROFILE_NAME).parts) - 1)}


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
    gen, use = profile_flags(values, tree, task)
    cflags, ldflags = values["CONFIGURE_CFLAGS_NODIST"], values["CONFIGURE_LDFLAGS_NODIST"]

    def make(*args: str, what: str, extra: dict[str, str] | None = None) -> None:
        procs.run_logged(
            ["make", *args],
            cwd=tree,
            log=log,
            env={**env, **(extra or {})},
            what=what,
            hint="see the log for the first error",
            on_line=on_line,
        )

    started = time.monotonic()

    def step_done(name: str) -> None:
        # How long each step took, in the log: the cost of --optimize, step by step.
        nonlocal started
        with open(log, "a", encoding="utf-8") as sink:
            sink.write(f"apepy: {name} took {time.monotonic() - started:.1f} s\n")
        started = time.monotonic()

    # make's -o: treated as old, their rules ignored.
    not_made = [a for name in _NOT_MADE for a in ("-o", name)]
    on_step("1/3 instrumented build")
    # `build_all`, not `all`: with --enable-optimizations `all` is CPython's profile-opt.
    make(
        f"-j{jobs}",
        "build_all",
        *not_made,
        f"CONFIGURE_CFLAGS_NODIST={_without_lto(cflags)}",
        f"CONFIGURE_LDFLAGS_NODIST={_without_lto(ldflags)}",
        f"CFLAGS_NODIST={gen}",
        f"LDFLAGS_NODIST={gen}",
        what="compiling CPython with profile instrumentation",
        # The build's own runs of the instrumented programs write their profiles
        # aside: only the training counts.
        extra=_profile_place(tree / _BUILD_RUNS),
    )
    step_done("the instrumented build")
    on_step(f"2/3 training run ({task}'s task)")
    _train(tree, log=log, task=task, on_line=on_line)
    _clean_keeping(tree, _KEPT, make)
    step_done("the training run")
    on_step("3/3 optimised build (profile + LTO)")
    # Into the Makefile, not only make's command line: the relink with extensions takes
    # its command from the Makefile, and sysconfig records what the build used.
    set_makefile_values(
        tree / "Makefile",
        {
            "CONFIGURE_CFLAGS_NODIST": _final_lto(cflags, jobs),
            "CONFIGURE_LDFLAGS_NODIST": _final_lto(ldflags, jobs),
        },
    )
    make(
        f"-j{jobs}",
        "build_all",
        *not_made,
        *(a for name in _KEPT if (tree / name).is_file() for a in ("-o", name)),
        f"CFLAGS_NODIST={use}",
        what="compiling CPython with the profile and LTO",
    )
    step_done("the optimised build")


def _clean_keeping(tree: Path, kept: tuple[str, ...], make: Callable[..., None]) -> None:
    """CPython's clean-retain-profile, with ``kept`` (files or directories) put back
    as they were, times included."""
    aside = tree / ".apepy-kept"
    shutil.rmtree(aside, ignore_errors=True)
    moved = [name for name in kept if (tree / name).exists()]
    for name in moved:
        (aside / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(tree / name, aside / name)
    make("clean-retain-profile", what="removing the instrumented objects")
    for name in moved:
        shutil.rmtree(tree / name, ignore_errors=True)
        os.replace(aside / name, tree / name)
    shutil.rmtree(aside)


def _train(tree: Path, *, log: Path, task: str, on_line: Callable[[str], None]) -> None:
    args = _CPYTHON_TASK if task == "cpython" else [_TASK_IN_PLACE]
    profiles = tree / PROFILES
    for stale in (profiles, tree / _BUILD_RUNS):
        shutil.rmtree(stale, ignore_errors=True)
    # Without address-space randomisation the run takes the same paths each time (ids,
    # and the set and dict orders that follow from them), so two builds get one profile.
    fixed = ["setarch", platform.machine(), "-R"] if shutil.which("setarch") else []
    # One process at a time (the task's start-up part waits for each child): two would
    # merge their value profiles into the files in the order they ended. Running the
    # task's two halves at once, each writing apart and merged by gcov-tool, made the
    # build ~5 % slower on pyperformance (docs/performance.md).
    with _training_place(tree, log) as (place, env):
        # In the place, made before anything runs: the environment is the program's
        # data too, and the place is the script's directory, which the import system
        # lists. The .pyc are compiled there, away from the tree (one of the build's
        # own runs would name the tree).
        written, pycache = place / "profiles", place / "pycache"
        written.mkdir()
        pycache.mkdir()
        code = procs.run_streamed(
            [*fixed, "./python", *args],
            cwd=place,
            log=log,
            env={**env, **_profile_place(written), "PYTHONPYCACHEPREFIX": str(pycache)},
            whole_env=True,
            on_line=on_line,
        )
        # CPython's task is a test run; like `make profile-opt`, its failures do not
        # matter.
        if code != 0 and task != "cpython":
            raise ApepyError(
                f"the PGO training run failed (exit code {code})",
                hint="this is a bug in apepy's training task, please report it with the "
                "log; build without --optimize meanwhile",
                details=f"full log: {log}",
            )
        shutil.move(written, profiles)
    if not any(profiles.glob("*.gcda")):
        raise ApepyError(
            "the PGO training run wrote no profile data",
            hint="the compiler's profile runtime did not work; build without --optimize",
            details=f"full log: {log}",
        )


# Where the training runs: a directory named by the cache entry (a hash of every
# input of the build), so its path is the same string whatever the cache's path.
_PLACES = Path("/tmp")


@contextlib.contextmanager
def _training_place(tree: Path, log: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The instrumented interpreter set up to run from a place whose path does not
    depend on the cache's, and the environment to run it with.

    The paths the interpreter handles (its own, ``sys.path``, every module's file name,
    the build's sysconfig data) reach the profile through string lengths and hashes: a
    cache at another path would give another profile, and other bytes. The place holds
    a copy of the interpreter (its real path decides where it looks for its library),
    ``pybuilddir.txt`` and the build directory with the place's path in the sysconfig
    data, and a link to the tree's ``Lib``. One build at a time uses a place (a lock);
    if it cannot be made (another user's), a private one is used and the log says so."""
    name = f"apepy-pgo-{tree.parent.name}"
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(cache.locked(_PLACES / f"{name}.lock"))
            place = _PLACES / name
            shutil.rmtree(place, ignore_errors=True)
            place.mkdir()
        except OSError as e:
            place = Path(tempfile.mkdtemp(prefix="apepy-pgo-"))
            with open(log, "a", encoding="utf-8") as sink:
                sink.write(
                    f"apepy: training in {place}, not {_PLACES / name} ({e}): the "
                    "profile depends on the path, so this build is not reproducible\n"
                )
        stack.callback(shutil.rmtree, place, ignore_errors=True)
        shutil.copy2(tree / "python", place / "python")
        shutil.copyfile(_TASK_FILE, place / _TASK_IN_PLACE)
        builddir = (tree / "pybuilddir.txt").read_text(encoding="utf-8").strip()
        shutil.copyfile(tree / "pybuilddir.txt", place / "pybuilddir.txt")
        (place / builddir).mkdir(parents=True)
        for item in (tree / builddir).iterdir():
            if item.is_file() and item.suffix in (".py", ".json"):
                text = item.read_text(encoding="utf-8")
                for named in {str(tree.resolve()), str(tree)}:
                    text = text.replace(named, str(place))
                (place / builddir / item.name).write_text(text, encoding="utf-8")
        (place / "Lib").symlink_to(tree / "Lib")
        # Its own environment, the same on every machine: none of the user's variables
        # (PYTHONDONTWRITEBYTECODE would compile every import from source, over and
        # over, and train the compiler instead of the program; HOME names the user).
        yield (
            place,
            {
                "PATH": "/usr/bin:/bin",
                "HOME": str(place),
                "PYTHONHASHSEED": "0",
                "LC_ALL": "C.UTF-8",
                "TZ": "UTC",
            },
        )
