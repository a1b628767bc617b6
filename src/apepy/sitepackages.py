"""A staged site-packages: wheels installed into it, and its files as zip entries.

Shared by the build (the Python parts of extensions compiled in) and by bundles
(an app's dependencies): the build does not import the bundle side.
"""

from __future__ import annotations

import os
from pathlib import Path

from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.sources import WheelFile

from apepy import zipstore
from apepy.layout import SITE


def site_scheme(site: Path, scratch: Path) -> dict[str, str]:
    """An installer scheme that puts a wheel's code in ``site`` and the rest aside."""
    return {
        "purelib": str(site),
        "platlib": str(site),
        "headers": str(scratch / "headers"),
        "scripts": str(scratch / "scripts"),
        "data": str(scratch / "data"),
    }


def install_wheel(source: WheelFile, scheme: dict[str, str]) -> None:
    """Install one wheel with PyPA's installer, recorded as installed by apepy."""
    destination = SchemeDictionaryDestination(
        scheme, interpreter="/usr/bin/env python3", script_kind="posix"
    )
    install(source, destination, additional_metadata={"INSTALLER": b"apepy\n"})


def site_entries(site: Path, pyc_dir: Path) -> list[zipstore.Entry]:
    """Zip entries for a staged site-packages: each file, and each .py's .pyc beside it."""
    entries: list[zipstore.Entry] = []
    for path in sorted(site.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(site).as_posix()
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        entries.append(zipstore.Entry(SITE + rel, path.read_bytes(), compress=True, mode=mode))
        compiled = pyc_dir / (rel[:-3] + ".pyc")
        if rel.endswith(".py") and compiled.is_file():
            entries.append(
                zipstore.Entry(SITE + rel[:-3] + ".pyc", compiled.read_bytes(), compress=False)
            )
    return entries
