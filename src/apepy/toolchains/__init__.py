"""The seam between the pipeline and a compiler: everything target-specific lives behind it.

A toolchain is plain data (``toolchain.Toolchain``), and each family of toolchains
(``host``, ``cosmo``) is a module implementing one protocol (``toolchain.Family``):
how it is found, where its compiler finds a static library, the toolchain for one
architecture of a fat one, which wheels carry usable pure-Python parts. Consumers
read fields and call this package; they never ask which toolchain they have.

Where the C libraries come from (the system's archives or apepy's builds of them) is
decided above this package, in ``apepy.libraries``; nothing here imports above it.
"""

from __future__ import annotations

from pathlib import Path

from apepy.errors import ApepyError
from apepy.toolchains import cosmo, host
from apepy.toolchains.toolchain import (
    LIBRARIES,
    CrossMachine,
    Family,
    FamilyName,
    Libraries,
    Options,
    Toolchain,
)

__all__ = [
    "FAMILIES",
    "LIBRARIES",
    "NAMES",
    "CrossMachine",
    "Family",
    "FamilyName",
    "Libraries",
    "Options",
    "Toolchain",
    "cross_machine",
    "cxx_runtime",
    "family",
    "for_arch",
    "get",
    "system_library",
    "wheel_platforms",
]

FAMILIES: dict[FamilyName, Family] = {"host": host, "cosmo": cosmo}
NAMES: tuple[FamilyName, ...] = tuple(FAMILIES)


def family(tc: Toolchain) -> Family:
    return FAMILIES[tc.family]


def get(name: str, options: Options | None = None) -> Toolchain:
    """The named toolchain, found and checked."""
    for known, found in FAMILIES.items():
        if known == name:
            return found.detect(options or Options())
    raise ApepyError(f"unknown toolchain {name!r}", hint=f"choose one of: {', '.join(NAMES)}")


def system_library(tc: Toolchain, filename: str) -> Path | None:
    """Where the toolchain's own search path has ``filename`` (``libssl.a``)."""
    return family(tc).system_library(tc, filename)


def for_arch(tc: Toolchain, arch: str) -> Toolchain:
    """One architecture's toolchain of a fat one (or ``tc`` itself when it is that)."""
    if tc.arch == arch:
        return tc
    return family(tc).for_arch(tc, arch)


def cross_machine(tc: Toolchain) -> CrossMachine | None:
    """The machine ``tc`` compiles for, when a package's build must cross-compile to it."""
    return family(tc).cross_machine(tc)


def cxx_runtime(tc: Toolchain) -> tuple[str, ...]:
    """The link flags of ``tc``'s C++ standard library."""
    return family(tc).cxx_runtime(tc)


def wheel_platforms(platform: str, machine: str) -> list[str]:
    """Platform tags whose wheels carry usable pure-Python parts for an interpreter that
    reports ``platform`` (sysconfig's) on a ``machine`` CPU."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine)
    if any(f.runs_linux_wheels(platform) for f in FAMILIES.values()):
        return [f"manylinux_2_{minor}_{arch}" for minor in (17, 24, 28, 31, 34)] + [
            f"manylinux2014_{arch}",
            f"musllinux_1_2_{arch}",
            f"linux_{arch}",
        ]
    return [platform.replace("-", "_").replace(".", "_")]
