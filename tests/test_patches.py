"""apepy's source edits, applied to the real CPython sources in the cache."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

import pytest
from conftest import real_cache_root

from apepy import sources
from apepy.errors import ApepyError
from apepy.interpreter import freeze, patches
from apepy.layout import FROZEN_PREFIX
from apepy.toolchains import cosmo_cpython

LOCAL = [r for r in sources.RELEASES if (real_cache_root() / "sources" / r.filename).is_file()]


def partial_tree(release: sources.Release, dest: Path) -> Path:
    """Unpack only the files the edits touch."""
    wanted = {edit.path for edit in patches.patch_set(release.version)}
    wanted |= {e.path for e in cosmo_cpython.SOURCE_EDITS}
    with tarfile.open(real_cache_root() / "sources" / release.filename) as tar:
        top = f"Python-{release.version}"
        members = [m for m in tar.getmembers() if m.name.removeprefix(top + "/") in wanted]
        tar.extractall(dest, members=members, filter="data")
    return dest / top


def test_a_local_release_is_available() -> None:
    assert LOCAL, "run scripts/setup: no CPython tarball in the source cache"


@pytest.mark.parametrize("release", LOCAL, ids=lambda r: r.version)
def test_patch_set_applies_cleanly(release: sources.Release, tmp_path: Path) -> None:
    tree = partial_tree(release, tmp_path)
    applied = patches.apply(tree, release.version)
    assert applied == [e.name for e in patches.patch_set(release.version)]
    getpath = (tree / "Modules/getpath.py").read_text()
    assert "apepy: the standard library lives in the zip" in getpath
    compile(getpath, "getpath.py", "exec")  # still valid Python
    ssl_py = (tree / "Lib/ssl.py").read_text()
    assert "_apepy.load_fallback_cas(self)" in ssl_py
    compile(ssl_py, "ssl.py", "exec")


@pytest.mark.parametrize("release", LOCAL, ids=lambda r: r.version)
def test_a_patch_that_does_not_apply_names_version_and_hunk(
    release: sources.Release, tmp_path: Path
) -> None:
    tree = partial_tree(release, tmp_path)
    ssl_py = tree / "Lib/ssl.py"
    ssl_py.write_text(ssl_py.read_text().replace("self.set_default_verify_paths()", "pass"))
    before = (tree / "Modules/getpath.py").read_text()
    with pytest.raises(ApepyError) as info:
        patches.apply(tree, release.version)
    message = str(info.value)
    assert release.version in message and "ssl: CA bundle fallback" in message
    assert "set_default_verify_paths" in (info.value.hint or "")
    # Nothing was written: the getpath edit, which would have applied, was not made.
    assert (tree / "Modules/getpath.py").read_text() == before


@pytest.mark.parametrize(
    "release", [r for r in LOCAL if freeze.applies(r.version)], ids=lambda r: r.version
)
def test_the_hot_modules_parse_in_cpythons_own_freeze_script(
    release: sources.Release, tmp_path: Path
) -> None:
    top = f"Python-{release.version}"
    with tarfile.open(real_cache_root() / "sources" / release.filename) as tar:
        members = [
            m
            for m in tar.getmembers()
            if m.name.startswith((f"{top}/Lib/", f"{top}/Tools/build/", f"{top}/Tools/scripts/"))
        ]
        tar.extractall(tmp_path, members=members, filter="data")
    tree = tmp_path / top
    edit = freeze.edit(tree)
    patches.apply(tree, release.version, (edit,))
    script = tree / edit.path
    namespace: dict[str, object] = {"__name__": "freeze_modules", "__file__": str(script)}
    sys.path.insert(0, str(script.parent))
    try:
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        parsed = {m.name: m for m in namespace["parse_frozen_specs"]()}  # type: ignore[operator]
    finally:
        sys.path.remove(str(script.parent))
    present = freeze.present(tree)
    assert len(present) > 150 and "asyncio" in present and "json.decoder" in present
    for name, package in present.items():
        module = parsed[FROZEN_PREFIX + name]
        tail = "/__init__.py" if package else ".py"
        assert module.pyfile == f"{tree}/Lib/{name.replace('.', '/')}{tail}"
        assert Path(module.pyfile).is_file()
    # A dotted package (the script's bracket form cannot name it) is frozen from its __init__.
    assert parsed[FROZEN_PREFIX + "concurrent.futures"].pyfile.endswith(
        "Lib/concurrent/futures/__init__.py"
    )
    # CPython's own start-up set is untouched.
    assert parsed["os"].pyfile.endswith("Lib/os.py")


@pytest.mark.parametrize("release", LOCAL, ids=lambda r: r.version)
def test_the_cosmo_toolchains_own_edits_apply_after_apepys(
    release: sources.Release, tmp_path: Path
) -> None:
    tree = partial_tree(release, tmp_path)
    edits = (*patches.patch_set(release.version), *cosmo_cpython.SOURCE_EDITS)
    patches.apply(tree, release.version, edits)
    python_c = (tree / "Programs/python.c").read_text()
    assert "(*argv)[0] = (char *)path;" in python_c
    getpath = (tree / "Modules/getpath.py").read_text()
    assert "isfile('/proc/self/exe')" not in getpath
    compile(getpath, "getpath.py", "exec")
    ctypes_init = (tree / "Lib/ctypes/__init__.py").read_text()
    assert "except OSError:  # apepy (cosmo)" in ctypes_init
    compile(ctypes_init, "ctypes/__init__.py", "exec")


def test_the_address_family_header_maps_families_to_constants(tmp_path: Path) -> None:
    """apepy_af() gives each family its constant, anything else APEPY_AF_OTHER: compiled
    and run with the host's compiler, where AF_* are plain numbers."""
    import subprocess

    from apepy import portcosmo

    (tmp_path / portcosmo.HEADER).write_text(portcosmo._header())
    (tmp_path / "main.c").write_text(
        f'#include "{portcosmo.HEADER}"\n'
        "#include <stdio.h>\n"
        "int main(void) {\n"
        "    switch (apepy_af(AF_INET6)) { case APEPY_AF_INET: return 1; case APEPY_AF_INET6: break; default: return 2; }\n"
        '    printf("%d %d %d %d\\n", apepy_af(AF_UNSPEC) == APEPY_AF_UNSPEC, apepy_af(AF_UNIX) == APEPY_AF_UNIX,\n'
        "           apepy_af(AF_PACKET) == APEPY_AF_PACKET, apepy_af(4242) == APEPY_AF_OTHER);\n"
        "    return 0;\n}\n"
    )
    subprocess.run(
        ["cc", "-Wall", "-Werror", "-o", tmp_path / "main", tmp_path / "main.c"], check=True
    )
    out = subprocess.run([tmp_path / "main"], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["1", "1", "1", "1"]


@pytest.mark.parametrize("release", LOCAL, ids=lambda r: r.version)
def test_the_portable_edits_rewrite_every_family_case(
    release: sources.Release, tmp_path: Path
) -> None:
    """No `case AF_` survives in socketmodule.c, and every family switch is converted."""
    tree = partial_tree(release, tmp_path)
    patches.apply(
        tree, release.version, (*patches.patch_set(release.version), *cosmo_cpython.SOURCE_EDITS)
    )
    socket_c = (tree / "Modules/socketmodule.c").read_text()
    assert "case AF_" not in socket_c
    assert socket_c.count("switch (apepy_af(") == 9
    termios_c = (tree / "Modules/termios.c").read_text()
    assert "apepy_termios_constants();" in termios_c
