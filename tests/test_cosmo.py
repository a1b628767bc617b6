"""The cosmo toolchain up to the point where cosmocc itself would run.

cosmocc cannot be downloaded on these machines. What is tested here is real:
finding an unpacked cosmocc and reading its version, refusing wrong versions,
downloading a release through a local mirror with its sha256 checked, unpacking
with the programs' execute bits, the toolchain's compilers and flags for each
--arch, the qemu-user check, and `apepy doctor`.
"""

from __future__ import annotations

import dataclasses
import zipfile
from pathlib import Path

import pytest
from conftest import fake_layout, run_apepy, serve_directory

from apepy import toolchains
from apepy.errors import ApepyError
from apepy.hashing import sha256_file
from apepy.toolchains import cosmo


def release_zip(tmp_path: Path, version: str) -> Path:
    tree = fake_layout(tmp_path / "tree", version)
    archive = tmp_path / "mirror" / f"cosmocc-{version}.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(tree.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(tree).as_posix())
                info.external_attr = (0o100755 if path.parent.name == "bin" else 0o100644) << 16
                zf.writestr(info, path.read_bytes())
    return archive


def test_explicit_directory_and_version_checks(tmp_path: Path) -> None:
    root = fake_layout(tmp_path / "cosmocc")
    assert cosmo.locate(root, offline=True) == (root, "4.0.2")
    old = fake_layout(tmp_path / "old", "3.3.1")
    with pytest.raises(
        ApepyError, match=r"cosmocc 3\.3\.1 \(from --cosmocc\) is not a version apepy supports"
    ):
        cosmo.locate(old, offline=True)
    with pytest.raises(ApepyError, match="has no bin/cosmocc"):
        cosmo.locate(tmp_path, offline=True)


def test_found_on_path_and_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = fake_layout(tmp_path / "opt" / "cosmocc")
    monkeypatch.delenv(cosmo.ENV, raising=False)
    monkeypatch.setenv("PATH", f"{root / 'bin'}:/usr/bin:/bin")
    assert cosmo.locate(None, offline=True) == (root, "4.0.2")
    monkeypatch.setenv(cosmo.ENV, str(tmp_path / "nowhere"))
    with pytest.raises(ApepyError, match=r"\$COSMOCC points at"):
        cosmo.locate(None, offline=True)


