"""Everything that runs inside the files apepy makes, and the build side's way to it.

Nothing in the subfolders imports apepy (this file is the exception: it runs on the
build side). Each subfolder holds code for one place in the file:

- ``frozen/``: frozen into the interpreter (the importer for the zip);
- ``c/``: compiled into the interpreter (``.args`` support in ``Programs/python.c``);
- ``runtime/``: modules stored in the zip (``_apepy``, ``_apepy_boot``).

Their files run under their own names (``_apepy_importer``, not
``apepy.inside.frozen._apepy_importer``), which is why the subfolders are not packages.
"""

from pathlib import Path

INSIDE = Path(__file__).parent


def path(rel: str) -> Path:
    """A file of this folder, e.g. ``path("c/apepy_args.c")``."""
    found = INSIDE / rel
    if not found.is_file():
        raise FileNotFoundError(f"apepy is missing its own file {found}")
    return found
