"""Linking extension modules into the interpreter without recompiling CPython.

Per module: a partial link (`cc -r`) of its objects and build-local archives,
then objcopy keeps only its `PyInit_*` global (everything else becomes local, so
two packages' `_speedups` helpers or two vendored copies of one C library cannot
clash) and renames it to a name unique to the dotted module. The interpreter is
then re-linked from the cached CPython tree's own objects, with a new
Modules/config.c whose inittab adds `{"markupsafe._speedups", PyInit_...}`.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from apepy import libraries, procs, toolchains
from apepy.context import Context
from apepy.deps.commands import FAT_TWIN_DIR
from apepy.errors import ApepyError
from apepy.extensions.package import Module
from apepy.toolchains import Toolchain

_MARKER_DECLS = "/* -- ADDMODULE MARKER 1 -- */"
_MARKER_TABLE = "/* -- ADDMODULE MARKER 2 -- */"
# What a C++ object needs at the final link.
_CXX_HINTS = ("__gxx_personality_v0", "_Znwm", "_ZdlPv", "__cxa_", "_ZNSt", "_ZSt")


@dataclass(frozen=True)
class LinkedModule:
    dotted: str
    object: Path
    init_symbol: str
    libs: tuple[str, ...]
    libdirs: tuple[str, ...]
    cxx: bool


def init_symbol(dotted: str) -> str:
    """A C name for the module's init function that no other module can have."""
    tag = hashlib.sha256(dotted.encode()).hexdigest()[:8]
    return f"PyInit_apepy_{tag}_" + re.sub(r"\W", "_", dotted)


def partial_link(module: Module, toolchain: Toolchain, out: Path, log: Path) -> LinkedModule:
    """One relocatable object for ``module`` with only its (renamed) init function global."""
    record = module.link
    package = module.dotted
    unsupported = [*(p for p in record.shared_inputs if _static_twin(p) is None), *record.sources]
    if unsupported:
        raise ApepyError(
            f"{package}: its link uses {', '.join(unsupported)}, which apepy cannot link statically",
            hint="the package links a shared library it builds itself, or compiles and links in "
            "one step; it cannot be built into the interpreter yet",
        )
    inputs = list(record.objects)
    for path, whole in record.archives:
        inputs += ["-Wl,--whole-archive", path, "-Wl,--no-whole-archive"] if whole else [path]
    rust = any(path.endswith(".rlib") for path, _ in record.archives)
    symbol = init_symbol(package)
    undefined = _link_one(package, toolchain, inputs, out, log, rust=rust)
    if toolchain.fat:
        # Fat cosmocc links each object with its aarch64 twin in .aarch64/ beside it:
        # the module's partial link is made twice, each with its architecture's tools.
        _link_one(
            package,
            toolchains.for_arch(toolchain, "aarch64"),
            [i if i.startswith("-") else _aarch64_twin(i) for i in inputs],
            _aarch64_twin_path(out),
            log,
            rust=rust,
        )
    cxx = record.cxx or any(s.startswith(_CXX_HINTS) for s in undefined)
    # A system shared library named by path (pyzmq links .../libzmq.so): its static
    # twin in the same directory, by name.
    twins = [t for t in (_static_twin(p) for p in record.shared_inputs) if t is not None]
    return LinkedModule(package, out, symbol, (*record.libs, *twins), record.libdirs, cxx)


