"""Bad input and broken machines: one clear message, a non-zero exit, nothing written."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import run_apepy

from apepy import sources


def assert_clean_failure(result: object, *needles: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert stderr.count("error:") == 1, stderr
    for needle in needles:
        assert needle in stderr, stderr


def build_offline(release: sources.Release, out: Path, env: dict[str, str]) -> object:
    return run_apepy("build", "--python", release.version, "--offline", "-o", out, env=env)


def test_no_arguments_prints_help() -> None:
    result = run_apepy()
    assert result.returncode == 2
    assert "build" in result.stdout and "info" in result.stdout


def test_help_explains_each_command() -> None:
    result = run_apepy("--help")
    for command in ("build", "info", "cache"):
        assert command in result.stdout
    build_help = run_apepy("build", "--help").stdout
    for flag in ("--python", "--source", "--toolchain", "--exclude-module", "--offline"):
        assert flag in build_help


def test_no_c_compiler(tmp_path: Path, release: sources.Release) -> None:
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    result = build_offline(release, tmp_path / "python", {"PATH": str(empty_path), "CC": ""})
    assert_clean_failure(result, "no C compiler found", "build-essential")
    assert not (tmp_path / "python").exists()


def test_compiler_named_by_cc_does_not_exist(tmp_path: Path, release: sources.Release) -> None:
    result = build_offline(release, tmp_path / "python", {"CC": "/nonexistent/cc"})
    assert_clean_failure(result, "no C compiler found")


def test_missing_static_library_names_the_debian_package(
    tmp_path: Path, release: sources.Release
) -> None:
    """A real compiler that cannot find libffi.a: the build stops before configure."""
    wrapper = tmp_path / "cc"
    wrapper.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = "-print-file-name=libffi.a" ] && { echo libffi.a; exit 0; }; done\n'
        'exec gcc "$@"\n'
    )
    wrapper.chmod(0o755)
    result = build_offline(release, tmp_path / "python", {"CC": str(wrapper)})
    assert_clean_failure(
        result, "libffi.a for _ctypes", "apt-get install libffi-dev", "--exclude-module"
    )
    assert not (tmp_path / "python").exists()


def test_cosmo_without_cosmocc_offline_says_where_to_get_it(
    tmp_path: Path, isolated_cache: Path
) -> None:
    result = run_apepy(
        "build", "--toolchain", "cosmo", "--offline", "-o", tmp_path / "python", env={"COSMOCC": ""}
    )
    assert_clean_failure(result, "cosmocc 4.0.2 is not in the cache")
    assert "--cosmocc DIR" in result.stderr and "cosmocc-4.0.2.zip" in result.stderr


def test_info_on_a_file_without_a_zip(tmp_path: Path) -> None:
    result = run_apepy("info", "/bin/true")
    assert_clean_failure(result, "has no zip archive")
    result = run_apepy("info", tmp_path / "missing")
    assert_clean_failure(result, "does not exist")


def test_output_is_a_directory(tmp_path: Path) -> None:
    result = run_apepy("build", "-o", tmp_path)
    assert_clean_failure(result, "is a directory")


def test_bad_source_date_epoch(tmp_path: Path, release: sources.Release) -> None:
    result = build_offline(release, tmp_path / "python", {"SOURCE_DATE_EPOCH": "yesterday"})
    assert_clean_failure(result, "SOURCE_DATE_EPOCH")


def test_python_m_apepy_works() -> None:
    result = run_apepy("--version")
    assert result.returncode == 0 and result.stdout.startswith("apepy ")
    assert os.path.basename(sys.executable).startswith("python")


def test_paths_that_look_like_markup_are_printed_as_they_are(tmp_path: Path, pledge: Path) -> None:
    # "d[/e]f" would be a closing tag to rich: printing it must neither crash nor drop it.
    odd = tmp_path / "d[" / "e]f"
    odd.mkdir(parents=True)
    target = odd / "pledge"
    pledge.rename(target)
    verify = run_apepy("verify", target)
    assert verify.returncode == 0, verify.stderr
    assert f"{target}:" in verify.stderr
    added = run_apepy("add", target, pledge.parent / "conftest-free.txt")
    assert added.returncode != 0 and "conftest-free.txt" in added.stderr
    (tmp_path / "[bold]note.txt").write_text("hi")
    added = run_apepy("add", target, tmp_path / "[bold]note.txt")
    assert added.returncode == 0, added.stderr
    assert f"members in {target}" in added.stderr.replace("\n", "")


def test_freeze_on_a_series_that_deep_freezes(tmp_path: Path) -> None:
    result = run_apepy("build", "--python", "3.11", "--freeze", "--offline", "-o", tmp_path / "py")
    assert result.returncode == 1
    assert "error: --freeze needs CPython 3.13 or newer; this is 3.11." in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "py").exists()


LOCK_HEAD = 'lock-version = "1.0"\ncreated-by = "test"\n'
FLASK_WHEEL = '[[packages]]\nname = "flask"\nversion = "3.1.3"\n[[packages.wheels]]\nname = "flask-3.1.3-py3-none-any.whl"\npath = "flask-3.1.3-py3-none-any.whl"\n'


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        (LOCK_HEAD + "[[packages]\n", ("is not valid TOML", "line 3")),
        ('created-by = "test"\npackages = []\n', ("not a valid PEP 751 lock", "lock-version")),
        (LOCK_HEAD + FLASK_WHEEL, ("(package flask)", "hashes")),
        ('lock-version = "2.0"\ncreated-by = "test"\npackages = []\n', ("version 2.0",)),
    ],
    ids=["bad-toml", "no-lock-version", "no-hashes", "newer-version"],
)
def test_malformed_lock(tmp_path: Path, text: str, needles: tuple[str, ...]) -> None:
    """Refused before any work (the base is not even looked at), nothing written."""
    (tmp_path / "pylock.toml").write_text(text)
    out = tmp_path / "out"
    result = run_apepy(
        "bundle",
        tmp_path / "pylock.toml",
        "--base",
        tmp_path / "nobase",
        "-o",
        out,
        "--lock-out",
        tmp_path / "lock-out.toml",
    )
    assert_clean_failure(result, *needles, "--lock-out pylock.toml")
    assert not out.exists() and not (tmp_path / "lock-out.toml").exists()


def test_locked_without_a_lock(tmp_path: Path) -> None:
    project = tmp_path / "app"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "app"\ndependencies = ["flask"]\n')
    result = run_apepy("bundle", project, "--locked", "--base", tmp_path / "nobase")
    assert_clean_failure(result, "--locked needs a lock", "--lock-out pylock.toml")


def test_sbom_of_a_file_without_one(tmp_path: Path) -> None:
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("a.txt", "a")
    result = run_apepy("sbom", plain)
    assert_clean_failure(result, "carries no SBOM")
