"""What a package carries only for its own test suite: left out of the interpreter.

numpy builds six extension modules for its tests alone (`_multiarray_tests`,
`_umath_tests`, `_simd`, ...) and ships its tests' code and data in `tests/`
folders; linked in and installed, they cost megabytes of every file made from the
base, and no code outside the tests imports them. The rule reads what the package
itself says: a compiled module is left out when test code names it and nothing else
does (no other Python file of the wheel, no other compiled module).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from pathlib import PurePosixPath

# Folders whose compiled modules are the test suite's (the rule apepy had first).
_TEST_PACKAGES = ("test", "tests", "testing")
# Folders whose Python files and data are the test suite, left out of site-packages.
# Not "testing": numpy.testing is public API that users' own tests import.
TEST_FOLDERS = ("tests",)


def in_test_package(dotted: str) -> bool:
    """A compiled module inside a test package (``pkg.tests._helper``)."""
    return any(part in _TEST_PACKAGES for part in dotted.split(".")[:-1])


def is_test_code(path: str) -> bool:
    """A Python file of a wheel that only the test suite (or another bundler) runs."""
    pure = PurePosixPath(path)
    name = pure.name
    return (
        any(part in _TEST_PACKAGES for part in pure.parts[:-1])
        or name == "conftest.py"
        or name.startswith("test_")
        # PyInstaller's hooks list modules for PyInstaller's own bundles (numpy's names
        # _multiarray_tests there as a hidden import "used in tests").
        or name.startswith("hook-")
    )


def test_only_modules(
    dotted: Iterable[str], python_files: dict[str, str], objects: dict[str, bytes]
) -> set[str]:
    """The compiled modules (``dotted``) that only the package's tests use.

    ``python_files``: the wheel's .py files, path → text; ``objects``: each compiled
    module's object code, by dotted name (a C module may import another by name).
    """
    found = set()
    for module in dotted:
        if in_test_package(module):
            found.add(module)
            continue
        word = re.compile(rf"(?<![\w]){re.escape(module.rsplit('.', 1)[-1])}(?![\w])")
        naming = [path for path, text in python_files.items() if word.search(text)]
        if not naming or not all(is_test_code(p) for p in naming):
            continue
        needle = module.encode()
        if any(needle in code for other, code in objects.items() if other != module):
            continue
        found.add(module)
    return found


def is_test_data(path: str) -> bool:
    """A file of a wheel inside a test folder: the suite's code and data."""
    return any(part in TEST_FOLDERS for part in PurePosixPath(path).parts[:-1])


def test_folders(python_files: dict[str, str]) -> set[str]:
    """The wheel's ``tests`` folders (paths ending in /) that no other code imports from."""
    folders = set()
    for path in python_files:
        parts = PurePosixPath(path).parts[:-1]
        for i, part in enumerate(parts):
            if part in TEST_FOLDERS:
                folders.add("/".join(parts[: i + 1]) + "/")
    others = {p: t for p, t in python_files.items() if not is_test_code(p) and not is_test_data(p)}
    kept = set()
    for folder in folders:
        dotted = folder.rstrip("/").replace("/", ".")
        parent = folder.rstrip("/").rpartition("/")[0] + "/"
        relative = re.compile(r"from\s+\.\s*(tests\b|import\s+tests\b)")
        for path, text in others.items():
            if dotted in text or (path.startswith(parent) and relative.search(text)):
                kept.add(folder)
    return folders - kept


def without_folders(record: str, folders: set[str]) -> str:
    """A RECORD's text without the rows of files in ``folders``."""
    rows = [r for r in csv.reader(io.StringIO(record)) if r and not r[0].startswith(tuple(folders))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
