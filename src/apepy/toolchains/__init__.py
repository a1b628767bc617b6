"""The seam between the pipeline and a compiler: everything target-specific lives behind it.

A toolchain is plain data. The interpreter build, the stdlib packer and the
extension builder read these fields and never ask which toolchain they have.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import Field, dataclass, field, fields
from pathlib import Path

from apepy.errors import ApepyError

# Fields that concern CPython's build alone, added after the first cached builds: they
# count in identity() only when set, and never in library_identity().
_CPYTHON_ONLY = frozenset({"output_from_link", "source_edits", "partial_link_cc"})


@dataclass(frozen=True)
class Toolchain:
    name: str
    cc: str
    cxx: str | None
    ar: str
    ranlib: str
    strip: str | None
    compiler_version: str
    # The platform the output runs on, as sysconfig would name it.
    target: str
    # "elf-static" (the host's own format) or "ape" (Actually Portable Executable).
    output_kind: str
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    configure_args: tuple[str, ...] = ()
    configure_env: Mapping[str, str] = field(default_factory=dict)
    # Autoconf cache answers (ac_cv_*) for probes that fail on this target.
    configure_cache: Mapping[str, str] = field(default_factory=dict)
    # Where the C libraries come from: "system" (static libs from the OS packages)
    # or "sysroot" (built from source by apepy's dependency builder).
    libraries_from: str = "system"
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
    # apepy's own (interpreter/patches.py): (name, path, anchor, replacement).
    source_edits: tuple[tuple[str, str, str, str], ...] = ()
    # The driver for an extension's partial link (-r -nostdlib); None: cc.
    # cosmocc's compiler scripts refuse -nostdlib; the target gcc under them does it.
    partial_link_cc: str | None = None

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
        return json.dumps(data, sort_keys=True)


NAMES = ("host", "cosmo")


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
