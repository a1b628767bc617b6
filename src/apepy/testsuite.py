"""CPython's own regression suite, run against a file apepy built (`apepy test FILE`).

The suite is the file's own version's, from the source cache; the file runs it with
its own interpreter. Two things make that faithful:

- Child interpreters started isolated (``-I``, ``script_helper``) find the ``test``
  package because a copy of the file carries a one-line ``test/__init__.py`` whose
  ``__path__`` is the suite's directory on disk.
- Tests find their data files next to themselves, as real files: the suite is an
  unpacked tree. regrtest finds it from its own ``__file__`` and imports each test
  as ``test.test_x``, as in an ordinary build (``--testdir`` would import them as
  top-level modules, and the doctests that print qualified names would differ).

Test files and test cases that cannot pass in a single static file by design are
left out, each with its reason (apepy.testexclusions); the rest must pass as they
do in an ordinary build.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from apepy import ape, cache, manifest, procs, sources, storecli, testexclusions, ui, zipstore
from apepy.errors import ApepyError
from apepy.interpreter import stdlib
from apepy.layout import LIB

_PROGRESS = re.compile(r"\[\s*(\d+)/(\d+)(?:/\d+)?\] (\S+)(?: (.*))?$")
_TOTAL = re.compile(r"^Total tests: run=([\d,]+)")
_HEADING = re.compile(r"^(?:All )?(\d+) (?:re-run )?tests? (.+?)[.:]$")


@dataclass
class Summary:
    """What regrtest reported, by test file."""

    ok: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    env_changed: list[str] = field(default_factory=list)
    run_no_tests: list[str] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    found: bool = False
    # Test cases run (3.13's "Total tests: run=N"; None where not reported).
    tests_run: int | None = None
    # What the run left out by design (apepy.testexclusions), with the reasons:
    # whole test files, and test cases (regrtest --ignore patterns).
    excluded: dict[str, str] = field(default_factory=dict)
    excluded_cases: dict[str, str] = field(default_factory=dict)


def parse_summary(text: str) -> Summary:
    """Read regrtest's closing report (3.11's and 3.13's wording alike)."""
    summary = Summary()
    lists = {
        "failed": summary.failed,
        # 3.11 with -w names the files that failed their verbose re-run apart.
        "failed again": summary.failed,
        "skipped": summary.skipped,
        "skipped (resource denied)": summary.skipped,
        "altered the execution environment": summary.env_changed,
        "altered the execution environment (env changed)": summary.env_changed,
        "run no tests": summary.run_no_tests,
        "omitted": summary.omitted,
    }
    # Only the report after the last "== Tests result" counts (a re-run prints two).
    start = text.rfind("== Tests result")
    if start < 0:
        return summary
    summary.found = True
    current: list[str] | None = None
    for line in text[start:].splitlines():
        total = _TOTAL.match(line)
        if total:
            summary.tests_run = int(total.group(1).replace(",", ""))
        heading = _HEADING.match(line)
        if heading:
            kind = heading.group(2)
            if kind == "OK":
                summary.ok = int(heading.group(1))
                current = None
            else:
                current = lists.get(kind)
            continue
        if current is not None and line.startswith("    "):
            current.extend(line.split())
        else:
            current = None
    summary.failed[:] = list(dict.fromkeys(summary.failed))
    return summary


# The names of the test packages that live inside stdlib packages rather than in
# Lib/test (3.11: unittest.test, lib2to3.tests, distutils.tests, ctypes.test,
# tkinter.test, idlelib.idle_test; 3.12+ moved most into Lib/test).
_INNER_TESTS = frozenset({"test", "tests", "idle_test"})
# What the suite tree holds changed (the inner test packages were added): a new
# cache entry, not the old one reused.
_TREE_LAYOUT = 3


