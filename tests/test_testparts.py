"""What only a package's tests use is found from the package's own files: plain data in,
names out (numpy's real layout, in miniature)."""

from __future__ import annotations

from apepy.extensions import testparts

NUMPY_LIKE = {
    "numpy/__init__.py": "from numpy._core import multiarray\n",
    "numpy/_core/multiarray.py": "from numpy._core._multiarray_umath import *\n",
    "numpy/_core/tests/test_simd.py": "from numpy._core._simd import targets\n",
    "numpy/_core/tests/test_api.py": "from numpy._core._multiarray_tests import x\n",
    "numpy/conftest.py": "from numpy._core._multiarray_tests import get_fpu_mode\n",
    "numpy/_pyinstaller/hook-numpy.py": "hiddenimports = ['numpy._core._multiarray_tests']\n",
    "numpy/testing/print_coercion_tables.py": "from numpy._core._multiarray_tests import y\n",
    "numpy/testing/__init__.py": "from numpy.testing._private.utils import *\n",
    "numpy/random/_pickle.py": "from .mtrand import RandomState\n",
}
MODULES = [
    "numpy._core._multiarray_umath",
    "numpy._core._multiarray_tests",
    "numpy._core._simd",
    "numpy.random.mtrand",
    "numpy._core.tests._helper",
    # Named by nothing at all: an app imports it (ujson, _ruamel_yaml), so it stays.
    "numpy._core._unnamed",
]


def test_modules_named_only_by_tests_are_left_out() -> None:
    objects = {m: b"\0code of " + m.encode() for m in MODULES}
    found = testparts.test_only_modules(MODULES, NUMPY_LIKE, objects)
    assert found == {
        "numpy._core._multiarray_tests",
        "numpy._core._simd",
        "numpy._core.tests._helper",
    }


def test_a_module_that_other_code_names_stays() -> None:
    files = {**NUMPY_LIKE, "numpy/_core/_internal.py": "import numpy._core._simd as s\n"}
    objects = {m: b"" for m in MODULES}
    assert "numpy._core._simd" not in testparts.test_only_modules(MODULES, files, objects)


def test_a_module_another_compiled_module_imports_stays() -> None:
    objects = {m: b"" for m in MODULES}
    objects["numpy._core._multiarray_umath"] = b'PyImport_ImportModule("numpy._core._simd")'
    assert "numpy._core._simd" not in testparts.test_only_modules(MODULES, NUMPY_LIKE, objects)


def test_test_folders_unless_other_code_imports_from_them() -> None:
    assert testparts.test_folders(NUMPY_LIKE) == {"numpy/_core/tests/"}
    files = {**NUMPY_LIKE, "numpy/_core/util.py": "from .tests import data\n"}
    assert testparts.test_folders(files) == set()
    # numpy.testing is public API: not a test folder.
    assert not testparts.is_test_data("numpy/testing/__init__.py")
    assert testparts.is_test_data("numpy/_core/tests/data/umath-validation-set-log.csv")


def test_the_record_loses_the_rows_of_folders_left_out() -> None:
    record = (
        "numpy/__init__.py,sha256=abc,10\n"
        "numpy/_core/tests/test_api.py,sha256=def,20\n"
        '"numpy/a,b.py",sha256=ghi,30\n'
        "numpy-2.4.6.dist-info/RECORD,,\n"
    )
    assert testparts.without_folders(record, {"numpy/_core/tests/"}) == (
        "numpy/__init__.py,sha256=abc,10\n"
        '"numpy/a,b.py",sha256=ghi,30\n'
        "numpy-2.4.6.dist-info/RECORD,,\n"
    )
