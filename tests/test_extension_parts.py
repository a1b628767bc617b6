"""The pieces of the extension pipeline, each run for real: specs, sdist judging, the
compiler wrapper driving the real gcc, and the partial link + rename with binutils."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import platform_wheel
from wheelmaker import make_sdist

from apepy import libraries, sources, toolchains
from apepy.errors import ApepyError, InternalError
from apepy.extensions import link, package, sdist, spec

HEX = "ab" * 32


def test_spec_forms(tmp_path: Path) -> None:
    plain = spec.parse("MarkupSafe")
    assert (plain.name, plain.pinned_version, plain.sha256) == ("markupsafe", None, None)
    pinned = spec.parse(f"PyYAML==6.0.2 --hash=sha256:{HEX.upper()}")
    assert (pinned.name, pinned.pinned_version, pinned.sha256) == ("pyyaml", "6.0.2", HEX)
    local = tmp_path / "zope_interface-7.2.tar.gz"
    local.write_bytes(b"x")
    from_file = spec.parse(str(local))
    assert (from_file.name, from_file.local) == ("zope-interface", local)


@pytest.mark.parametrize(
    "text",
    [
        "markupsafe>=",
        "pkg @ https://example.invalid/x.tar.gz",
        "pkg[extra]",
        "./missing-1.0.tar.gz",
    ],
)
def test_spec_refuses(text: str) -> None:
    with pytest.raises(ApepyError):
        spec.parse(text)


def test_lock_needs_pins(tmp_path: Path) -> None:
    lock = tmp_path / "ext.lock"
    lock.write_text(f"# pins\nmarkupsafe==3.0.2 --hash=sha256:{HEX}\n\ngreenlet\n")
    with pytest.raises(ApepyError, match=r"ext.lock:4: 'greenlet' is not pinned"):
        spec.parse_lock(lock)
    lock.write_text(f"markupsafe==3.0.2 --hash=sha256:{HEX}  # ok\n")
    assert [s.name for s in spec.parse_lock(lock)] == ["markupsafe"]


def test_same_package_twice_differently() -> None:
    with pytest.raises(ApepyError, match="requested twice"):
        spec.merge([spec.parse("greenlet"), spec.parse("greenlet==3.1.1")])
    assert len(spec.merge([spec.parse("greenlet"), spec.parse("greenlet")])) == 1


def _sdist(tmp_path: Path, name: str, files: dict[str, str]) -> sdist.Sdist:
    return sdist.Sdist(name, "1.0", make_sdist(tmp_path, f"{name}-1.0", files), "0" * 64)


def test_judging_sdists(tmp_path: Path) -> None:
    maturin = '[build-system]\nrequires = ["maturin>=1,<2"]\nbuild-backend = "maturin"\n'
    rust = _sdist(tmp_path, "fastthing", {"pyproject.toml": maturin, "src/lib.rs": ""})
    assert sdist.judge(rust).kind == "rust"
    nested = _sdist(tmp_path, "cryptish", {"setup.py": "", "Cargo.toml": "", "src/lib.rs": ""})
    vendored = _sdist(
        tmp_path,
        "numpyish",
        {"meson.build": "", "vendored/test cases/rust/Cargo.toml": "", "x.c": ""},
    )
    assert sdist.judge(vendored).kind == "c"
    assert sdist.judge(nested).kind == "rust"
    fortran = _sdist(tmp_path, "sci", {"setup.py": "", "lib/solver.f90": "", "lib/glue.c": ""})
    assert sdist.judge(fortran).kind == "fortran"
    pure = _sdist(tmp_path, "plain", {"setup.py": "", "plain/__init__.py": "", "tests/t.c": ""})
    assert sdist.judge(pure).kind == "pure"
    cython_req = '[build-system]\nrequires = ["setuptools", "Cython>=3"]\n'
    c = _sdist(tmp_path, "speedy", {"pyproject.toml": cython_req, "speedy/_x.pyx": ""})
    judged = sdist.judge(c)
    assert (judged.kind, judged.cython) == ("c", True)


def test_sdist_hash_mismatch_is_refused(tmp_path: Path) -> None:
    made = _sdist(tmp_path, "thing", {"setup.py": "", "thing.c": ""})
    wanted = spec.parse(f"{made.path} --hash=sha256:{HEX}")
    with pytest.raises(ApepyError, match="does not match its pinned hash"):
        sdist.obtain(wanted, offline=True, log=tmp_path / "log")


EXT_C = """
#include <Python.h>
int helper_shared_name(void) { return 41; }
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(helper_shared_name() + 1);
}
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&def); }
"""


def _wrapper_env(
    tmp_path: Path,
    include_from: Path | None = None,
    include_to: Path | None = None,
    tc: toolchains.Toolchain | None = None,
) -> dict[str, str]:
    """The wrapper installed as cc exactly as package.build installs it; records go to
    ``tmp_path/work/links``."""
    work = tmp_path / "work"
    bin_dir = work / "bin"
    (work / "links").mkdir(parents=True)
    bin_dir.mkdir()
    config = package.write_wrapper(
        bin_dir,
        work / "links",
        tc or toolchains.get("host"),
        include_from or tmp_path,
        (include_to or tmp_path,),
    )
    return {**os.environ, **package.wrapper_env(bin_dir, config)}


def test_wrapper_swaps_includes_and_records_the_shared_link(tmp_path: Path) -> None:
    # The build Python's include dir has a pyconfig.h that must NOT be used; the
    # target's has a marker define. Compiling fails unless the wrapper swapped them.
    import sysconfig

    real_include = Path(sysconfig.get_paths()["include"])
    decoy = tmp_path / "buildpy-include"
    decoy.mkdir()
    (decoy / "Python.h").write_text('#error "the build Python\'s headers were used"\n')
    target = tmp_path / "target-include"
    target.mkdir()
    (target / "Python.h").write_text(
        f'#define APEPY_TARGET 1\n#include "{real_include}/Python.h"\n'
    )
    env = _wrapper_env(tmp_path, decoy, target)
    src = tmp_path / "speedups.c"
    src.write_text(EXT_C + "\n#ifndef APEPY_TARGET\n#error no target\n#endif\n")
    obj = tmp_path / "speedups.o"
    subprocess.run(
        ["cc", "-fPIC", "-c", str(src), "-I", str(decoy), "-o", str(obj)],
        env=env,
        check=True,
        cwd=tmp_path,
    )
    out = tmp_path / f"_speedups{sysconfig.get_config_var('EXT_SUFFIX')}"
    subprocess.run(
        ["cc", "-shared", str(obj), "-lm", "-o", str(out)], env=env, check=True, cwd=tmp_path
    )
    assert out.read_bytes()[:4] == b"\x7fELF"
    records = package.read_records(tmp_path / "work" / "links")
    assert len(records) == 1
    record = records[0]
    assert record.output == str(out)
    assert record.libs == ("m",)
    assert len(record.objects) == 1 and Path(record.objects[0]).read_bytes() == obj.read_bytes()
    # A test program the build compiles and runs passes straight through.
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 7; }\n")
    subprocess.run(["cc", str(probe), "-o", str(tmp_path / "probe")], env=env, check=True)
    assert subprocess.run([str(tmp_path / "probe")]).returncode == 7
    assert len(package.read_records(tmp_path / "work" / "links")) == 1


def test_a_key_the_wrapper_and_its_reader_do_not_share_fails_the_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key renamed in the wrapper's record fails the link that records it, instead of
    reading as empty; and a record apepy cannot read names its file."""
    source = package.wrapper_source()
    renamed = source.replace('"shared_inputs": link.shared_inputs', '"inputs": link.shared_inputs')
    assert renamed != source
    monkeypatch.setattr(package, "wrapper_source", lambda: renamed)
    env = _wrapper_env(tmp_path)
    src = tmp_path / "m.c"
    src.write_text("int apepy_m(void) { return 1; }\n")
    link = subprocess.run(
        ["cc", "-fPIC", "-shared", str(src), "-o", str(tmp_path / "m.so")],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert link.returncode == 70, link.stderr
    assert "apepy-ccwrap: the link record has the keys" in link.stderr
    assert package.read_records(tmp_path / "work" / "links") == []

    folder = tmp_path / "work" / "links" / "link-x"
    folder.mkdir()
    (folder / "record.json").write_text('{"output": "x.so"}')
    with pytest.raises(InternalError, match=r"link-x/record.json is not what apepy reads"):
        package.read_records(tmp_path / "work" / "links")


def test_partial_link_keeps_only_the_renamed_init(tmp_path: Path) -> None:
    import sysconfig

    tc = toolchains.get("host")
    include = sysconfig.get_paths()["include"]
    objs = []
    for n, extra in enumerate(("", "int vendored_copy(void) { return 1; }\n")):
        src = tmp_path / f"part{n}.c"
        src.write_text((EXT_C if n == 0 else "") + extra)
        objs.append(tmp_path / f"part{n}.o")
        subprocess.run(
            ["cc", "-fPIC", "-I", include, "-c", str(src), "-o", str(objs[-1])], check=True
        )
    archive = tmp_path / "libvendored.a"
    subprocess.run(["ar", "rcs", str(archive), str(objs[1])], check=True)
    record = package.LinkRecord(
        output="x.so",
        sha256="",
        cxx=False,
        objects=(str(objs[0]),),
        archives=((str(archive), True),),
        libs=("m",),
        libdirs=(),
        shared_inputs=(),
        sources=(),
    )
    module = package.Module("simplejson._speedups", "simplejson/_speedups.so", record)
    linked = link.partial_link(module, tc, tmp_path / "out" / "m.o", tmp_path / "log")
    assert linked.init_symbol == link.init_symbol("simplejson._speedups")
    assert linked.init_symbol != link.init_symbol("markupsafe._speedups")
    nm = subprocess.run(
        ["nm", "-P", "-g", "--defined-only", str(linked.object)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    globals_ = {line.split()[0] for line in nm.splitlines()}
    assert globals_ == {linked.init_symbol}
    every = subprocess.run(["nm", "-P", str(linked.object)], capture_output=True, text=True).stdout
    # The whole archive went in, and its symbols are private now.
    assert "vendored_copy t" in every.replace("T", "t") and "helper_shared_name" in every


def test_partial_link_without_init_names_what_it_found(tmp_path: Path) -> None:
    src = tmp_path / "x.c"
    src.write_text("int PyInit_other(void) { return 0; }\n")
    obj = tmp_path / "x.o"
    subprocess.run(["cc", "-c", str(src), "-o", str(obj)], check=True)
    record = package.LinkRecord("x.so", "", False, (str(obj),), (), (), (), (), ())
    module = package.Module("pkg._fast", "pkg/_fast.so", record)
    with pytest.raises(ApepyError, match=r"no PyInit__fast \(they define PyInit_other\)"):
        link.partial_link(module, toolchains.get("host"), tmp_path / "o" / "x.o", tmp_path / "log")


_UNIQUE_CXX = """
template <class T> struct table { static const int values[3]; };
template <class T> const int table<T>::values[3] = {1, 2, 3};
inline int &counter() { static int n = 0; return n; }
extern "C" int PyInit_NAME(void) { return table<void>::values[1] + ++counter(); }
"""


def test_cxx_unique_symbols_of_two_modules_do_not_clash(tmp_path: Path) -> None:
    """A template's static member and an inline function's static are GNU unique
    symbols, which objcopy does not localize: pandas links fast_float's tables into
    four modules, whose copies then clashed at the interpreter's link."""
    tc = toolchains.get("host")
    objects = []
    for name in ("one", "two"):
        src = tmp_path / f"{name}.cpp"
        src.write_text(_UNIQUE_CXX.replace("NAME", name))
        obj = tmp_path / f"{name}.o"
        subprocess.run([tc.cxx or "c++", "-fPIC", "-c", str(src), "-o", str(obj)], check=True)
        assert " u " in subprocess.run(["nm", str(obj)], capture_output=True, text=True).stdout
        record = package.LinkRecord(f"{name}.so", "", True, (str(obj),), (), (), (), (), ())
        module = package.Module(f"pkg.{name}", f"pkg/{name}.so", record)
        linked = link.partial_link(module, tc, tmp_path / "o" / f"{name}.o", tmp_path / "log")
        defined = subprocess.run(
            ["nm", "-g", "--defined-only", str(linked.object)], capture_output=True, text=True
        ).stdout.split()
        assert defined[1:] == ["T", linked.init_symbol]
        objects.append(str(linked.object))
    subprocess.run(["cc", "-r", "-o", str(tmp_path / "both.o"), *objects], check=True)


_, EXT_SUFFIX = platform_wheel(sources.newest(sources.DEFAULT_SERIES))


@pytest.mark.parametrize(
    ("wheel_path", "dotted"),
    [
        (f"markupsafe/_speedups{EXT_SUFFIX}", "markupsafe._speedups"),
        (f"_cffi_backend{EXT_SUFFIX}", "_cffi_backend"),
        ("yaml/_yaml.abi3.so", "yaml._yaml"),
    ],
)
def test_dotted_names(wheel_path: str, dotted: str) -> None:
    assert package.dotted_name(wheel_path) == dotted


def test_record_json_shape(tmp_path: Path) -> None:
    folder = tmp_path / "link-1"
    folder.mkdir()
    (folder / "record.json").write_text(
        json.dumps(
            {
                "output": "/b/x.so",
                "sha256": "00",
                "cxx": True,
                "objects": ["a.o"],
                "archives": [{"path": "l.a", "whole": False}],
                "libs": ["yaml"],
                "libdirs": [],
                "shared_inputs": [],
                "sources": [],
            }
        )
    )
    (record,) = package.read_records(tmp_path)
    assert record.cxx and record.archives == (("l.a", False),) and record.libs == ("yaml",)


def test_wrapper_for_a_target_without_shared_objects(tmp_path: Path) -> None:
    """The cosmo path: the link is recorded and a stand-in written instead of a .so."""
    import dataclasses

    tc = dataclasses.replace(toolchains.get("host"), shared_objects=False)
    env = _wrapper_env(tmp_path, tc=tc)
    work = tmp_path / "work"
    src = tmp_path / "m.c"
    src.write_text("int PyInit_m(void) { return 0; }\n")
    subprocess.run(["cc", "-c", str(src), "-o", str(tmp_path / "m.o")], env=env, check=True)
    out = tmp_path / "m.so"
    subprocess.run(["cc", "-shared", str(tmp_path / "m.o"), "-o", str(out)], env=env, check=True)
    (record,) = package.read_records(work / "links")
    assert out.read_bytes()[:4] != b"\x7fELF"
    assert "apepy-link-record" in json.loads(out.read_text())
    assert hashlib.sha256(out.read_bytes()).hexdigest() == record.sha256


def test_static_closure_from_pkg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A library's static dependencies come from its .pc file, found by another name too,
    and a library needed twice ends up after everything that needs it."""
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "fancy2.pc").write_text(
        "Name: fancy\nDescription: d\nVersion: 1\nLibs: -lfancy\nLibs.private: -lz -lpng16\n"
    )
    (pc / "libpng16.pc").write_text(
        "Name: png\nDescription: d\nVersion: 1\nLibs: -lpng16\nLibs.private: -lz -lm\n"
    )
    monkeypatch.setenv("PKG_CONFIG_PATH", str(pc))
    monkeypatch.setenv("PKG_CONFIG_LIBDIR", str(pc))
    closure = libraries.static_closure(["fancy", "png16", "nothing-known"])
    assert closure == ["-lfancy", "-lpng16", "-lz", "-lm", "-lnothing-known"]


def test_sources_given_to_the_shared_link_are_compiled_aside(tmp_path: Path) -> None:
    """numpy hands assembly files straight to its -shared link: they become objects."""
    env = _wrapper_env(tmp_path)
    work = tmp_path / "work"
    asm = tmp_path / "answer.s"
    asm.write_text(".text\n.globl answer\nanswer:\n  movl $42, %eax\n  ret\n")
    src = tmp_path / "m.c"
    src.write_text("int answer(void);\nint PyInit_m(void) { return answer(); }\n")
    subprocess.run(
        ["cc", "-fPIC", "-c", str(src), "-o", str(tmp_path / "m.o")], env=env, check=True
    )
    out = tmp_path / "m.so"
    subprocess.run(
        ["cc", "-shared", str(tmp_path / "m.o"), str(asm), "-o", str(out)], env=env, check=True
    )
    (record,) = package.read_records(work / "links")
    assert record.sources == () and len(record.objects) == 2
    nm = subprocess.run(["nm", record.objects[1]], capture_output=True, text=True).stdout
    assert "T answer" in nm


def test_a_c_source_compiled_and_linked_in_one_step_keeps_its_includes(tmp_path: Path) -> None:
    """meson (1.12) checks Cython by compiling and linking the transpiled .c in one
    `-shared` call, with -I joined: the copy compiled aside needs the same headers, and
    one that still fails to compile must not fail a link the real compiler made."""
    env = _wrapper_env(tmp_path)
    work = tmp_path / "work"
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "answer.h").write_text("#define ANSWER 42\n")
    src = tmp_path / "m.c"
    src.write_text('#include "answer.h"\nint PyInit_m(void) { return ANSWER; }\n')
    inc = f"-I{tmp_path / 'inc'}"
    command = ["cc", "-fPIC", inc, "-DX=1", "-shared", str(src), "-o", str(tmp_path / "m.so")]
    subprocess.run(command, env=env, check=True)
    (record,) = package.read_records(work / "links")
    assert record.sources == () and len(record.objects) == 1
    # A define the copy aside does not get (-Wp, is not kept): the link still succeeds,
    # and the record names the source for the partial link to refuse.
    (tmp_path / "bare.c").write_text("int PyInit_bare(void) { return ANSWER; }\n")
    bare = ["cc", "-fPIC", "-Wp,-DANSWER=7", "-shared", "bare.c", "-o", "bare.so"]
    subprocess.run(bare, cwd=tmp_path, env=env, check=True, capture_output=True)
    records = package.read_records(work / "links")
    (failed,) = [r for r in records if r.output.endswith("bare.so")]
    assert failed.sources == (str(tmp_path / "bare.c"),) and failed.objects == ()


@pytest.mark.parametrize("layout", ["flat", "meson"])
def test_thin_archives_are_kept_as_real_ones(tmp_path: Path, layout: str) -> None:
    """meson links helper libraries as thin archives whose members die with the build.

    meson's layout: the link runs in the build root and names `sub/libhelper.a`,
    whose members live in `sub/libhelper.a.p/`, and one thin archive nests another.
    """
    tc = toolchains.get("host")
    env = _wrapper_env(tmp_path, tc=tc)
    work = tmp_path / "work"
    build = tmp_path / "build"
    sub = build / ("sub" if layout == "meson" else "")
    objs = sub / ("libhelper.a.p" if layout == "meson" else "")
    objs.mkdir(parents=True, exist_ok=True)
    (build / "helper.c").write_text("int helper(void) { return 41; }\n")
    (build / "inner.c").write_text("int inner(void) { return 1; }\n")
    (build / "m.c").write_text(
        "int helper(void);\nint inner(void);\nint PyInit_m(void) { return helper() + inner(); }\n"
    )
    rel_objs = objs.relative_to(build)
    for name in ("helper", "inner", "m"):
        out = (rel_objs / f"{name}.o").as_posix() if name != "m" else "m.o"
        subprocess.run(
            ["cc", "-fPIC", "-c", f"{name}.c", "-o", out], cwd=build, env=env, check=True
        )
    rel_sub = sub.relative_to(build)
    inner_a = (rel_sub / "libinner.a").as_posix()
    helper_a = (rel_sub / "libhelper.a").as_posix()
    subprocess.run(
        ["ar", "csrT", inner_a, (rel_objs / "inner.o").as_posix()], cwd=build, check=True
    )
    subprocess.run(
        ["ar", "csrT", helper_a, (rel_objs / "helper.o").as_posix(), inner_a],
        cwd=build,
        check=True,
    )
    subprocess.run(["cc", "-shared", "m.o", helper_a, "-o", "m.so"], cwd=build, env=env, check=True)
    shutil.rmtree(build)  # as pip does
    (record,) = package.read_records(work / "links")
    ((archive, _whole),) = record.archives
    assert Path(archive).read_bytes().startswith(b"!<arch>\n")
    linked = link.partial_link(
        package.Module("pkg.m", "pkg/m.so", record), tc, tmp_path / "o" / "m.o", tmp_path / "log"
    )
    every = subprocess.run(["nm", str(linked.object)], capture_output=True, text=True).stdout
    assert " t helper" in every and " t inner" in every


def test_wrapper_reads_each_spelling_of_the_link_line(tmp_path: Path) -> None:
    """Whole-archive regions by -Wl, and by -Xlinker, libraries and their folders given
    joined and apart: a build-local static library is kept, a system one is named."""
    env = _wrapper_env(tmp_path)
    build = tmp_path / "build"
    (build / "local").mkdir(parents=True)
    for name in ("m", "w", "x", "y", "loc"):
        (build / f"{name}.c").write_text(f"int {name}_fn(void) {{ return 1; }}\n")
        subprocess.run(["cc", "-fPIC", "-c", f"{name}.c"], cwd=build, env=env, check=True)
        if name != "m":
            folder = "local/" if name == "loc" else ""
            subprocess.run(
                ["ar", "rcs", f"{folder}lib{name}.a", f"{name}.o"], cwd=build, check=True
            )
    line = ["m.o", "-Wl,--whole-archive", "libw.a", "-Wl,--no-whole-archive"]
    line += ["-Xlinker", "--whole-archive", "libx.a", "-Xlinker", "--no-whole-archive"]
    line += ["liby.a", "-L", "local", "-lloc", "-Llocal", "-lm", "-l", "m", "-o", "m.so"]
    subprocess.run(["cc", "-shared", *line], cwd=build, env=env, check=True)
    (record,) = package.read_records(tmp_path / "work" / "links")
    assert record.output == str(build / "m.so")
    assert [(Path(p).name, whole) for p, whole in record.archives] == [
        ("lib0000-libw.a", True),
        ("lib0001-libx.a", True),
        ("lib0002-liby.a", False),
        ("lib0003-libloc.a", False),
    ]
    assert record.libs == ("m", "m")
    assert [Path(o).name for o in record.objects] == ["obj0000-m.o"]


def test_thin_archives_are_rebuilt_with_the_toolchains_ar(tmp_path: Path) -> None:
    import dataclasses

    log = tmp_path / "ar.log"
    ar = tmp_path / "logging-ar"
    ar.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec ar "$@"\n')
    ar.chmod(0o755)
    env = _wrapper_env(tmp_path, tc=dataclasses.replace(toolchains.get("host"), ar=str(ar)))
    build = tmp_path / "build"
    build.mkdir()
    for name in ("m", "helper"):
        (build / f"{name}.c").write_text(f"int {name}(void) {{ return 1; }}\n")
        subprocess.run(["cc", "-fPIC", "-c", f"{name}.c"], cwd=build, env=env, check=True)
    subprocess.run(["ar", "csrT", "libhelper.a", "helper.o"], cwd=build, check=True)
    subprocess.run(
        ["cc", "-shared", "m.o", "libhelper.a", "-o", "m.so"], cwd=build, env=env, check=True
    )
    assert log.read_text().split() == ["t", "rcs"]
    (record,) = package.read_records(tmp_path / "work" / "links")
    ((archive, _whole),) = record.archives
    assert Path(archive).read_bytes().startswith(b"!<arch>\n")


def test_a_system_archive_links_only_with_all_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian's libzmq.a needs libgssapi_krb5, which has no .a: such an archive does not
    count as linkable, and apepy's recipe is used. Shown with the system's libz.a and a
    zlib.pc whose private libraries name glibc's shared-only libc_malloc_debug."""
    host = toolchains.get("host")
    assert libraries.system_links(host, "z")
    pc = tmp_path / "pc"
    pc.mkdir()
    (pc / "zlib.pc").write_text(
        "Name: zlib\nDescription: d\nVersion: 1\nLibs: -lz\nLibs.private: -lc_malloc_debug -lm\n"
    )
    monkeypatch.setenv("PKG_CONFIG_PATH", str(pc))
    assert not libraries.system_links(host, "z")
    assert libraries.from_source(host, ["z", "m"])
    assert not libraries.system_links(host, "apepy-no-such-library")


NUMPY_SDIST_SHA256 = "f3a3570c4a2a16746ac2c31a7c7c7b0c186b95ce902e33db6f28094ed7387dda"


def test_an_sdist_is_fetched_without_being_built_for_its_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pip download` would build numpy whole (meson-python has no metadata hook) before
    saving its sdist; apepy takes the same file through pip's finder, in seconds."""
    monkeypatch.setenv("APEPY_CACHE_DIR", str(tmp_path / "cache"))
    log = tmp_path / "log"
    got = sdist.obtain(spec.parse("numpy==2.4.6"), offline=False, log=log)
    assert got.sha256 == NUMPY_SDIST_SHA256 and got.version == "2.4.6"
    assert got.path.is_file() and got.path.parent == tmp_path / "cache" / "sdists"
    text = log.read_text()
    assert "apepy.extensions.sdist_fetch" in text
    assert "Preparing metadata" not in text and "pip download" not in text