def _link_one(
    package: str, toolchain: Toolchain, inputs: list[str], out: Path, log: Path, *, rust: bool
) -> set[str]:
    """The partial link, the init function renamed and kept global alone; return the
    symbols the object still needs."""
    nm, objcopy = _binutils(toolchain)
    out.parent.mkdir(parents=True, exist_ok=True)
    last = package.rsplit(".", 1)[-1]
    wanted = f"PyInit_{last}"
    # rustc's own symbols.o carries no .note.GNU-stack, which would make the whole
    # interpreter's stack executable: the module's objects never need one.
    # COMDAT groups are dissolved here: once the module's symbols are local, the
    # final link must not fold its copy of a group (Rust's DW.ref.rust_eh_personality,
    # a C++ inline function) into another module's, which left its references
    # pointing into a discarded section.
    flags = ["-Wl,-z,noexecstack", "-Wl,--force-group-allocation"]
    if rust:
        # A Rust module pulls whole codegen units of its crates and of Rust's standard
        # library; like the cdylib link cargo ran, keep only what its init function
        # reaches (constructors and TLS stay, as roots of the collection).
        flags += ["-Wl,--gc-sections", f"-Wl,--undefined={wanted}"]
    procs.run_logged(
        [
            toolchain.partial_link_cc or toolchain.cc,
            "-r",
            "-nostdlib",
            *flags,
            "-o",
            str(out),
            *inputs,
        ],
        cwd=out.parent,
        log=log,
        what=f"partial link of {package}",
        hint="see the log; this is a bug in apepy's extension linking, please report it",
    )
    # LLVM bitcode embedded in Rust objects (for cross-language LTO) is dead weight
    # here, and binutils' LLVM plugin aborts on bitcode of a newer LLVM.
    subprocess.run(
        [objcopy, "--remove-section=.llvmbc", "--remove-section=.llvmcmd", str(out)],
        check=True,
        capture_output=True,
    )
    defined, undefined = _symbols(nm, out)
    if wanted not in defined:
        found = sorted(s for s in defined if s.startswith("PyInit_"))
        raise ApepyError(
            f"{package}: the linked objects define no {wanted}"
            + (f" (they define {', '.join(found)})" if found else ""),
            hint="the module's init function is named after its file; this build did not produce it",
        )
    symbol = init_symbol(package)
    # objcopy localizes global and weak symbols only: C++'s unique ones (a template's
    # static member, an inline function's static: fast_float's tables, which pandas
    # links into four modules) would stay global and clash at the final link.
    unique_to_global(out)
    subprocess.run(
        [
            objcopy,
            # objcopy renames first, then keeps globals by their new names.
            f"--keep-global-symbol={symbol}",
            f"--redefine-sym={wanted}={symbol}",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    return undefined


def _aarch64_twin(path: str) -> str:
    return str(_aarch64_twin_path(Path(path)))


def _aarch64_twin_path(path: Path) -> Path:
    return path.parent / FAT_TWIN_DIR / path.name


# ELF: binding in the high nibble of st_info.
_STB_GLOBAL = 1
_STB_GNU_UNIQUE = 10
_SHT_SYMTAB = 2


def unique_to_global(obj: Path) -> int:
    """Rebind the STB_GNU_UNIQUE symbols of the ELF object ``obj`` as plain globals, in
    place, so that objcopy can make them local; return how many. One copy per module is
    what every other localized symbol of the module already has. Not ELF: nothing."""
    data = bytearray(obj.read_bytes())
    if data[:4] != b"\x7fELF":
        return 0
    wide = data[4] == 2
    order = "<" if data[5] == 1 else ">"
    if wide:
        shoff, shentsize, shnum = struct.unpack_from(order + "Q10xHH", data, 0x28)
    else:
        shoff, shentsize, shnum = struct.unpack_from(order + "I10xHH", data, 0x20)
    # Where a section header keeps its offset and size, where a symbol keeps its
    # st_info byte, and a symbol's size, by ELF class.
    sh_at, sh_fmt = (0x18, "QQ") if wide else (0x10, "II")
    info_at, entsize = (4, 24) if wide else (12, 16)
    if shnum == 0 and shoff:
        # More sections than the header can count: section 0's size holds the number.
        shnum = struct.unpack_from(order + sh_fmt, data, shoff + sh_at)[1]
    count = 0
    for n in range(shnum):
        header = shoff + n * shentsize
        if struct.unpack_from(order + "I", data, header + 4)[0] != _SHT_SYMTAB:
            continue
        start, size = struct.unpack_from(order + sh_fmt, data, header + sh_at)
        for at in range(start + info_at, start + size, entsize):
            if data[at] >> 4 == _STB_GNU_UNIQUE:
                data[at] = (_STB_GLOBAL << 4) | (data[at] & 0xF)
                count += 1
    if count:
        obj.write_bytes(bytes(data))
    return count


def _static_twin(path: str) -> str | None:
    """``zmq`` for ``/usr/lib/.../libzmq.so`` when ``libzmq.a`` is beside it."""
    p = Path(path)
    name = p.name.split(".so")[0]
    if not p.is_absolute() or not name.startswith("lib") or not str(p).startswith("/usr/"):
        return None
    return name[3:] if (p.parent / f"{name}.a").is_file() else None


def libraries_for(
    modules: list[LinkedModule], toolchain: Toolchain | None = None, ctx: Context | None = None
) -> list[str]:
    """The link flags of the modules' C libraries, each with what its static archive needs
    (``libraries.link_flags``; without ``toolchain``, the system's)."""
    names: list[str] = []
    for m in modules:
        for lib in m.libs:
            if lib not in names and lib not in libraries.STATIC_RUNTIME:
                names.append(lib)
    if toolchain is None or ctx is None:
        return libraries.static_closure(names)
    return libraries.link_flags(names, toolchain, ctx)


def _binutils(toolchain: Toolchain) -> tuple[str, str]:
    if not toolchain.nm or not toolchain.objcopy:
        raise ApepyError(
            f"the {toolchain.family} toolchain has no nm/objcopy, needed to link extensions in",
            hint="install binutils (Debian/Ubuntu: apt-get install binutils)",
        )
    return toolchain.nm, toolchain.objcopy


def _symbols(nm: str, obj: Path) -> tuple[set[str], set[str]]:
    result = subprocess.run([nm, "-P", "-g", str(obj)], capture_output=True, text=True, check=True)
    defined: set[str] = set()
    undefined: set[str] = set()
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            (undefined if parts[1] in ("U", "w") else defined).add(parts[0])
    return defined, undefined


def relink(
    tree: Path,
    modules: list[LinkedModule],
    out: Path,
    work: Path,
    log: Path,
    *,
    libraries: list[str] | None = None,
    system_libs: tuple[str, ...] = ("-lm", "-lpthread"),
    cxx_libs: tuple[str, ...] = ("-lstdc++",),
    libraries_from_source: bool = False,
) -> None:
    """Link ``out`` from the CPython tree's objects plus ``modules``, with their inittab.

    ``libraries``: the link flags of the modules' C libraries (``libraries_for``);
    ``system_libs``: what every such link ends with (the toolchain's ``link_libs``);
    ``cxx_libs``: the C++ standard library, when a module is C++;
    ``libraries_from_source``: the toolchain links only the libraries apepy builds (for
    the error).
    """
    work.mkdir(parents=True, exist_ok=True)
    config_c = work / "config.c"
    config_c.write_text(_config_source(tree, modules), encoding="utf-8")
    config_o = work / "config.o"
    compile_cmd = _make_dry_run(tree, "Modules/config.c", "Modules/config.o")
    procs.run_logged(
        _replace_paths(
            compile_cmd, {"Modules/config.c": str(config_c), "Modules/config.o": str(config_o)}
        ),
        cwd=tree,
        log=log,
        what="compiling the interpreter's module table",
        hint="see the log; this is a bug in apepy, please report it",
    )
    link_cmd = _make_dry_run(tree, "Programs/python.o", "python")
    link_cmd = _replace_paths(link_cmd, {"Modules/config.o": str(config_o), "python": str(out)})
    # The extensions go right after the module table; their libraries after
    # CPython's own (a static link resolves left to right).
    at = link_cmd.index(str(config_o)) + 1
    extra_objects = [str(m.object) for m in modules]
    libdirs = sorted({f"-L{d}" for m in modules for d in m.libdirs})
    closure = libraries_for(modules) if libraries is None else libraries
    tail = [*libdirs, *closure]
    if any(m.cxx for m in modules):
        tail += cxx_libs
    tail += system_libs
    link_cmd = link_cmd[:at] + extra_objects + link_cmd[at:] + tail
    try:
        procs.run_logged(
            link_cmd,
            cwd=tree,
            log=log,
            what="linking the interpreter with its extensions",
            hint="an undefined reference names a C library an extension needs: install its "
            "static library (the -dev package), or leave that extension out",
        )
    except ApepyError as exc:
        missing = sorted(set(re.findall(r"cannot find -l(\S+?):", exc.details or "")))
        if not missing:
            raise
        users = sorted({m.dotted for m in modules if set(m.libs) & set(missing)}) or sorted(
            m.dotted for m in modules if m.libs
        )
        raise ApepyError(
            f"{', '.join(users)} link{'s' if len(users) == 1 else ''} against "
            + ", ".join(f"lib{name}" for name in missing)
            + (
                ", which apepy has no recipe for (this toolchain links only the libraries "
                "apepy builds)"
                if libraries_from_source
                else ", whose static library (.a) is not installed"
            ),
            hint=_missing_hint(missing[0], cc=link_cmd[0], from_source=libraries_from_source),
            details=exc.details,
        ) from exc


def _missing_hint(name: str, *, cc: str, from_source: bool) -> str:
    recipe = (
        f"apepy has no recipe for lib{name}.a: add the pinned source to its library table "
        "(src/apepy/deps/table.py)"
    )
    if from_source:
        return f"{recipe}, or leave the package out"
    return (
        f"install the -dev package that ships lib{name}.a where the compiler looks "
        f"({cc} -print-file-name=lib{name}.a finds none; some distributions ship only "
        f"the shared library), or {recipe}, or leave the package out"
    )


def _config_source(tree: Path, modules: list[LinkedModule]) -> str:
    text = (tree / "Modules" / "config.c").read_text(encoding="utf-8")
    if text.count(_MARKER_DECLS) != 1 or text.count(_MARKER_TABLE) != 1:
        raise ApepyError(
            "this CPython's Modules/config.c has no ADDMODULE markers",
            hint="apepy cannot add extension modules to this CPython version",
        )
    decls = "".join(f"extern PyObject* {m.init_symbol}(void);\n" for m in modules)
    table = "".join(f'    {{"{m.dotted}", {m.init_symbol}}},\n' for m in modules)
    text = text.replace(_MARKER_DECLS, decls + _MARKER_DECLS)
    return text.replace(_MARKER_TABLE, table + _MARKER_TABLE)


def _make_dry_run(tree: Path, newer: str, target: str) -> list[str]:
    """The exact command make would run to rebuild ``target`` if ``newer`` changed."""
    result = subprocess.run(
        ["make", "-n", "-W", newer, target], cwd=tree, capture_output=True, text=True
    )
    lines = [line for line in result.stdout.splitlines() if f"-o {target}" in line]
    if result.returncode != 0 or not lines:
        raise ApepyError(
            f"cannot get the command for {target} from the CPython build tree {tree}",
            hint="the cached build tree is damaged; delete it (apepy cache clean) and build again",
            details=result.stderr.strip()[-2000:] or None,
        )
    return shlex.split(lines[-1])


def _replace_paths(cmd: list[str], mapping: dict[str, str]) -> list[str]:
    out = []
    for i, arg in enumerate(cmd):
        if arg in mapping and (arg != "python" or (i > 0 and cmd[i - 1] == "-o")):
            out.append(mapping[arg])
        else:
            out.append(arg)
    return out


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
