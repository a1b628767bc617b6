"""The newest release of a package older than one whose build requirements the index
does not serve, whose own build requirements it does: asked with pip's index client
when a package's build failed installing them.

lxml 6.2.0 needs Cython>=3.3.2; an index (a mirror, a private one) that does not
serve that Cython cannot build it, but can build an older lxml. This walks the
package's older sdists on the index, newest first (a few at most), reads each one's
``[build-system] requires`` and asks pip's finder whether every requirement has a
candidate. pip's internals are not a stable API: any failure leaves the caller with
no suggestion.

    python -m apepy.extensions.buildreqs NAME VERSION

Prints JSON: ``{"version": VERSION-or-null}``.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
import tomllib
import zipfile

from pip._internal.commands import create_command
from pip._internal.commands.download import DownloadCommand
from pip._internal.index.package_finder import PackageFinder
from pip._internal.models.link import Link
from pip._internal.network.session import PipSession
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.version import Version

# Older releases looked at, at most: each is one sdist download.
_TRIES = 5
# What a package without a pyproject.toml builds with (pip's legacy default).
_LEGACY = ("setuptools>=40.8.0",)


def _requires(archive: bytes, filename: str) -> tuple[str, ...]:
    """``[build-system] requires`` of the sdist's top-level pyproject.toml."""
    if filename.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(archive)) as store:
            names = [n for n in store.namelist() if n.count("/") == 1]
            found = next((n for n in names if n.endswith("/pyproject.toml")), None)
            text = store.read(found).decode() if found else None
    else:
        with tarfile.open(fileobj=io.BytesIO(archive)) as store:
            member = next(
                (
                    m
                    for m in store.getmembers()
                    if m.name.count("/") == 1 and m.name.endswith("/pyproject.toml")
                ),
                None,
            )
            handle = store.extractfile(member) if member is not None else None
            text = handle.read().decode() if handle is not None else None
    if text is None:
        return _LEGACY
    system = tomllib.loads(text).get("build-system", {})
    return tuple(system.get("requires", _LEGACY))


def _resolves(finder: PackageFinder, requirements: tuple[str, ...]) -> bool:
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        if finder.find_best_candidate(req.name, req.specifier).best_candidate is None:
            return False
    return True


def main(name: str, version: str) -> dict[str, str | None]:
    command = create_command("download")
    assert isinstance(command, DownloadCommand)
    options, _ = command.parse_args(["--no-deps", "--no-binary", name, "-d", ".", name])
    with command.main_context():
        session: PipSession = command.get_default_session(options)
        finder = command._build_package_finder(options=options, session=session)
        older: dict[Version, Link] = {}
        for candidate in finder.find_all_candidates(name):
            found = Version(str(candidate.version))
            if not candidate.link.is_wheel and found < Version(version):
                older.setdefault(found, candidate.link)
        for found in sorted(older, reverse=True)[:_TRIES]:
            link = older[found]
            response = session.get(link.url_without_fragment)
            response.raise_for_status()
            if _resolves(finder, _requires(response.content, link.filename)):
                return {"version": str(found)}
    return {"version": None}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
