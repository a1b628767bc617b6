"""The interpreter a bundle is built on: asked about itself, never guessed from the host."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from apepy import ape, inside, pyc, toolchains, zipstore
from apepy import manifest as manifest_mod
from apepy.errors import ApepyError


@dataclass(frozen=True)
class Base:
    path: Path
    version: tuple[int, int, int]
    implementation: str
    abiflags: str
    platform: str
    machine: str
    builtins: frozenset[str]
    manifest: manifest_mod.Manifest | None
    archive: zipstore.Archive

    @property
    def series(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def abi(self) -> str:
        return f"cp{self.version[0]}{self.version[1]}{self.abiflags}"

    def pip_platforms(self) -> list[str]:
        """Platform tags whose wheels carry usable pure-Python parts for this base."""
        return toolchains.wheel_platforms(self.platform, self.machine)

    def describe(self) -> str:
        # An APE answers its probe with the platform it happens to run on; the manifest
        # says what the file is built for (cosmo-x86_64+aarch64 runs everywhere).
        where = self.manifest.target if self.manifest is not None else self.platform
        return f"CPython {'.'.join(map(str, self.version))} ({where})"


def inspect(path: Path) -> Base:
    # Absolute: the base is run later from other working directories.
    path = path.absolute()
    if not path.is_file():
        raise ApepyError(
            f"base {path} does not exist", hint="build one with `apepy build`, or drop --base"
        )
    if not os.access(path, os.X_OK):
        raise ApepyError(f"base {path} is not executable", hint=f"chmod +x {path}")
    try:
        archive = zipstore.read_archive(path)
    except zipstore.ZipStoreError as exc:
        raise ApepyError(
            f"base {path} is not an executable with a zip store ({exc.message})",
            hint="use an interpreter made by `apepy build`, or a Cosmopolitan python.com",
        ) from exc
    try:
        result = subprocess.run(
            [*ape.command(path), "-I", "-c", inside.source("probes/base_facts.py")],
            capture_output=True,
            text=True,
            env=pyc.plain_env(),
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ApepyError(
            f"base {path} does not run here: {exc}",
            hint="use an interpreter made by `apepy build`, or a Cosmopolitan python.com",
        ) from exc
    if result.returncode != 0:
        raise ApepyError(
            f"base {path} does not run as a Python interpreter",
            details=result.stderr.strip()[-1500:] or None,
            hint="use an interpreter made by `apepy build`, or a Cosmopolitan python.com",
        )
    try:
        info = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ApepyError(
            f"base {path} answered its probe with something that is not JSON",
            hint="use an interpreter made by `apepy build`, or a Cosmopolitan python.com",
        ) from exc
    if info["impl"] != "cpython":
        raise ApepyError(
            f"base {path} is {info['impl']}, not CPython",
            hint="use an interpreter made by `apepy build`, or a Cosmopolitan python.com",
        )
    try:
        found = manifest_mod.read(path)
    except ApepyError:
        found = None
    return Base(
        path=path,
        version=tuple(info["version"]),
        implementation=info["impl"],
        abiflags=info["abiflags"],
        platform=info["platform"],
        machine=info["machine"],
        builtins=frozenset(info["builtins"]),
        manifest=found,
        archive=archive,
    )
