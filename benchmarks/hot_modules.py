"""Measure which stdlib modules the common programs import (apepy/interpreter/freeze.py).

Runs a single-file interpreter with ``-X importtime`` on the start-up cases and on
Flask and datasette (installed into a scratch target directory with pip), keeps
the modules whose ``.pyc`` sits in the file's ``Lib/`` and that CPython does not
already freeze, and prints them as the tuple ``HOT_MODULES``.

    .venv/bin/python benchmarks/hot_modules.py dist/python
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CASES = {
    "-c pass": "pass",
    "four modules": "import json, email, http.server, asyncio",
    "a Flask request": (
        "import flask; app = flask.Flask('x'); app.get('/')(lambda: 'hi');"
        " app.test_client().get('/')"
    ),
    "werkzeug.serving": "import werkzeug.serving",
    "datasette.app": "import datasette.app",
}
PACKAGES = ("flask", "datasette")
# apepy's own run-time modules sit in Lib/ too but are not CPython's to freeze.
RUNTIME = {"_apepy", "_apepy_boot"}


def imported(exe: Path, code: str, path: Path) -> list[str]:
    run = subprocess.run(
        [str(exe), "-X", "importtime", "-c", code],
        env={"PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        check=True,
    )
    names = []
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.split("|")[2].strip()
            if not name.startswith("imported package"):
                names.append(name)
    return names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("exe", type=Path, help="a single-file interpreter built by apepy")
    args = parser.parse_args()
    members = set(zipfile.ZipFile(args.exe).namelist())
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", scratch, *PACKAGES],
            check=True,
        )
        hot: set[str] = set()
        for label, code in CASES.items():
            names = imported(args.exe, code, Path(scratch))
            stdlib = {
                n
                for n in names
                if {f"Lib/{n.replace('.', '/')}.pyc", f"Lib/{n.replace('.', '/')}/__init__.pyc"}
                & members
                and n not in RUNTIME
            }
            print(f"# {label}: {len(stdlib)} stdlib modules from the zip", file=sys.stderr)
            hot |= stdlib
    print("HOT_MODULES = (")
    for name in sorted(hot):
        print(f'    "{name}",')
    print(")")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
