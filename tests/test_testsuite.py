"""`apepy test`: CPython's own regression suite, run with a file apepy built."""

from __future__ import annotations

from pathlib import Path

from conftest import run_apepy

from apepy import testsuite

REPORT_313 = """\
0:00:05 load avg: 1.42 [ 1/30/1] test_importlib failed (2 errors)

== Tests result: FAILURE ==

1 test altered the execution environment (env changed):
    test_sqlite3

9 tests failed:
    test_cmd_line test_ctypes test_frozen test_importlib
    test_multiprocessing_fork.test_misc
    test_multiprocessing_forkserver.test_misc test_sys test_sysconfig
    test_venv

20 tests OK.

Total duration: 2 min 29 sec
Total tests: run=3,593 failures=8 skipped=335
Total test files: run=30/30 failed=9 env_changed=1
Result: FAILURE
"""

REPORT_311 = """\
== Tests result: FAILURE ==

All 3 tests OK.

2 tests failed:
    test_site test_venv

1 test altered the execution environment:
    test_json

2 tests skipped:
    test_tix test_winreg

1 test run no tests:
    test_dtrace
"""


def test_the_report_of_313_is_read() -> None:
    summary = testsuite.parse_summary(REPORT_313)
    assert summary.found and summary.ok == 20 and summary.tests_run == 3593
    assert summary.failed == [
        "test_cmd_line",
        "test_ctypes",
        "test_frozen",
        "test_importlib",
        "test_multiprocessing_fork.test_misc",
        "test_multiprocessing_forkserver.test_misc",
        "test_sys",
        "test_sysconfig",
        "test_venv",
    ]
    assert summary.env_changed == ["test_sqlite3"]


def test_the_report_of_311_is_read() -> None:
    summary = testsuite.parse_summary(REPORT_311)
    assert summary.ok == 3 and summary.tests_run is None
    assert summary.failed == ["test_site", "test_venv"]
    assert summary.env_changed == ["test_json"]
    assert summary.skipped == ["test_tix", "test_winreg"]
    assert summary.run_no_tests == ["test_dtrace"]


def test_output_without_a_report_is_not_a_pass() -> None:
    assert not testsuite.parse_summary("Traceback (most recent call last):\n").found


def test_the_suite_tree_keeps_the_test_packages_inside_stdlib_packages(tmp_path: Path) -> None:
    # 3.11's layout: unittest.test, lib2to3.tests and others live inside their
    # stdlib package, which the file carries without them.
    lib = tmp_path / "Lib"
    for name in (
        "os.py",
        "test/__init__.py",
        "test/test_os.py",
        "unittest/__init__.py",
        "unittest/case.py",
        "unittest/test/__init__.py",
        "unittest/test/testmock/__init__.py",
        "lib2to3/__init__.py",
        "lib2to3/Grammar.txt",
        "lib2to3/fixes/__init__.py",
        "lib2to3/tests/__init__.py",
        "lib2to3/tests/data/bom.py",
        "json/__init__.py",
        "json/data.txt",
        "tkinter/__init__.py",
        "tkinter/test/__init__.py",
        "idlelib/idle_test/__init__.py",
    ):
        (lib / name).parent.mkdir(parents=True, exist_ok=True)
        (lib / name).write_text("")
    testsuite._keep_only_tests(lib)
    kept = sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file())
    assert kept == [
        "lib2to3/Grammar.txt",
        "lib2to3/tests/__init__.py",
        "lib2to3/tests/data/bom.py",
        "test/__init__.py",
        "test/test_os.py",
        "unittest/test/__init__.py",
        "unittest/test/testmock/__init__.py",
    ]
    # No file carries tkinter or idlelib: their test directories would make them
    # importable (as namespace packages), so they are gone; so is json's, which has no
    # tests. Grammar.txt stays beside lib2to3's tests, which read it there.
    assert sorted(p.name for p in lib.iterdir()) == ["lib2to3", "test", "unittest"]
    found = [p.relative_to(lib).as_posix() for p in testsuite.inner_test_packages(lib)]
    assert found == ["lib2to3/tests", "unittest/test"]


# Test files of the modules apepy touches (its importer, start-up and paths, the
# stdlib's sources read through the loader, the stdlib's C modules and their
# libraries, user and group lookups in the static file, subprocesses and forks),
# run on every CI.
CI_SUBSET = [
    "test_importlib",
    "test_zipimport",
    "test_zipimport_support",
    "test_site",
    "test_getpath",
    "test_subprocess",
    "test_multiprocessing_fork",
    "test_multiprocessing_forkserver",
    "test_ssl",
    "test_sqlite3",
    "test_ctypes",
    "test_codecs",
    "test_codeccallbacks",
    "test_multibytecodec",
    "test_unicodedata",
    "test_zlib",
    "test_bz2",
    "test_lzma",
    "test_hashlib",
    "test_frozen",
    "test_cmd_line",
    "test_sys",
    "test_sysconfig",
    "test_traceback",
    "test_inspect",
    "test_linecache",
    "test_warnings",
    "test_contextlib",
    "test_pwd",
    "test_grp",
    "test_venv",
]


def test_the_ci_subset_of_cpythons_suite(built_python: Path) -> None:
    # Every file passes, apart from the test cases apepy.testexclusions leaves out by
    # design (and says why); regrtest re-runs a failed file once, alone (-w).
    summary, log = testsuite.run(built_python, CI_SUBSET, jobs=2, offline=True, timeout=900)
    failed = sorted(set(summary.failed + summary.omitted))
    assert not failed, f"failures in CPython's suite: {failed} (log: {log})"
    # test_venv is left out by design (it imports ensurepip), and said so.
    assert list(summary.excluded) == ["test_venv"]
    ran = summary.ok + len(summary.env_changed) + len(summary.failed)
    assert ran >= len(CI_SUBSET) - 1, log.read_text()[-3000:]


def test_apepy_test_exits_non_zero_on_a_failing_test_file(built_python: Path) -> None:
    passed = run_apepy("test", built_python, "-j", "2", "test_zipimport", "test_zlib")
    assert passed.returncode == 0, passed.stderr
    assert "2 test files passed, 0 failed" in passed.stderr
    failed = run_apepy("test", built_python, "test_zipimport", "test_no_such_module_apepy")
    assert failed.returncode == 1
    assert "error: 1 test files failed: test_no_such_module_apepy" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_apepy_test_refuses_a_file_apepy_did_not_build(tmp_path: Path) -> None:
    other = tmp_path / "python"
    other.write_bytes(b"\x7fELF not an apepy file")
    result = run_apepy("test", other)
    assert result.returncode == 1
    assert "error:" in result.stderr and "hint:" in result.stderr
    assert "Traceback" not in result.stderr
