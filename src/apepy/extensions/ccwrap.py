"""apepy's compiler wrapper, run as `cc`/`c++` inside a package's own build.

Standalone on purpose (standard library only): the package build runs it as a
program, under whatever environment the build set up. Configured by the JSON
file named in $APEPY_CCWRAP.

- Every call goes to the real compiler, with the build Python's include
  directory swapped for the target interpreter's, so objects match the target's
  pyconfig.h. Test compiles and programs the build runs pass straight through.
- A `-shared` link (an extension module) is also recorded: its objects and
  build-local static libraries are copied aside with the system libraries it
  names, so apepy can link the same code into the interpreter later. The output
  file's sha256 ties the record to the file that lands in the wheel.

The keys of its configuration and of its record.json are apepy's
(``package.WrapperConfig``, ``package.LinkRecord``), put in below when the wrapper
is written into a build; both sides hold to them exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable

_CXX_NAMES = ("c++", "g++", "clang++")
# Options whose value is the next argument.
_WITH_VALUE = frozenset(
    [
        "-o",
        "-L",
        "-l",
        "-I",
        "-D",
        "-U",
        "-x",
        "-include",
        "-isystem",
        "-iquote",
        "-idirafter",
        "-MF",
        "-MT",
        "-MQ",
        "-Xlinker",
        "-arch",
        "-target",
        "--sysroot",
        "-imacros",
        "-T",
        "-z",
        "-u",
        "-e",
    ]
)
_COMPILE_ONLY = frozenset(("-c", "-E", "-S", "-M", "-MM"))
# What a source compiled aside keeps of its link's command line.
_PREPROCESSOR_WITH_VALUE = frozenset(
    ("-I", "-D", "-U", "-isystem", "-iquote", "-idirafter", "-include", "-imacros")
)
_COMPILE_FLAG_PREFIXES = (
    *("-I", "-D", "-U", "-isystem", "-iquote", "-idirafter"),
    *("-f", "-m", "-O", "-std"),
)
_OBJECT_SUFFIXES = (".o", ".obj", ".lo")
_SYSTEM_DIRS = ("/usr/", "/lib/", "/lib64/", "/lib32/")
_HASHED_DYLIB = re.compile(r"lib\w+-[0-9a-f]{16}\.so")
# Put in by package.write_wrapper: the keys of the configuration and of a record.
CONFIG_FIELDS: tuple[str, ...] = ()
RECORD_FIELDS: tuple[str, ...] = ()
# An exit status apepy's wrapper has of its own (EX_SOFTWARE).
_OUT_OF_STEP = 70


def _keys_differ(what: str, found: object, fields: tuple[str, ...]) -> bool:
    """Say so on stderr (in the build's log) when ``found`` is not keyed by ``fields``."""
    if isinstance(found, dict) and sorted(found) == sorted(fields):
        return False
    keys = sorted(found) if isinstance(found, dict) else type(found).__name__
    sys.stderr.write(f"apepy-ccwrap: {what} has the keys {keys}, apepy's are {sorted(fields)}\n")
    return True


def main() -> int:
    with open(os.environ["APEPY_CCWRAP"], encoding="utf-8") as handle:
        config = json.load(handle)
    if _keys_differ(os.environ["APEPY_CCWRAP"], config, CONFIG_FIELDS):
        return _OUT_OF_STEP
    name = os.path.basename(sys.argv[0])
    cxx = name.endswith(_CXX_NAMES)
    real = config["cxx"] if cxx else config["cc"]
    args = _rewrite_includes(_expand(sys.argv[1:]), config)
    shared = "-shared" in args and not _COMPILE_ONLY.intersection(args)
    if shared and _is_rust_helper(args):
        # A proc-macro cargo links for the compiler itself: never part of the module.
        return subprocess.call([real, *args])
    if shared and config["fake_shared"]:
        # A target compiler that cannot make shared objects (Cosmopolitan):
        # the recorded objects are the product, the .so is only a stand-in.
        return _record(args, cxx, config, produced=False)
    code = subprocess.call([real, *args])
    if code == 0 and shared:
        return _record(args, cxx, config, produced=True)
    return code


def _expand(args: list[str]) -> list[str]:
    """Inline @response files, which meson and CMake use for long command lines."""
    out: list[str] = []
    for arg in args:
        if arg.startswith("@") and os.path.isfile(arg[1:]):
            with open(arg[1:], encoding="utf-8") as handle:
                out.extend(shlex.split(handle.read()))
        else:
            out.append(arg)
    return out


def _rewrite_includes(args: list[str], config: dict[str, object]) -> list[str]:
    source = os.path.realpath(str(config["include_from"]))
    target = [str(p) for p in config["include_to"]]  # type: ignore[attr-defined]
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        value = None
        if arg in ("-I", "-isystem") and i + 1 < len(args):
            value, flag, i = args[i + 1], arg, i + 2
        elif arg.startswith("-I") and len(arg) > 2:
            value, flag, i = arg[2:], "-I", i + 1
        else:
            out.append(arg)
            i += 1
            continue
        if os.path.realpath(value) == source:
            for path in target:
                out += [flag, path]
        else:
            out += [flag, value]
    return out


def _is_local(directory: str) -> bool:
    path = os.path.realpath(directory) + "/"
    return not path.startswith(_SYSTEM_DIRS)


class _Link:
    """What a `-shared` link command line names, sorted by what apepy does with it."""

    def __init__(self) -> None:
        self.output = "a.out"
        self.objects: list[str] = []
        # Each with whether it was under --whole-archive.
        self.archives: list[tuple[str, bool]] = []
        self.shared_inputs: list[str] = []
        self.sources: list[str] = []
        self.libdirs: list[str] = []
        self.libs: list[str] = []
        self.whole = False

    def linker_flag(self, flag: str) -> None:
        if flag == "--whole-archive":
            self.whole = True
        elif flag == "--no-whole-archive":
            self.whole = False

    def linker_flags(self, joined: str) -> None:
        for flag in joined.split(","):
            self.linker_flag(flag)

    def add_input(self, path: str) -> None:
        if path.endswith(_OBJECT_SUFFIXES):
            self.objects.append(path)
        elif path.endswith((".a", ".rlib")):
            # An .rlib is an ar archive of the crate's objects (plus metadata no
            # linker pulls in): the partial link takes the members it needs.
            self.archives.append((path, self.whole))
        elif ".so" in os.path.basename(path) or path.endswith(".dylib"):
            self.shared_inputs.append(path)
        else:
            self.sources.append(path)


def _set_output(link: _Link, value: str) -> None:
    link.output = value


def _add_libdir(link: _Link, value: str) -> None:
    link.libdirs.append(value)


def _add_lib(link: _Link, value: str) -> None:
    link.libs.append(value)


_Handler = Callable[[_Link, str], None]
# The options of _WITH_VALUE whose value (the next argument) the record needs; the
# others' values are skipped.
_SEPARATE: dict[str, _Handler] = {
    "-o": _set_output,
    "-L": _add_libdir,
    "-l": _add_lib,
    "-Xlinker": _Link.linker_flag,
}
# Options with their value joined on (-lm, -Wl,--whole-archive), by prefix, in order.
_JOINED: tuple[tuple[str, _Handler], ...] = (
    ("-L", _add_libdir),
    ("-l", _add_lib),
    ("-Wl,", _Link.linker_flags),
)


def _parse_link(args: list[str]) -> _Link:
    link = _Link()
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _WITH_VALUE and i + 1 < len(args):
            handler = _SEPARATE.get(arg)
            if handler is not None:
                handler(link, args[i + 1])
            i += 2
            continue
        i += 1
        joined = next(((p, h) for p, h in _JOINED if arg.startswith(p)), None)
        if joined is not None:
            prefix, handler = joined
            handler(link, arg[len(prefix) :])
        elif not arg.startswith("-"):
            link.add_input(arg)
    return link


def _record(args: list[str], cxx: bool, config: dict[str, object], *, produced: bool) -> int:
    link = _parse_link(args)
    ar = str(config["ar"])
    folder = tempfile.mkdtemp(prefix="link-", dir=str(config["collect"]))
    objects = [_keep(path, folder, n, ar=ar) for n, path in enumerate(link.objects)]
    compiled, uncompiled = _compile_sources(
        link.sources, args, str(config["cxx" if cxx else "cc"]), folder
    )
    archives: list[dict[str, object]] = [
        {"path": _keep(path, folder, n, "lib", ar=ar), "whole": w}
        for n, (path, w) in enumerate(link.archives)
    ]
    system_libs = _sort_libs(link, folder, archives, ar)
    system_dirs = [
        os.path.realpath(d) for d in link.libdirs if not _is_local(d) and os.path.isdir(d)
    ]
    if not produced:
        with open(link.output, "w", encoding="utf-8") as stand_in:
            json.dump({"apepy-link-record": os.path.basename(folder)}, stand_in)
    record = {
        "output": os.path.abspath(link.output),
        "sha256": _sha256(link.output),
        "cxx": cxx,
        "objects": objects + compiled,
        "archives": archives,
        "libs": system_libs,
        "libdirs": system_dirs,
        "shared_inputs": link.shared_inputs,
        # What did not compile aside: the partial link refuses these, if this link
        # turns out to be a module of the wheel at all.
        "sources": uncompiled,
    }
    if _keys_differ("the link record", record, RECORD_FIELDS):
        return _OUT_OF_STEP
    with open(os.path.join(folder, "record.json"), "w", encoding="utf-8") as handle:
        json.dump({key: record[key] for key in RECORD_FIELDS}, handle, indent=1)
    return 0


def _compile_sources(
    sources: list[str], args: list[str], real: str, folder: str
) -> tuple[list[str], list[str]]:
    """Sources handed straight to the link (numpy passes its SVML .s files, meson's
    Cython check links its transpiled .c): each compiled to an object of its own, with
    the link's preprocessor and code flags. Returns the objects, and the sources that
    did not compile: the real link already succeeded, and a link that is not one of
    the package's modules (a configure check) must not fail over them."""
    flags = _compile_flags(args)
    objects: list[str] = []
    failed: list[str] = []
    for n, source in enumerate(sources):
        obj = os.path.join(folder, f"src{n:04d}-{os.path.basename(source)}.o")
        if subprocess.call([real, *flags, "-c", source, "-o", obj]) == 0:
            objects.append(obj)
        else:
            failed.append(os.path.abspath(source))
    return objects, failed


def _compile_flags(args: list[str]) -> list[str]:
    """The preprocessor and code-generation options of a command line, each with its
    value, whether joined (-Ifoo) or the next argument (-I foo, as _rewrite_includes
    writes every include directory)."""
    flags: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _PREPROCESSOR_WITH_VALUE and i + 1 < len(args):
            flags += [arg, args[i + 1]]
            i += 2
            continue
        if arg.startswith(_COMPILE_FLAG_PREFIXES) and arg not in _PREPROCESSOR_WITH_VALUE:
            flags.append(arg)
        i += 1
    return flags


def _sort_libs(link: _Link, folder: str, archives: list[dict[str, object]], ar: str) -> list[str]:
    """Each -l library, by where it is found: a build-local static one is kept with the
    archives, a build-local shared one counts as a shared input (named later, when the
    partial link cannot be made); the rest are the system's, returned."""
    system: list[str] = []
    for lib in link.libs:
        if lib.startswith("python"):
            continue
        local = next(
            (
                os.path.join(d, f"lib{lib}.a")
                for d in link.libdirs
                if _is_local(d) and os.path.isfile(os.path.join(d, f"lib{lib}.a"))
            ),
            None,
        )
        if local is not None:
            archives.append(
                {"path": _keep(local, folder, len(archives), "lib", ar=ar), "whole": False}
            )
        elif any(_is_local(d) and _has_shared(d, lib) for d in link.libdirs):
            link.shared_inputs.append(f"-l{lib}")
        else:
            system.append(lib)
    return system


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_rust_helper(args: list[str]) -> bool:
    """cargo's proc-macro links: `-o .../deps/lib<crate>-<16 hex>.so` (a cdylib has no hash)."""
    for i, arg in enumerate(args[:-1]):
        if arg == "-o":
            name = os.path.basename(args[i + 1])
            return bool(_HASHED_DYLIB.fullmatch(name))
    return False


def _has_shared(directory: str, lib: str) -> bool:
    return (
        any(name.startswith(f"lib{lib}.so") for name in os.listdir(directory))
        if os.path.isdir(directory)
        else False
    )


def _keep(path: str, folder: str, n: int, kind: str = "obj", *, ar: str = "ar") -> str:
    target = os.path.join(folder, f"{kind}{n:04d}-{os.path.basename(path)}")
    with open(path, "rb") as handle:
        thin = handle.read(8) == b"!<thin>\n"
    if not thin:
        shutil.copyfile(path, target)
        # Fat cosmocc writes each object's and archive's aarch64 twin in .aarch64/
        # beside it; the twin is kept beside the copy the same way.
        twin = os.path.join(os.path.dirname(path), ".aarch64", os.path.basename(path))
        if os.path.isfile(twin):
            os.makedirs(os.path.join(folder, ".aarch64"), exist_ok=True)
            shutil.copyfile(twin, os.path.join(folder, ".aarch64", os.path.basename(target)))
        return target
    # A thin archive (meson's `ar csrDT`) only names its members, which stay in the
    # build tree that pip deletes: keep a real archive of the same objects. Thin
    # archives nested in it are flattened. If that fails, the copy is kept as it is
    # and the partial link reports the missing members later: never fail the build.
    try:
        members = _thin_members(path, ar)
        subprocess.run([ar, "rcs", target, *members], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.copyfile(path, target)
    return target


def _thin_members(path: str, ar: str) -> list[str]:
    # A thin archive stores member paths relative to its own folder, but `ar t`
    # prints them relative to the current directory (numpy's meson build links
    # numpy/_core/libunique_hash.a from the build root): resolve them against that.
    listed = subprocess.run([ar, "t", path], capture_output=True, text=True, check=True)
    members: list[str] = []
    for name in listed.stdout.splitlines():
        member = os.path.abspath(name)
        with open(member, "rb") as handle:
            nested = handle.read(8) == b"!<thin>\n"
        members.extend(_thin_members(member, ar) if nested else [member])
    return members


if __name__ == "__main__":
    sys.exit(main())
