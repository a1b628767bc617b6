"""Fetch one sdist with pip's own index client, without preparing its metadata.

``pip download`` reads an sdist's metadata before it saves the file, and for a
meson-python package (numpy, pandas: the backend has no metadata hook) that is the
package's whole build, minutes thrown away. This asks pip's finder for the sdist that
``pip download --no-deps --no-binary NAME`` would pick (same index, mirrors, find-links,
certificates and credentials: pip's configuration) and downloads it with pip's
session. pip's internals are not a stable API: any failure here makes the caller fall
back to ``pip download``.

    python -m apepy.extensions.sdist_fetch NAME SPECIFIER DEST

Prints JSON: ``{"path": ..., "sha256": ..., "index_sha256": ...}``, or ``{"path": null}``
when the index has no matching sdist.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from pip._internal.commands import create_command
from pip._internal.commands.download import DownloadCommand
from pip._vendor.packaging.specifiers import SpecifierSet


def main(name: str, specifier: str, dest: str) -> dict[str, str | None]:
    command = create_command("download")
    assert isinstance(command, DownloadCommand)
    options, _ = command.parse_args(["--no-deps", "--no-binary", name, "-d", dest, name])
    with command.main_context():
        session = command.get_default_session(options)
        finder = command._build_package_finder(options=options, session=session)
        best = finder.find_best_candidate(name, SpecifierSet(specifier)).best_candidate
        if best is None or best.link.is_wheel:
            return {"path": None}
        link = best.link
        target = os.path.join(dest, link.filename)
        digest = hashlib.sha256()
        with session.get(link.url_without_fragment, stream=True) as response:
            response.raise_for_status()
            with open(target, "wb") as out:
                for chunk in response.iter_content(1 << 16):
                    digest.update(chunk)
                    out.write(chunk)
        index = link.hash if link.hash_name == "sha256" else None
        return {"path": target, "sha256": digest.hexdigest(), "index_sha256": index}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