def test_release_download_verify_unpack(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = release_zip(tmp_path, "4.0.2")
    release = cosmo.Release("4.0.2", "https://unused.invalid/x.zip", sha256_file(archive))
    with serve_directory(archive.parent) as url:
        monkeypatch.setenv(cosmo.MIRROR_ENV, url)
        root = cosmo.ensure_release(release, offline=False)
    assert cosmo.version_of(root) == "4.0.2"
    assert (root / "bin" / "cosmocc").stat().st_mode & 0o111
    # Cached now: no server, offline, same answer.
    assert cosmo.ensure_release(release, offline=True) == root


def test_tampered_release_is_refused_and_deleted(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = release_zip(tmp_path, "4.0.2")
    pinned = dataclasses.replace(cosmo.DEFAULT)
    with serve_directory(archive.parent) as url:
        monkeypatch.setenv(cosmo.MIRROR_ENV, url)
        with pytest.raises(ApepyError, match="sha256"):
            cosmo.ensure_release(pinned, offline=False)
    leftovers = [
        p.name for p in (isolated_cache / "toolchains").iterdir() if not p.name.endswith(".lock")
    ]
    assert leftovers == []


def test_toolchain_arguments_per_arch(tmp_path: Path) -> None:
    root = fake_layout(tmp_path / "cosmocc")
    fat = cosmo.toolchain(root, "4.0.2", "fat")
    assert (Path(fat.cc).name, Path(fat.cxx or "").name, Path(fat.ar).name) == (
        "cosmocc",
        "cosmoc++",
        "cosmoar",
    )
    assert (
        toolchains.family(fat).OUTPUT_KIND == "ape"
        and fat.strip is None
        and fat.fat
        and not fat.shared_objects
    )
    # Every C library comes from apepy's builds: cosmocc's search path has none.
    assert toolchains.system_library(fat, "libz.a") is None
    assert fat.target == "cosmo-x86_64+aarch64"
    one = cosmo.toolchain(root, "4.0.2", "x86_64")
    assert (Path(one.cc).name, Path(one.ar).name, Path(one.objcopy or "").name) == (
        "x86_64-unknown-cosmo-cc",
        "x86_64-linux-cosmo-ar",
        "x86_64-linux-cosmo-objcopy",
    )
    assert fat.identity() != one.identity()
    # detect() with this directory builds the same description.
    assert cosmo.detect(toolchains.Options(arch="x86_64", cosmocc=root)) == one
    with pytest.raises(ApepyError, match="unknown --arch"):
        cosmo.detect(toolchains.Options(arch="riscv64", cosmocc=root))


def test_aarch64_needs_qemu_user_on_an_x86_64_host(tmp_path: Path) -> None:
    import os

    if os.uname().machine != "x86_64":
        pytest.fail("this test describes an x86_64 host")
    has_qemu = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64").exists()
    if has_qemu:
        assert cosmo.qemu_for("aarch64") == "qemu-aarch64"
    else:
        with pytest.raises(ApepyError, match="under qemu-user, which is not installed") as info:
            cosmo.qemu_for("aarch64")
        assert "apt-get install qemu-user-static" in str(info.value.hint)
    assert cosmo.qemu_for("fat") is None and cosmo.qemu_for("x86_64") is None


def test_cli_with_a_wrong_cosmocc_directory(tmp_path: Path) -> None:
    result = run_apepy("build", "--toolchain", "cosmo", "--cosmocc", tmp_path, "-o", tmp_path / "p")
    assert result.returncode == 1 and "has no bin/cosmocc" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "p").exists()


def test_doctor_reports(tmp_path: Path) -> None:
    root = fake_layout(tmp_path / "cosmocc")
    result = run_apepy("doctor", "--cosmocc", root)
    assert result.returncode == 0, result.stderr
    assert "host toolchain" in result.stderr and f"4.0.2 at {root}" in result.stderr
    assert "APE loader: " in result.stderr


def test_a_cosmocc_without_a_program_apepy_runs_is_named(tmp_path: Path) -> None:
    root = fake_layout(tmp_path / "cosmocc")
    (root / "bin" / "x86_64-linux-cosmo-objcopy").unlink()
    with pytest.raises(ApepyError) as info:
        cosmo.detect(toolchains.Options(arch="x86_64", cosmocc=root))
    assert "lacks" in info.value.message and "x86_64-linux-cosmo-objcopy" in info.value.message
    assert "cosmocc-4.0.2.zip" in (info.value.hint or "")
    # With every program there, the same directory is a toolchain.
    (root / "bin" / "x86_64-linux-cosmo-objcopy").write_text("#!/bin/sh\nexit 0\n")
    (root / "bin" / "x86_64-linux-cosmo-objcopy").chmod(0o755)
    assert (
        cosmo.detect(toolchains.Options(arch="x86_64", cosmocc=root))
        .output_from_link[0]
        .endswith("x86_64-linux-cosmo-objcopy")
    )


def test_a_meson_package_cross_compiles_to_the_ape(tmp_path: Path) -> None:
    """meson runs what it compiles: an APE only through a shell, one architecture's ELF
    directly; numpy's per-architecture SIMD cannot be built fat."""
    from apepy.extensions import cross

    root = fake_layout(tmp_path / "cosmocc")
    fat = cosmo.toolchain(root, "4.0.2", "fat")
    machine = toolchains.cross_machine(fat)
    assert machine is not None and machine.exe_wrapper == ("/bin/sh",)
    text = cross.cross_file(
        machine,
        cc=tmp_path / "bin" / "cc",
        cxx=tmp_path / "bin" / "c++",
        ar=fat.ar,
        python=Path("/py/bin/python3.13"),
        pkg_config="pkg-config",
    )
    assert f"c = '{tmp_path}/bin/cc'" in text and "python = '/py/bin/python3.13'" in text
    assert "exe_wrapper = ['/bin/sh']" in text and "needs_exe_wrapper = true" in text
    assert "[host_machine]\nsystem = 'linux'\ncpu_family = 'x86_64'" in text
    cross_ini = tmp_path / "cross.ini"
    assert cross.meson_options("NumPy", cross_ini, fat) == [
        f"--config-settings=setup-args=--cross-file={cross_ini}",
        "--config-settings=setup-args=-Ddisable-optimization=true",
        "--config-settings=setup-args=-Ddisable-svml=true",
    ]
    # pandas picks xsimd's SSE2 or NEON code by the CPU family: a fat build is neither.
    assert cross.meson_options("pandas", cross_ini, fat)[-1] == (
        f"--config-settings=setup-args=--cross-file={tmp_path / 'neither-cpu.ini'}"
    )
    assert "cpu_family = 'unknown'" in (tmp_path / "neither-cpu.ini").read_text()
    # Pillow looks in /usr/include and /usr/lib unless told not to.
    assert cross.package_options("Pillow") == ["--config-settings=platform-guessing=disable"]
    one = cosmo.toolchain(root, "4.0.2", "aarch64")
    single = toolchains.cross_machine(one)
    assert single is not None and single.cpu_family == "aarch64" and not single.exe_wrapper
    assert cross.meson_options("numpy", cross_ini, one) == [
        f"--config-settings=setup-args=--cross-file={cross_ini}"
    ]
    assert toolchains.cxx_runtime(fat) == ("-lcxx",)