def suite_tree(version: str, *, offline: bool) -> Path:
    """The source tree of CPython ``version`` whose Lib/ holds only the suite, from
    the cache: Lib/test, and the test packages inside stdlib packages the file
    carries (Lib/unittest/test: the stdlib collection leaves them out of the file).

    Lib/ goes on sys.path (last), so pdb and others find a test module's file by
    searching sys.path, as for /usr/lib/python3.X/test in an ordinary build, and
    unittest's discovery (load_package_tests) finds the directory above test already
    there; tests that read the source tree (Modules/getpath.py, Tools/) find it. The
    rest of the stdlib is removed: only the file's own may be imported. The inner
    test packages of the packages no file carries (tkinter, idlelib) are removed too:
    their directories would make those packages importable as namespace packages.
    """
    source = sources.obtain(version, offline=offline)
    store = cache.cache_dir("testsuite")
    name = f"suite-{version}-{_TREE_LAYOUT}"
    with cache.entry(store / name, marker=".apepy-complete") as entry:
        if entry.ready:
            return entry.path / f"Python-{version}"
        with ui.phase("suite", f"unpacking CPython {version}'s test suite"):
            sources.extract(source, entry.work)
            _keep_only_tests(entry.work / f"Python-{version}" / "Lib")
        entry.publish(source.sha256)
    return entry.path / f"Python-{version}"


def _keep_only_tests(lib: Path) -> None:
    for item in lib.iterdir():
        if item.name == "test":
            continue
        if not item.is_dir() or item.is_symlink():
            item.unlink()
            continue
        if item.name in stdlib.EXCLUDED_TOP:
            shutil.rmtree(item)
            continue
        tests = [i for i in item.iterdir() if i.name in _INNER_TESTS and i.is_dir()]
        for inner in item.iterdir():
            if inner in tests:
                continue
            # Beside a test package, the package's own data files stay: its tests read
            # them next to themselves (lib2to3's tests/../Grammar.txt), as real files.
            # No module: the file's own are the ones imported.
            if tests and inner.is_file() and inner.suffix not in (".py", ".pyc"):
                continue
            if inner.is_dir() and not inner.is_symlink():
                shutil.rmtree(inner)
            else:
                inner.unlink()
        if not any(item.iterdir()):
            item.rmdir()


def inner_test_packages(lib: Path) -> list[Path]:
    """The test packages of a suite tree's Lib/ that live inside a stdlib package
    (Lib/unittest/test), each a directory with its __init__.py."""
    return sorted(
        init.parent
        for init in lib.glob("*/*/__init__.py")
        if init.parent.name in _INNER_TESTS and init.parent.parent.name != "test"
    )


def _inner_stub(package: str, directory: Path) -> str:
    """The __init__.py, put into the file, of a test package on disk: the package is
    the one on disk (its __file__, __path__ and data files), loaded from its own
    __init__.py in place of this stub."""
    init = directory / "__init__.py"
    return (
        f"# apepy test: CPython's {package} package, on disk.\n"
        "import importlib.util as _util\n"
        "import sys as _sys\n"
        f"_spec = _util.spec_from_file_location(__name__, {str(init)!r},\n"
        f"    submodule_search_locations=[{str(directory)!r}])\n"
        "_module = _util.module_from_spec(_spec)\n"
        "_sys.modules[__name__] = _module\n"
        "_spec.loader.exec_module(_module)\n"
    )


def prepare_copy(exe: Path, testdir: Path, work: Path) -> Path:
    """A copy of ``exe`` whose ``test`` package is ``testdir`` on disk (the Lib/test of
    a suite_tree), with that Lib/ last on sys.path."""
    copy = work / exe.name
    shutil.copy2(exe, copy)
    shelf = testdir.parent
    stub = f"{LIB}test/__init__.py"
    init = (
        "# apepy test: CPython's test package, on disk.\n"
        "import sys\n"
        f"__path__ = [{str(testdir)!r}]\n"
        # Tests that find data through the package (3.11's DocFileSuite(package="test")).
        f"__file__ = {str(testdir / '__init__.py')!r}\n"
        f"if {str(shelf)!r} not in sys.path:\n"
        f"    sys.path.append({str(shelf)!r})\n"
        "del sys\n"
    )
    entries = [zipstore.Entry(stub, init.encode(), compress=False)]
    archive = zipstore.read_archive(copy)
    carried = {m.name for m in archive.members}
    for directory in inner_test_packages(shelf):
        parent = directory.parent.name
        # Only where the file carries the package the tests belong to.
        if (
            f"{LIB}{parent}/__init__.pyc" not in carried
            and f"{LIB}{parent}/__init__.py" not in carried
        ):
            continue
        package = f"{parent}.{directory.name}"
        entries.append(
            zipstore.Entry(
                f"{LIB}{parent}/{directory.name}/__init__.py",
                _inner_stub(package, directory).encode(),
                compress=False,
            )
        )
    storecli.add_members(archive, entries)
    return copy


