"""The run-time dependencies of compiled-in packages: which Requires-Dist apply, and the
error naming the --with a dependency with a C part needs, read from pip's own words
(lines as pip 24 prints them). The resolution itself runs in the build tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from installer.sources import WheelFile

from apepy import runtime_deps
from apepy.errors import ApepyError

PKG_INFO = (
    "Metadata-Version: 2.4\nName: pandas\nVersion: 3.1.1\n"
    'Requires-Dist: numpy>=2.0.2; python_version < "3.14"\n'
    'Requires-Dist: numpy>=2.3.3; python_version >= "3.14"\n'
    "Requires-Dist: python-dateutil>=2.9.0\n"
    "Requires-Dist: pytest>=8; extra == 'test'\n\n"
    "Requires-Dist: a line of the long description, not a header\n"
)
PANDAS = runtime_deps.Provided.from_metadata(PKG_INFO)


def test_requirements_for_the_bases_python() -> None:
    found = [str(r) for r in runtime_deps.requirements(PANDAS, "3.13.15")]
    assert found == ['numpy>=2.0.2; python_version < "3.14"', "python-dateutil>=2.9.0"]
    later = [r.name for r in runtime_deps.requirements(PANDAS, "3.14.6")]
    assert later == ["numpy", "python-dateutil"]


def test_a_dependency_without_a_pure_wheel_names_the_with_it_needs() -> None:
    pip_said = (
        "Processing /tmp/apepy-stand-ins-x/pandas-3.1.1-py3-none-any.whl\n"
        "ERROR: Could not find a version that satisfies the requirement numpy>=2.0.2; "
        'python_version < "3.14" (from pandas) (from versions: none)\n'
        'ERROR: No matching distribution found for numpy>=2.0.2; python_version < "3.14"\n'
    )
    with pytest.raises(ApepyError) as caught:
        runtime_deps._explain(pip_said, {"pandas"}, Path("build.log"))
    assert caught.value.message.startswith("pandas needs numpy, which has no pure-Python wheel")
    assert "--with numpy" in (caught.value.hint or "")


def test_through_a_pure_dependency() -> None:
    pip_said = (
        "Collecting aiosignal>=1.4 (from aiohttp==3.14.5)\n"
        "ERROR: Could not find a version that satisfies the requirement frozenlist>=1.1.0 "
        "(from aiosignal>=1.4->aiohttp==3.14.5) (from versions: none)\n"
        "ERROR: No matching distribution found for frozenlist>=1.1.0\n"
    )
    with pytest.raises(ApepyError) as caught:
        runtime_deps._explain(pip_said, {"aiohttp"}, Path("build.log"))
    assert caught.value.message.startswith(
        "aiohttp needs frozenlist (through aiosignal), which has no pure-Python wheel"
    )


def test_anything_else_is_pips_failure_with_its_words() -> None:
    with pytest.raises(ApepyError) as caught:
        runtime_deps._explain("ERROR: network is unreachable\n", {"pandas"}, Path("b.log"))
    assert caught.value.message.startswith("pip could not resolve")
    assert "network is unreachable" in (caught.value.details or "")


def test_the_stand_in_is_a_valid_wheel_with_the_packages_metadata(tmp_path: Path) -> None:
    assert PANDAS.requires[-1] == "pytest>=8; extra == 'test'"
    wheel = runtime_deps._stand_in(PANDAS, tmp_path)
    assert wheel.name == "pandas-3.1.1-py3-none-any.whl"
    with WheelFile.open(wheel) as source:
        source.validate_record()
    with zipfile.ZipFile(wheel) as archive:
        assert not [n for n in archive.namelist() if not n.startswith("pandas-3.1.1.dist-info/")]
    assert runtime_deps.Provided.from_wheel(wheel) == PANDAS


def _sdist(folder: Path, pkg_info: str) -> Path:
    path = folder / "pandas-3.1.1.tar.gz"
    data = pkg_info.encode()
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("pandas-3.1.1/PKG-INFO")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_an_sdists_final_metadata_is_read_before_the_build(tmp_path: Path) -> None:
    assert runtime_deps.Provided.from_sdist(_sdist(tmp_path, PKG_INFO)) == PANDAS
    # Metadata 2.1, or Requires-Dist marked dynamic: known only once the wheel is built.
    old = PKG_INFO.replace("Metadata-Version: 2.4", "Metadata-Version: 2.1")
    assert runtime_deps.Provided.from_sdist(_sdist(tmp_path, old)) is None
    dynamic = PKG_INFO.replace("Version: 3.1.1\n", "Version: 3.1.1\nDynamic: Requires-Dist\n")
    assert runtime_deps.Provided.from_sdist(_sdist(tmp_path, dynamic)) is None
