"""The toolchain as data, and the protocol each family of toolchains implements.

Kept apart from the package's ``__init__`` so that the family modules (``host``,
``cosmo``) and the package that dispatches to them import it without a circle.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Literal, Protocol

from apepy.edits import Edit

FamilyName = Literal["host", "cosmo"]
# Where the C libraries come from: the system's static archives (the -dev packages'),
# or apepy's builds of pinned sources into a sysroot in the cache (deps).
Libraries = Literal["system", "source"]
LIBRARIES: tuple[Libraries, ...] = ("system", "source")

# Fields that concern CPython's build alone, added after the first cached builds: they
# count in identity() only when set.
_CPYTHON_ONLY = frozenset({"output_from_link", "source_edits", "partial_link_cc", "libraries"})
# What library_identity() (the sysroot's key) leaves out: CPython's own configure
# inputs, which the C libraries' builds never read, so that a host build from source
# and the host's extension libraries share one sysroot.
_NOT_LIBRARIES = _CPYTHON_ONLY | {"configure_args", "configure_env", "configure_cache"}


@dataclass(frozen=True)
class Toolchain:
    family: FamilyName
    cc: str
    cxx: str | None
    ar: str
    ranlib: str
    strip: str | None
    compiler_version: str
    # The platform the output runs on, as sysconfig would name it.
    target: str
    # The CPU architecture compiled for: "x86_64", "aarch64", or "fat" (cosmocc's
    # both at once, each object with an aarch64 twin in .aarch64/).
    arch: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    configure_args: tuple[str, ...] = ()
    configure_env: Mapping[str, str] = field(default_factory=dict)
    # Autoconf cache answers (ac_cv_*) for probes that fail on this target.
    configure_cache: Mapping[str, str] = field(default_factory=dict)
    # Flags that make C libraries' objects linkable into any program of this target.
    pic_flags: tuple[str, ...] = ("-fPIC",)
    # The GNU triplet a library that picks its sources by target (libffi's assembly)
    # is configured for (--host); None: configure's own guess, the build machine.
    triplet: str | None = None
    # The install program for C libraries (a fat cosmocc installs each file with its
    # .aarch64/ twin); None: the package's own.
    install: str | None = None
    # Whether the toolchain links shared objects; without, an extension build's
    # `-shared` link is recorded but not run.
    shared_objects: bool = True
    # Whether objects cargo builds for the host's own target link into the output.
    rust: bool = True
    # Libraries every link of an interpreter with extensions ends with.
    link_libs: tuple[str, ...] = ("-lm", "-lpthread")
    libraries: Libraries = "system"
    # binutils for linking third-party extensions in: a partial link keeps one
    # extension's symbols private, objcopy renames its PyInit_ function.
    objcopy: str | None = None
    nm: str | None = None
    # The program that makes the output file from the linked interpreter, run as
    # [*output_from_link, linked, output]; empty: a copy. Single-architecture
    # cosmocc links an ELF that carries the APE image, which objcopy -O binary
    # writes out as the APE itself.
    output_from_link: tuple[str, ...] = ()
    # Edits of CPython's source that only this toolchain needs, applied after
    # apepy's own (interpreter/patches.py).
    source_edits: tuple[Edit, ...] = ()
    # The driver for an extension's partial link (-r -nostdlib); None: cc.
    # cosmocc's compiler scripts refuse -nostdlib; the target gcc under them does it.
    partial_link_cc: str | None = None

    @property
    def fat(self) -> bool:
        return self.arch == "fat"

    @property
    def libraries_from_source(self) -> bool:
        """Every C library comes from apepy's builds of pinned sources (the toolchain's
        sysroot), none from the system's static archives."""
        return self.libraries == "source"

    def identity(self) -> str:
        """A stable description of everything that changes the compiled output.

        Fields added since the first cached builds count only when they are set,
        so adding one does not change the key (a rebuild) of every toolchain.
        """
        return self._describe(
            lambda f: f.name not in _CPYTHON_ONLY or getattr(self, f.name) != f.default
        )

    def library_identity(self) -> str:
        """identity() without what concerns CPython alone (its configure inputs and source
        edits, the output file, extensions' partial links): the C libraries built for it
        do not change."""
        return self._describe(lambda f: f.name not in _NOT_LIBRARIES)

    def _describe(self, keep: Callable[[Field[object]], bool]) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if keep(f)}
        for name in ("configure_env", "configure_cache"):
            if name in data:
                data[name] = dict(getattr(self, name))
        # An edit is described as its fields in order, as the tuples it once was.
        return json.dumps(data, sort_keys=True, default=dataclasses.astuple)


@dataclass(frozen=True)
class CrossMachine:
    """The machine a toolchain compiles for, as a build system that cross-compiles
    (meson's cross file) names it, when that is not the build machine itself."""

    system: str
    cpu_family: str
    endian: str
    # The command that runs the toolchain's programs here (before a program's path);
    # empty: they run directly.
    exe_wrapper: tuple[str, ...] = ()


@dataclass(frozen=True)
class Options:
    """What the user asked of the toolchain: ``apepy build``'s --arch, --cosmocc,
    --libraries (None: the family's own default), and whether it may download."""

    arch: str | None = None
    cosmocc: Path | None = None
    libraries: Libraries | None = None
    offline: bool = False


class Family(Protocol):
    """A family of toolchains (a module: ``host``, ``cosmo``). The pipeline asks these
    questions of the family and never branches on its name."""

    # What the output file is: "elf-static" or "ape" (Actually Portable Executable).
    OUTPUT_KIND: str

    def detect(self, options: Options) -> Toolchain:
        """The toolchain found on this machine (or downloaded), checked; refuses options
        that do not apply to the family."""
        ...

    def system_library(self, toolchain: Toolchain, filename: str) -> Path | None:
        """Where the toolchain's own search path has ``filename`` (``libssl.a``)."""
        ...

    def for_arch(self, toolchain: Toolchain, arch: str) -> Toolchain:
        """One architecture's toolchain of a fat one."""
        ...

    def runs_linux_wheels(self, platform: str) -> bool:
        """Whether an interpreter reporting ``platform`` can use Linux wheels' pure parts."""
        ...

    def cross_machine(self, toolchain: Toolchain) -> CrossMachine | None:
        """The target as a cross-compiling build system names it; None: the build
        machine (a package's build runs as an ordinary native one)."""
        ...

    def cxx_runtime(self, toolchain: Toolchain) -> tuple[str, ...]:
        """What a link with C++ objects adds for the C++ standard library."""
        ...
