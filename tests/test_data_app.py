"""numpy and pandas compiled in (meson builds, C and C++, Cython), and the data app
examples/csv-report bundled onto that interpreter, run from an empty directory with an
empty environment.

The base's build is cached like every other: a cold cache pays for numpy and pandas
once.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, apepy_ok, builds, run_apepy

from apepy import manifest, sources, zipstore

PINS = {"numpy": "numpy==2.4.6", "pandas": "pandas==3.1.1"}
CSV_REPORT = REPO / "examples" / "csv-report"

NUMPY_SMOKE = r"""
import contextlib, io, json
import numpy as np
a = np.arange(6.0).reshape(2, 3)
config = io.StringIO()
with contextlib.redirect_stdout(config):
    np.show_config()
print(json.dumps({
    "version": np.__version__,
    "matmul": (a @ a.T).tolist(),
    "solve": np.linalg.solve([[3.0, 1.0], [1.0, 2.0]], [9.0, 8.0]).round(12).tolist(),
    "fft": np.fft.fft([1.0, 0.0, 0.0, 0.0]).real.tolist(),
    "rng": np.random.default_rng(42).integers(0, 100, 5).tolist(),
    "mtrand": float(np.random.RandomState(1).uniform()),
    "config": config.getvalue(),
    "origin": np._core._multiarray_umath.__spec__.origin,
}))
"""


@pytest.fixture(scope="module")
@builds
def data_base(tmp_path_factory: pytest.TempPathFactory, release: sources.Release) -> Path:
    out = tmp_path_factory.mktemp("data") / "python"
    apepy_ok(
        "build", "--python", release.version, "--with", PINS["numpy"], "--with", PINS["pandas"],
        "-o", out,
    )  # fmt: skip
    return out


def test_numpy_works_beyond_import(data_base: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [str(data_base), "-c", NUMPY_SMOKE], capture_output=True, text=True, cwd=tmp_path, env={}
    )
    assert run.returncode == 0, run.stderr
    check_numpy(json.loads(run.stdout))


def check_numpy(got: dict[str, Any]) -> None:
    """NUMPY_SMOKE's answers, the same from every interpreter numpy is compiled into."""
    assert got["version"] == PINS["numpy"].split("==")[1]
    assert got["matmul"] == [[5.0, 14.0], [14.0, 50.0]]
    assert got["solve"] == [2.0, 3.0]
    assert got["fft"] == [1.0, 1.0, 1.0, 1.0]
    # numpy's documented stream for this seed (PCG64), and MT19937's first double.
    assert got["rng"] == [8, 77, 65, 43, 43]
    assert got["mtrand"] == 0.417022004702574
    assert "Build Dependencies" in got["config"]
    assert got["origin"] == "built-in"


def test_csv_report_runs_from_one_file(data_base: Path, tmp_path: Path) -> None:
    app = tmp_path / "csv-report"
    bundled = run_apepy("bundle", CSV_REPORT, "--base", data_base, "-o", app)
    assert bundled.returncode == 0, bundled.stderr
    assert "provided by the base interpreter" in bundled.stderr
    # pandas' own dependencies come with the base: not installed a second time.
    assert re.search(r"python[-_]dateutil: provided by the base interpreter", bundled.stderr)
    deep = run_apepy("verify", "--deep", app)
    assert deep.returncode == 0, deep.stdout + deep.stderr
    check_csv_report([str(app)], tmp_path / "empty")


def check_csv_report(command: list[str], work: Path) -> None:
    """Run the bundled csv-report (``command`` starts it) from the empty directory
    ``work`` with an empty environment, and check its report."""
    work.mkdir()
    shutil.copy(CSV_REPORT / "sales.csv", work / "sales.csv")
    run = subprocess.run(
        ["env", "-i", *command, "sales.csv", "-o", "report.json"],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert run.returncode == 0, run.stderr
    assert "sales.csv: 6 rows; columns: region, product, units, revenue" in run.stdout
    assert [line.split() for line in run.stdout.splitlines() if line.startswith("north")] == [
        ["north", "165", "375.0"]
    ]
    report = json.loads((work / "report.json").read_text())
    assert report["rows"] == 6 and report["by"] == "region"
    assert report["groups"]["south"] == {"units": 110, "revenue": 250.0}
    assert report["totals"] == {"units": 360.0, "revenue": 765.0}
    assert report["describe"]["units"]["max"] == 120.0
    assert report["share"] == {"east": 0.2361, "north": 0.4583, "south": 0.3056}
    # A wrong input is one line, not a traceback.
    bad = subprocess.run(
        ["env", "-i", *command, "missing.csv"], capture_output=True, text=True, cwd=work
    )
    assert bad.returncode == 1 and bad.stderr.startswith("csv-report: cannot read missing.csv")


def test_the_base_imports_pandas_by_itself(data_base: Path, tmp_path: Path) -> None:
    """`pip install pandas` brings python-dateutil along; a base built --with pandas
    carries it in its site-packages, resolved for the base and recorded with its hash."""
    alone = tmp_path / "empty"
    alone.mkdir()
    copy = alone / "python"
    shutil.copy(data_base, copy)
    code = (
        "import json, pandas, dateutil; "
        "print(json.dumps([pandas.Timestamp('2026-12-05').day_name(), "
        "pandas.to_datetime(['5 Dec 2026']).strftime('%F').tolist(), dateutil.__file__]))"
    )
    run = subprocess.run(
        ["env", "-i", "./python", "-c", code], capture_output=True, text=True, cwd=alone
    )
    assert run.returncode == 0, run.stderr
    day, parsed, where = json.loads(run.stdout)
    assert (day, parsed) == ("Saturday", ["2026-12-05"])
    assert where.startswith(str(copy) + "/Lib/site-packages/dateutil/")
    found = manifest.read(copy)
    assert found is not None
    needs = {d.name: d for d in found.runtime_dependencies}
    assert needs["python-dateutil"].required_by == ("pandas",)
    assert all(len(d.sha256) == 64 and d.wheel.endswith("-none-any.whl") for d in needs.values())
    # What only numpy's and pandas' tests use is left out: modules and tests/ folders.
    assert not [m for m in found.builtin_modules if m.endswith("_tests") or m.endswith("._simd")]
    names = [m.name for m in zipstore.read_archive(copy).members]
    assert not [n for n in names if "/tests/" in n]
    assert "Lib/site-packages/numpy/testing/__init__.py" in names
    # RECORDs list what is installed; the SBOM names the dependencies, as the file holds.
    deep = run_apepy("verify", "--deep", copy)
    assert deep.returncode == 0, deep.stdout + deep.stderr
    assert "run-time dependencies" not in deep.stdout + deep.stderr


@pytest.mark.build
def test_a_dependency_with_a_c_part_names_its_with(
    data_base: Path, tmp_path: Path, release: sources.Release
) -> None:
    """pandas needs numpy, which pip has no pure-Python wheel of: one error naming the
    --with to add, before any build (pandas' PKG-INFO is final metadata)."""
    out = tmp_path / "python"
    result = run_apepy("build", "--python", release.version, "--with", PINS["pandas"], "-o", out)
    assert result.returncode == 1, result.stderr
    assert "error: pandas needs numpy, which has no pure-Python wheel" in result.stderr
    assert "--with numpy" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    assert "extension pandas" not in result.stderr and "built in before" not in result.stderr
