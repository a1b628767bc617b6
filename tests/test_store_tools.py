"""apepy ls | cat | add | rm | verify | info on a real APE and on damaged files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import run_apepy


def unzip_listing(path: Path) -> list[str]:
    result = subprocess.run(["unzip", "-Z1", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def pledge_usage(path: Path) -> str:
    # An APE starts as a shell script: the kernel refuses to exec it (ENOEXEC) unless
    # binfmt_misc knows APE, so it is started the way a shell starts it.
    result = subprocess.run(["/bin/sh", "-c", '"$0" -h', str(path)], capture_output=True, text=True)
    return result.stdout + result.stderr


def test_ls_matches_info_zip(pledge: Path) -> None:
    result = run_apepy("ls", pledge)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == unzip_listing(pledge)
    long = run_apepy("ls", "-l", pledge).stdout
    assert "sandbox-x86_64.so" in long and "deflate" in long


def test_info_knows_an_ape(pledge: Path) -> None:
    result = run_apepy("info", pledge)
    assert result.returncode == 0, result.stderr
    assert "Actually Portable Executable (APE)" in result.stdout
    for loader in ("shell script", "Windows PE", "ELF x86_64", "ELF aarch64", "Mach-O x86_64"):
        assert loader in result.stdout, loader
    assert "5 files" in result.stdout


def test_info_says_a_host_build_is_not_an_ape(built_python: Path) -> None:
    result = run_apepy("info", built_python)
    assert result.returncode == 0, result.stderr
    import platform

    assert f"ELF 64-bit {platform.machine()}" in result.stdout and "APE" not in result.stdout


def test_add_and_rm_keep_the_ape_running(pledge: Path, tmp_path: Path) -> None:
    usage = pledge_usage(pledge)
    assert "usage: pledge" in usage
    extra = tmp_path / "extra"
    (extra / "sub").mkdir(parents=True)
    (extra / "hello.txt").write_text("hello\n")
    (extra / "sub" / "mod.pyc").write_bytes(b"\x00" * 16)
    assert run_apepy("add", pledge, extra).returncode == 0
    assert pledge_usage(pledge) == usage
    listing = unzip_listing(pledge)
    assert {"extra/", "extra/sub/", "extra/hello.txt", "extra/sub/mod.pyc"} <= set(listing)
    assert run_apepy("cat", pledge, "extra/hello.txt").stdout == "hello\n"
    assert run_apepy("verify", pledge).returncode == 0
    size_before = pledge.stat().st_size
    result = run_apepy("rm", pledge, "extra/*", "extra/", ".symtab.arm64")
    assert result.returncode == 0, result.stderr
    assert pledge.stat().st_size < size_before - 13000  # compacted, not just unlisted
    assert pledge_usage(pledge) == usage
    assert unzip_listing(pledge) == [
        ".symtab.amd64",
        "sandbox-x86_64.so",
        ".cosmo",
        "sandbox-aarch64.so",
    ]
    assert subprocess.run(["unzip", "-tq", str(pledge)], capture_output=True).returncode == 0
    assert run_apepy("verify", pledge).returncode == 0


def test_add_with_prefix_and_replace(pledge: Path, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one")
    assert run_apepy("add", pledge, tmp_path / "a.txt", "--at", "Lib/site-packages").returncode == 0
    (tmp_path / "a.txt").write_text("two")
    result = run_apepy("add", pledge, tmp_path / "a.txt", "--at", "Lib/site-packages")
    assert "replaced 1" in result.stderr
    assert run_apepy("cat", pledge, "Lib/site-packages/a.txt").stdout == "two"
    assert unzip_listing(pledge).count("Lib/site-packages/a.txt") == 1


@pytest.mark.parametrize("at", ["../evil", "/abs", "a/../../b"])
def test_add_refuses_escaping_names(pledge: Path, tmp_path: Path, at: str) -> None:
    before = pledge.read_bytes()
    (tmp_path / "x.txt").write_text("x")
    result = run_apepy("add", pledge, tmp_path / "x.txt", "--at", at)
    assert result.returncode == 1 and "refusing member name" in result.stderr
    assert "Traceback" not in result.stderr
    assert pledge.read_bytes() == before


def test_truncated_file(pledge: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut"
    cut.write_bytes(pledge.read_bytes()[:-100])
    for command in ("ls", "verify", "info"):
        result = run_apepy(command, cut)
        assert result.returncode == 1, command
        assert "no zip archive" in result.stderr or "truncated" in result.stderr
        assert "Traceback" not in result.stderr


def test_verify_finds_a_bad_crc(pledge: Path, tmp_path: Path) -> None:
    data = bytearray(pledge.read_bytes())
    # Flip one byte inside sandbox-x86_64.so's compressed data.
    import zipfile

    with zipfile.ZipFile(pledge) as archive:
        info = archive.getinfo("sandbox-x86_64.so")
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 100] ^= 0xFF
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(data))
    result = run_apepy("verify", bad)
    assert result.returncode == 1
    assert "sandbox-x86_64.so" in result.stderr and (
        "CRC" in result.stderr or "inflate" in result.stderr
    )
    before = bad.read_bytes()
    assert run_apepy("rm", bad, "nothing-matches").returncode == 1
    assert bad.read_bytes() == before


def test_verify_finds_relative_offsets(tmp_path: Path) -> None:
    """`cat exe a.zip` leaves offsets relative to the zip: zipimport copes, zipos does not."""
    import zipfile

    inner = tmp_path / "a.zip"
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("x.txt", "x")
    glued = tmp_path / "glued"
    glued.write_bytes(Path("/bin/true").read_bytes() + inner.read_bytes())
    result = run_apepy("verify", glued)
    assert result.returncode == 1 and "offsets are relative" in result.stderr


def test_cat_missing_member(pledge: Path) -> None:
    result = run_apepy("cat", pledge, "nope")
    assert result.returncode == 1 and "has no member 'nope'" in result.stderr
