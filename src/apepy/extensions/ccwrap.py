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
_OBJECT_SUFFIXES = (".o", ".obj", ".lo")
_SYSTEM_DIRS = ("/usr/", "/lib/", "/lib64/", "/lib32/")
_HASHED_DYLIB = re.compile(r"lib\w+-[0-9a-f]{16}\.so")


def main() -> int:
    with open(os.environ["APEPY_CCWRAP"], encoding="utf-8") as handle:
        config = json.load(handle)
    name = os.path.basename(sys.argv[0])
    cxx = name.endswith(_CXX_NAMES)
    real = config["cxx"] if cxx else config["cc"]
    args = _rewrite_includes(_expand(sys.argv[1:]), config)
    shared = "-shared" in args and not _COMPILE_ONLY.intersection(args)
    if shared and _is_rust_helper(args):
        # A proc-macro cargo links for the compiler itself: never part of the module.
        return subprocess.call([real, *args])
    if shared and config.get("fake_shared"):
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


def _record(args: list[str], cxx: bool, config: dict[str, object], *, produced: bool) -> int:
    output = "a.out"
    objects: list[str] = []
    archives: list[tuple[str, bool]] = []
    shared_inputs: list[str] = []
    sources: list[str] = []
    libdirs: list[str] = []
    libs: list[str] = []
    whole = False
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _WITH_VALUE and i + 1 < len(args):
            value = args[i + 1]
            if arg == "-o":
                output = value
            elif arg == "-L":
                libdirs.append(value)
            elif arg == "-l":
                libs.append(value)
            elif arg == "-Xlinker":
                whole = _whole(value, whole)
            i += 2
            continue
        i += 1
        if arg.startswith("-L"):
            libdirs.append(arg[2:])
        elif arg.startswith("-l"):
            libs.append(arg[2:])
        elif arg.startswith("-Wl,"):
            for part in arg[4:].split(","):
                whole = _whole(part, whole)
        elif arg.startswith("-"):
            continue
        elif arg.endswith(_OBJECT_SUFFIXES):
            objects.append(arg)
        elif arg.endswith((".a", ".rlib")):
            # An .rlib is an ar archive of the crate's objects (plus metadata no
            # linker pulls in): the partial link takes the members it needs.
            archives.append((arg, whole))
        elif ".so" in os.path.basename(arg) or arg.endswith(".dylib"):
            shared_inputs.append(arg)
        else:
            sources.append(arg)

    folder = tempfile.mkdtemp(prefix="link-", dir=str(config["collect"]))
    kept_objects = [_keep(path, folder, n) for n, path in enumerate(objects)]
    # Sources handed straight to the link (numpy passes its SVML .s files): compile
    # each to an object of its own, with the link's preprocessor and code flags.
    flags = [a for a in args if a.startswith(("-I", "-D", "-U", "-f", "-m", "-O", "-std"))]
    real = str(config["cxx"] if cxx else config["cc"])
    for n, source in enumerate(sources):
        obj = os.path.join(folder, f"src{n:04d}-{os.path.basename(source)}.o")
        if subprocess.call([real, *flags, "-c", source, "-o", obj]) != 0:
            return 1
        kept_objects.append(obj)
    sources = []
    kept_archives = [
        {"path": _keep(path, folder, n, "lib"), "whole": w} for n, (path, w) in enumerate(archives)
    ]
    system_libs: list[str] = []
    system_dirs: list[str] = []
    for lib in libs:
        if lib.startswith("python"):
            continue
        local = next(
            (
                os.path.join(d, f"lib{lib}.a")
                for d in libdirs
                if _is_local(d) and os.path.isfile(os.path.join(d, f"lib{lib}.a"))
            ),
            None,
        )
        if local is not None:
            kept_archives.append(
                {"path": _keep(local, folder, len(kept_archives), "lib"), "whole": False}
            )
        elif any(_is_local(d) and _has_shared(d, lib) for d in libdirs):
            shared_inputs.append(f"-l{lib}")
        else:
            system_libs.append(lib)
    for d in libdirs:
        if not _is_local(d) and os.path.isdir(d):
            system_dirs.append(os.path.realpath(d))
    if not produced:
        with open(output, "w", encoding="utf-8") as stand_in:
            json.dump({"apepy-link-record": os.path.basename(folder)}, stand_in)
    digest = hashlib.sha256()
    with open(output, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    record = {
        "output": os.path.abspath(output),
        "sha256": digest.hexdigest(),
        "cxx": cxx,
        "objects": kept_objects,
        "archives": kept_archives,
        "libs": system_libs,
        "libdirs": system_dirs,
        "shared_inputs": shared_inputs,
        "sources": sources,
    }
    with open(os.path.join(folder, "record.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=1)
    return 0


def _is_rust_helper(args: list[str]) -> bool:
    """cargo's proc-macro links: `-o .../deps/lib<crate>-<16 hex>.so` (a cdylib has no hash)."""
    for i, arg in enumerate(args[:-1]):
        if arg == "-o":
            name = os.path.basename(args[i + 1])
            return bool(_HASHED_DYLIB.fullmatch(name))
    return False


def _whole(flag: str, current: bool) -> bool:
    if flag == "--whole-archive":
        return True
    if flag == "--no-whole-archive":
        return False
    return current


def _has_shared(directory: str, lib: str) -> bool:
    return (
        any(name.startswith(f"lib{lib}.so") for name in os.listdir(directory))
        if os.path.isdir(directory)
        else False
    )


def _keep(path: str, folder: str, n: int, kind: str = "obj") -> str:
    target = os.path.join(folder, f"{kind}{n:04d}-{os.path.basename(path)}")
    with open(path, "rb") as handle:
        thin = handle.read(8) == b"!<thin>\n"
    if not thin:
        shutil.copyfile(path, target)
        return target
    # A thin archive (meson's `ar csrDT`) only names its members, which stay in the
    # build tree that pip deletes: keep a real archive of the same objects. Thin
    # archives nested in it are flattened. If that fails, the copy is kept as it is
    # and the partial link reports the missing members later: never fail the build.
    try:
        members = _thin_members(path)
        subprocess.run(["ar", "rcs", target, *members], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        shutil.copyfile(path, target)
    return target


def _thin_members(path: str) -> list[str]:
    # A thin archive stores member paths relative to its own folder, but `ar t`
    # prints them relative to the current directory (numpy's meson build links
    # numpy/_core/libunique_hash.a from the build root): resolve them against that.
    listed = subprocess.run(["ar", "t", path], capture_output=True, text=True, check=True)
    members: list[str] = []
    for name in listed.stdout.splitlines():
        member = os.path.abspath(name)
        with open(member, "rb") as handle:
            nested = handle.read(8) == b"!<thin>\n"
        members.extend(_thin_members(member) if nested else [member])
    return members


if __name__ == "__main__":
    sys.exit(main())
