"""Does the package index know a project at all, and a name close to it? Asked with pip's
own index client when a resolution found nothing for a requirement.

``pip download`` says "No matching distribution found" both for a project the index has
no wheel of that fits and for a name it has never heard of (a misspelling). This asks
pip's finder (same index, mirrors, find-links, certificates: pip's configuration and
the bundle's index options) for any file of the project, whatever its platform; for a
name the index does not know, it tries the names one typing slip away (two neighbouring
letters swapped, one letter left out), a handful of index requests. pip's internals are
not a stable API: any failure here leaves the caller with its ordinary message.

    python -m apepy.bundle.index_probe NAME [PIP INDEX OPTIONS...]

Prints JSON: ``{"known": true}``, or ``{"known": false, "close": NAME-or-null}``.
"""

from __future__ import annotations

import json
import sys

from pip._internal.commands import create_command
from pip._internal.commands.download import DownloadCommand
from pip._internal.index.package_finder import PackageFinder


def slips(name: str) -> list[str]:
    """The names one typing slip away from ``name``: neighbours swapped, a letter left out."""
    swapped = [name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in range(len(name) - 1)]
    shorter = [name[:i] + name[i + 1 :] for i in range(len(name))]
    found: list[str] = []
    for candidate in (*swapped, *shorter):
        if candidate != name and candidate not in found and candidate.strip("-_."):
            found.append(candidate)
    return found


def _known(finder: PackageFinder, name: str) -> bool:
    return bool(finder.find_all_candidates(name))


def main(name: str, index_args: list[str]) -> dict[str, object]:
    command = create_command("download")
    assert isinstance(command, DownloadCommand)
    options, _ = command.parse_args([*index_args, "-d", ".", name])
    with command.main_context():
        session = command.get_default_session(options)
        finder = command._build_package_finder(options=options, session=session)
        if _known(finder, name):
            return {"known": True}
        close = next((c for c in slips(name) if _known(finder, c)), None)
        return {"known": False, "close": close}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])))