def suite_env(home: Path) -> dict[str, str]:
    """The whole environment CPython's suite runs in: this process's, without the
    PYTHON* variables (apepy's and the user's would change what every child
    interpreter does, e.g. PYTHONUNBUFFERED), with ``home`` (made) as HOME: test_site
    and others create ~/.local/lib/pythonX.Y/site-packages, which would then be on
    the user's every Python's path."""
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["HOME"] = str(home)
    return env


def unpack_ape_loader(path: Path, into: Path, env: dict[str, str]) -> Path | None:
    """Have ``path``'s header unpack its APE loader into ``into`` as ``ape``; return it.

    The header's script execs an ``ape`` it finds on PATH before it unpacks its own
    loader into $TMPDIR, which for a child the suite starts is the test's temporary
    directory: regrtest then reports the loader as a leaked file there ("env
    changed", 60 files of the APE's first run). With this one on PATH, no copy is
    made. None where the header unpacked nothing (not an APE, or a host whose loader
    is compiled on first run).
    """
    if not ape.inspect(path).is_ape or os.name != "posix":
        return None
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["/bin/sh", str(path), "-c", "pass"],
        env={**env, "TMPDIR": str(into)},
        capture_output=True,
        timeout=120,
        check=False,
    )
    unpacked = sorted(into.glob(".ape-*"))
    if not unpacked or not os.access(unpacked[-1], os.X_OK):
        return None
    loader = into / "ape"
    unpacked[-1].rename(loader)
    return loader


def run(
    exe: Path,
    tests: list[str],
    *,
    jobs: int,
    offline: bool,
    timeout: int,
) -> tuple[Summary, Path]:
    """Run the suite (or ``tests``) with ``exe``; return regrtest's report and the log."""
    record = manifest.read(exe)
    if record is None:
        raise ApepyError(
            f"{exe} is not an executable apepy built (it carries no apepy manifest)",
            hint="run apepy test on the output of apepy build or apepy bundle",
        )
    version = record.python_version
    tree = suite_tree(version, offline=offline)
    testdir = tree / "Lib" / "test"
    excluded = testexclusions.for_version(version, record.toolchain)
    log = cache.cache_dir("logs") / f"test-{version}-{os.getpid()}.log"
    log.unlink(missing_ok=True)
    work = Path(tempfile.mkdtemp(prefix="apepy-test-"))
    try:
        copy = prepare_copy(exe.resolve(), testdir, work)
        ignore = work / "ignore.txt"
        ignore.write_text("".join(f"{p}\n" for p in sorted(excluded.cases)), encoding="utf-8")
        # -w: a failed file runs once more, alone and verbose: its details are in the
        # log, and a file that failed only under load passes.
        # -u: progress reaches us line by line (PYTHONUNBUFFERED would reach every
        # child interpreter of every test too, and change what some of them check).
        args = ["-u", "-m", "test", "-j", str(jobs), "-w", "--timeout", str(timeout)]
        args += ["--ignorefile", str(ignore)]
        if tests:
            args += [t for t in tests if t not in excluded.files]
        else:
            args += ["-x", *sorted(excluded.files)]
        env = suite_env(work / "home")
        loader = unpack_ape_loader(copy, work / "ape-loader", env)
        if loader is not None:
            env["PATH"] = f"{loader.parent}{os.pathsep}{env.get('PATH', '')}"
        with ui.phase("test", f"CPython {version}'s test suite with {exe.name}") as status:

            def progress(line: str) -> None:
                found = _PROGRESS.search(line.rstrip())
                if found:
                    done, total, name, outcome = found.groups()
                    status.update(f"[{done}/{total}] {name} {outcome or ''}")

            code = procs.run_streamed(
                [*ape.command(copy), *args],
                cwd=work,
                log=log,
                env=env,
                on_line=progress,
                whole_env=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = parse_summary(log.read_text(encoding="utf-8", errors="replace"))
    summary.excluded = (
        {t: r for t, r in excluded.files.items() if t in tests} if tests else excluded.files
    )
    summary.excluded_cases = excluded.cases
    if not summary.found:
        raise ApepyError(
            f"the test suite ended without its report (exit code {code})",
            hint=f"see the log: {log}",
        )
    return summary, log
