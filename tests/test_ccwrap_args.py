"""The compiler wrapper's argument handling, as pure functions of argument lists: no
compiler runs (the wrapper's own runs are in test_extension_parts.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apepy.extensions import ccwrap


def test_a_link_line_is_sorted_by_what_apepy_does_with_each_part() -> None:
    link = ccwrap._parse_link(
        [
            "-shared", "-o", "build/_speedups.so", "-L/usr/lib/x", "-L", "local",
            "a.o", "b.lo", "-Wl,--whole-archive", "libbundled.a", "-Wl,--no-whole-archive",
            "libtail.a", "deps/libstd-0123456789abcdef.rlib", "/usr/lib/libfoo.so.1",
            "-lm", "-l", "yaml", "-Xlinker", "--as-needed", "extra.c", "-O2",
        ]
    )  # fmt: skip
    assert link.output == "build/_speedups.so"
    assert link.objects == ["a.o", "b.lo"]
    assert link.archives == [
        ("libbundled.a", True),
        ("libtail.a", False),
        ("deps/libstd-0123456789abcdef.rlib", False),
    ]
    assert link.shared_inputs == ["/usr/lib/libfoo.so.1"]
    assert link.libdirs == ["/usr/lib/x", "local"]
    assert link.libs == ["m", "yaml"]
    assert link.sources == ["extra.c"]


def test_an_option_whose_value_is_the_next_argument_does_not_become_an_input() -> None:
    link = ccwrap._parse_link(["-shared", "-MF", "dep.d", "-include", "pre.h", "x.o", "-o", "m.so"])
    assert link.objects == ["x.o"] and link.sources == [] and link.output == "m.so"


def test_the_build_pythons_include_directory_becomes_the_targets(tmp_path: Path) -> None:
    build = tmp_path / "build-include"
    build.mkdir()
    config: dict[str, object] = {"include_from": str(build), "include_to": ["/t/Include", "/t"]}
    args = ["-c", "m.c", f"-I{build}", "-I", "other", "-isystem", str(build), "-DX=1"]
    assert ccwrap._rewrite_includes(args, config) == [
        "-c", "m.c", "-I", "/t/Include", "-I", "/t", "-I", "other",
        "-isystem", "/t/Include", "-isystem", "/t", "-DX=1",
    ]  # fmt: skip


def test_a_source_compiled_aside_keeps_the_links_compile_flags() -> None:
    args = ["-shared", "-I", "inc", "-DNDEBUG", "-O2", "-fPIC", "-std=c11", "-lm", "x.c", "-o", "m"]
    assert ccwrap._compile_flags(args) == ["-I", "inc", "-DNDEBUG", "-O2", "-fPIC", "-std=c11"]


def test_response_files_are_inlined(tmp_path: Path) -> None:
    rsp = tmp_path / "args.rsp"
    rsp.write_text("a.o 'b c.o' -lm\n")
    assert ccwrap._expand(["-shared", f"@{rsp}", "@missing.rsp"]) == [
        "-shared", "a.o", "b c.o", "-lm", "@missing.rsp",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("output", "helper"),
    [
        ("target/release/deps/libserde_derive-0123456789abcdef.so", True),
        ("target/release/deps/libpydantic_core.so", False),
        ("build/_speedups.cpython-313-x86_64-linux-gnu.so", False),
    ],
)
def test_cargos_proc_macro_links_pass_straight_through(output: str, helper: bool) -> None:
    assert ccwrap._is_rust_helper(["-shared", "x.o", "-o", output]) is helper


def test_the_first_compiler_error_of_a_build_is_found() -> None:
    from apepy.extensions.package import first_compiler_error

    output = (
        "cc -c x.c -o x.o\n"
        "src/zmq.cpp:41:5: warning: unused variable\n"
        "  ../src/io_thread.cpp:41:22: error: invalid 'static_cast' from type 'std::nullptr_t'\n"
        "b.c:3:10: fatal error: zmq.h: No such file or directory\n"
    )
    assert first_compiler_error(output) == (
        "../src/io_thread.cpp:41:22: error: invalid 'static_cast' from type 'std::nullptr_t'"
    )
    assert first_compiler_error("ld: m.o: in function `f': undefined reference to `g'") == (
        "ld: m.o: in function `f': undefined reference to `g'"
    )
    assert first_compiler_error("error: subprocess-exited-with-error\n") is None
