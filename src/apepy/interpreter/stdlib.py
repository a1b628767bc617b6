"""The standard library, compiled to .pyc by the target interpreter, as zip entries."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import certifi

from apepy import ape, cache, inside, procs, pyc
from apepy.errors import ApepyError
from apepy.interpreter.compile import Core
from apepy.interpreter.freeze import HOT_MODULES
from apepy.layout import CA_ARCNAME, LIB, SITE
from apepy.zipstore import Entry, directory_entries

# Never shipped: test suites, GUI and demo code, bundled pip wheels. (__hello__ and
# __phello__, a few hundred bytes, stay: they are the stdlib's modules for checking
# the import system, frozen or not, and CPython's test_frozen imports them.)
EXCLUDED_TOP = frozenset(
    {
        "idlelib",
        "tkinter",
        "turtledemo",
        "turtle.py",
        "ensurepip",
        "site-packages",
    }
)
EXCLUDED_DIRS = frozenset({"test", "tests", "idle_test", "__pycache__"})

# Stored, not deflated: the .pyc that start-up and the common programs import (the
# hot list), which the importer then reads without inflating; and apepy's own
# modules beside them. The other two thirds of the stdlib's .pyc are deflated: a
# third of the size, inflated (a few tens of microseconds each) only when imported.
_STORED_MODULES = frozenset(HOT_MODULES) | {"_apepy"}


def stored_pyc(py_rel: str) -> bool:
    """Whether the .pyc of ``py_rel`` (a path under Lib/) is stored uncompressed."""
    module = py_rel[: -len(".py")].replace("/", ".").removesuffix(".__init__")
    return module in _STORED_MODULES or module.startswith("_sysconfigdata")


def _wanted(rel: Path, drop: frozenset[str] = frozenset()) -> bool:
    if rel.parts[0] in EXCLUDED_TOP or rel.parts[0] in drop:
        return False
    return not any(part in EXCLUDED_DIRS for part in rel.parts[:-1])


def collect(
    core: Core,
    staging: Path,
    log: Path,
    drop: frozenset[str] = frozenset(),
    *,
    with_sources: bool = True,
) -> list[Entry]:
    """Compile the stdlib into ``staging`` and return its zip entries under ``Lib/``.

    Each module is imported from its .pyc: stored for the hot modules, deflated for
    the rest (``stored_pyc``). Its .py goes in beside it, deflated
    (about 2.6 MB on 3.13), unless ``with_sources`` is false: nothing reads it at
    start-up or import, but tracebacks, inspect, pdb, doctest and warnings show
    stdlib source lines as an ordinary CPython does, through the loader's get_source.
    """
    lib = core.tree / "Lib"
    sources: list[tuple[Path, str]] = []
    data: list[tuple[Path, str]] = []
    for path in sorted(lib.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(lib)
        if not _wanted(rel, drop):
            continue
        if path.suffix == ".py":
            sources.append((path, rel.as_posix()))
        elif path.suffix not in (".pyc", ".pyo"):
            data.append((path, rel.as_posix()))

    extra = staging / "extra"
    extra.mkdir(parents=True)
    if _wanted(Path("lib2to3/Grammar.txt"), drop):
        data += _grammar_pickles(core, staging / "grammars", log)
    sysconfigdata = _sysconfigdata(core, extra)
    sources.append((sysconfigdata, sysconfigdata.name))
    runtime = extra / "_apepy.py"
    runtime.write_text(inside.source("runtime/_apepy.py"), encoding="utf-8")
    sources.append((runtime, runtime.name))

    pyc_dir = staging / "pyc"
    pyc.compile_sources(core.python, sources, pyc_dir, dfile_prefix=LIB, log=log, cwd=core.tree)

    entries: list[Entry] = []
    for _, py_rel in sources:
        pyc_rel = py_rel[:-3] + ".pyc"
        compiled = (pyc_dir / pyc_rel).read_bytes()
        entries.append(Entry(LIB + pyc_rel, compiled, compress=not stored_pyc(py_rel)))
    if with_sources:
        entries += [Entry(LIB + rel, src.read_bytes(), compress=True) for src, rel in sources]
    for data_path, data_rel in data:
        entries.append(Entry(LIB + data_rel, data_path.read_bytes(), compress=True))
    entries.append(Entry(CA_ARCNAME, Path(certifi.where()).read_bytes(), compress=True))
    names = [e.name for e in entries] + [SITE]
    return directory_entries(names) + sorted(entries, key=lambda e: e.name)


def _grammar_pickles(core: Core, work: Path, log: Path) -> list[tuple[Path, str]]:
    """lib2to3's grammar tables (up to 3.12), pickled as CPython's ``make install``
    pickles them. Without them lib2to3 cannot be imported from the file: it reads
    Grammar.txt only where that is a file on disk, else the pickle beside it."""
    lib2to3 = core.tree / "Lib" / "lib2to3"
    grammars = [
        lib2to3 / n for n in ("Grammar.txt", "PatternGrammar.txt") if (lib2to3 / n).is_file()
    ]
    if not grammars:
        return []
    work.mkdir(parents=True)
    copies = [Path(shutil.copy(g, work / g.name)) for g in grammars]
    procs.run_logged(
        [*ape.command(core.python), "-I", "-S", "-m", "lib2to3.pgen2.driver", *map(str, copies)],
        cwd=core.tree,
        log=log,
        # The tables are dicts built from sets of strings: a fixed seed, the same bytes.
        env={"APEPY_PLAIN": "1", "PYTHONHASHSEED": "0"},
        what="pickling lib2to3's grammars",
        hint="the interpreter just built failed to run lib2to3's grammar driver; see the log",
    )
    return [(pickle, f"lib2to3/{pickle.name}") for pickle in sorted(work.glob("*.pickle"))]


def _sysconfigdata(core: Core, extra: Path) -> Path:
    """The build's _sysconfigdata module, with the build tree's path taken out."""
    try:
        builddir = (core.tree / "pybuilddir.txt").read_text().strip()
        found = sorted((core.tree / builddir).glob("_sysconfigdata_*.py"))
    except OSError:
        found = []
    if len(found) != 1:
        raise ApepyError(
            "the build produced no _sysconfigdata module",
            hint="the CPython build did not finish its last step; delete the cache entry and rebuild",
        )
    # The build tree's path, and apepy's cache (a sysroot's include/ and lib/ under
    # cosmocc), would make two builds from two caches differ.
    text = (
        found[0]
        .read_text(encoding="utf-8")
        .replace(str(core.tree), "/apepy-build")
        .replace(str(cache.cache_root()), "/apepy-cache")
    )
    target = extra / found[0].name
    target.write_text(text, encoding="utf-8")
    return target


def interpreter_probe(executable: Path, cwd: Path) -> dict[str, object]:
    """Ask a built file about itself from an empty environment, as a user would run it."""
    code = inside.source("probes/interpreter_facts.py")
    # -s: the user's own site-packages (~/.local/lib/pythonX.Y/site-packages, where it
    # exists) is on any Python's path; the check of sys.path is about what the file's
    # getpath puts there.
    result = subprocess.run(
        [*ape.command(executable), "-s", "-c", code],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={},
    )
    if result.returncode != 0:
        raise ApepyError(
            f"the packed interpreter {executable} does not start",
            details=result.stderr.strip()[-2000:],
            hint="this is a bug in apepy; please report it with the output above",
        )
    parsed: dict[str, object] = json.loads(result.stdout)
    return parsed
