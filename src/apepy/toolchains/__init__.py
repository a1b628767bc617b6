"""The seam between the pipeline and a compiler: everything target-specific lives behind it.

A toolchain is plain data, and the questions the pipeline has about a target are
functions of this package: where a static library is found, how the C libraries
are prepared, the toolchain for one architecture of a fat one, which wheels carry
usable pure-Python parts. Consumers read fields and call these; they never ask
which toolchain they have. Per-family behaviour lives in ``host.py`` and
``cosmo.py``, reached through ``_FAMILIES``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Literal

from apepy.edits import Edit
from apepy.errors import ApepyError

Family = Literal["host", "cosmo"]

# Fields that concern CPython's build alone, added after the first cached builds: they
# count in identity() only when set, and never in library_identity().
_CPYTHON_ONLY = frozenset({"output_from_link", "source_edits", "partial_link_cc"})


@dataclass(frozen=True)
class Toolchain:
    family: Family
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
    def output_kind(self) -> str:
        """What the output file is: "elf-static" or "ape" (Actually Portable Executable)."""
        kind: str = _family(self).OUTPUT_KIND
        return kind

    def identity(self) -> str:
        """A stable description of everything that changes the compiled output.

        Fields added since the first cached builds count only when they are set,
        so adding one does not change the key (a rebuild) of every toolchain.
        """
        return self._describe(
            lambda f: f.name not in _CPYTHON_ONLY or getattr(self, f.name) != f.default
        )

    def library_identity(self) -> str:
        """identity() without what concerns CPython alone (its source edits, the output
        file, extensions' partial links): the C libraries built for it do not change."""
        return self._describe(lambda f: f.name not in _CPYTHON_ONLY)

    def _describe(self, keep: Callable[[Field[object]], bool]) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self) if keep(f)}
        data["configure_env"] = dict(self.configure_env)
        data["configure_cache"] = dict(self.configure_cache)
        # An edit is described as its fields in order, as the tuples it once was.
        return json.dumps(data, sort_keys=True, default=dataclasses.astuple)


NAMES: tuple[Family, ...] = ("host", "cosmo")


def _family(tc: Toolchain) -> ModuleType:
    # Imported here: the family modules import Toolchain from this one.
    if tc.family == "cosmo":
        from apepy.toolchains import cosmo

        return cosmo
    from apepy.toolchains import host

    return host


def get(
    name: str, *, arch: str | None = None, cosmocc: Path | None = None, offline: bool = False
) -> Toolchain:
    """The named toolchain, found and checked; ``arch`` and ``cosmocc`` apply to cosmo."""
    if name == "host":
        import platform

        from apepy.toolchains import host

        if arch not in (None, platform.machine()):
            raise ApepyError(
                f"the host toolchain builds for this machine ({platform.machine()}), not {arch}",
                hint="drop --arch, or build a portable file with --toolchain cosmo --arch " + arch,
            )
        if cosmocc is not None:
            raise ApepyError("--cosmocc applies to --toolchain cosmo only")
        return host.detect()
    if name == "cosmo":
        from apepy.toolchains import cosmo

        return cosmo.detect(arch or "fat", cosmocc, offline=offline)
    raise ApepyError(f"unknown toolchain {name!r}", hint=f"choose one of: {', '.join(NAMES)}")


def code(tc: Toolchain) -> tuple[str, ...]:
    """apepy's own source files (relative to the package) that shape what ``tc`` builds."""
    files: tuple[str, ...] = _family(tc).CODE
    return files


def system_library(tc: Toolchain, filename: str) -> Path | None:
    """Where the toolchain's own search path has ``filename`` (``libssl.a``), if anywhere."""
    found: Path | None = _family(tc).system_library(tc, filename)
    return found


def sysroot(tc: Toolchain) -> Path | None:
    """The cache directory of C libraries apepy builds from source for this toolchain;
    None when the toolchain links the system's own."""
    root: Path | None = _family(tc).sysroot(tc)
    return root


def prepare_libraries(tc: Toolchain, *, jobs: int, offline: bool) -> Path | None:
    """Make the C libraries of the stdlib's modules available; return the sysroot, if any."""
    root: Path | None = _family(tc).prepare_libraries(tc, jobs=jobs, offline=offline)
    return root


def missing_libraries(tc: Toolchain, archives: tuple[str, ...]) -> list[str]:
    """Those of ``archives`` (``libgdbm.a``) a build with ``tc`` cannot link."""
    missing: list[str] = _family(tc).missing_libraries(tc, archives)
    return missing


def missing_reason(tc: Toolchain, missing: list[str], debian: str) -> str:
    """Why ``missing`` cannot be linked, for a message; ``debian``: the package carrying them."""
    reason: str = _family(tc).missing_reason(missing, debian)
    return reason


def libraries_hint(tc: Toolchain, debian_packages: list[str]) -> str:
    """How to get the libraries a required module lacks."""
    hint: str = _family(tc).libraries_hint(debian_packages)
    return hint


def for_arch(tc: Toolchain, arch: str) -> Toolchain:
    """One architecture's toolchain of a fat one (or ``tc`` itself when it is that)."""
    if tc.arch == arch:
        return tc
    one: Toolchain = _family(tc).for_arch(tc, arch)
    return one


def wheel_platforms(platform: str, machine: str) -> list[str]:
    """Platform tags whose wheels carry usable pure-Python parts for an interpreter that
    reports ``platform`` (sysconfig's) on a ``machine`` CPU."""
    from apepy.toolchains import cosmo, host

    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    if host.runs_linux_wheels(platform) or cosmo.runs_linux_wheels(platform):
        return [f"manylinux_2_{minor}_{arch}" for minor in (17, 24, 28, 31, 34)] + [
            f"manylinux2014_{arch}",
            f"musllinux_1_2_{arch}",
            f"linux_{arch}",
        ]
    return [platform.replace("-", "_").replace(".", "_")]
