"""`apepy bundle --prune`: keep only the stdlib modules the app can import.

The import graph is computed by the base interpreter itself (its own parser and
bytecode): from the app's code and every installed distribution, each
`import` statement is followed through site-packages and the stdlib in the base's
zip. What the graph cannot see (``importlib.import_module(name)``, plugins) is
added with ``--keep MODULE`` or recorded from a real run: run the bundle once with
``APEPY_RECORD_IMPORTS=FILE`` and pass ``--keep-from FILE``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from apepy import ape, inside, pyc
from apepy.errors import ApepyError
from apepy.layout import CA_DIR, LIB, SITE

# Needed by every start whatever the app imports: codecs are chosen from the
# locale at run time, and the runtime support modules are imported by name.
ALWAYS = ("encodings", "_apepy", "_apepy_boot", "site", "sitecustomize", "_sysconfigdata")
# Reached only through interactive use (help(), the REPL, the debugger, doctests):
# an app's lazy `import pdb` (inside a function) does not keep them; an import that
# runs when a module is imported does, and so do --keep and a recorded run.
INTERACTIVE = (
    "pydoc",
    "pydoc_data",
    "_pyrepl",
    "pdb",
    "doctest",
    "unittest",
    "idlelib",
    "tkinter",
    "turtle",
    "ensurepip",
    "venv",
    "lib2to3",
    "test",
)
# Imported from C, or by the interpreter itself when something happens (a
# traceback, a warning, time.strptime, threads at shutdown): invisible to the graph.
IMPLICIT = (
    "traceback",
    "linecache",
    "tokenize",
    "warnings",
    "_strptime",
    "copyreg",
    "threading",
    "_threading_local",
    "_weakrefset",
    "_compat_pickle",
    "_pydatetime",
    "encodings.idna",
)


@dataclass(frozen=True)
class Pruned:
    kept: frozenset[str]  # stdlib module names kept
    dropped_members: frozenset[str]
    dropped_bytes: int


def site_modules(site: Path) -> list[str]:
    """Every module and package in the staged site-packages (all are roots)."""
    names = []
    for path in site.rglob("*.py"):
        rel = path.relative_to(site).with_suffix("")
        parts = list(rel.parts)
        if any(p.endswith((".dist-info", ".data")) or p == "__pycache__" for p in parts):
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:
            names.append(".".join(parts))
    return sorted(names)


def reachable(base: Path, site: Path, roots: Iterable[str]) -> set[str]:
    result = subprocess.run(
        [
            *ape.command(base),
            "-I",
            "-S",
            "-c",
            inside.source("probes/import_graph.py"),
            str(site),
            json.dumps(sorted(set(roots))),
            json.dumps(sorted(INTERACTIVE)),
        ],
        capture_output=True,
        text=True,
        env=pyc.plain_env(),
        cwd=site,
    )
    if result.returncode != 0:
        raise ApepyError(
            "--prune: the base interpreter could not compute the app's import graph",
            details=result.stderr.strip()[-2000:],
            hint="the base must be an apepy interpreter with its importer index; rebuild it, "
            "or bundle without --prune",
        )
    found: list[str] = json.loads(result.stdout)
    return set(found)


def plan(
    member_sizes: dict[str, int], base: Path, site: Path, roots: Iterable[str], keep: Iterable[str]
) -> Pruned:
    """Which ``Lib/`` members of the base to drop."""
    graph = reachable(base, site, [*roots, *site_modules(site), *ALWAYS, *IMPLICIT, *keep])
    wanted = set(graph) | set(keep)
    kept_dirs = {LIB + m.replace(".", "/") + "/" for m in wanted}
    kept_files = {LIB + m.replace(".", "/") + ".pyc" for m in wanted}
    dropped = set()
    for name in member_sizes:
        if not name.startswith(LIB) or name.startswith(SITE) or name.endswith("/"):
            continue
        rel = name[len(LIB) :]
        top = rel.split("/")[0].split(".")[0]
        if top.startswith(tuple(ALWAYS)) or top == CA_DIR:
            continue
        # A module's source (.py, for tracebacks) goes or stays with its .pyc.
        code = name.removesuffix(".py") + ".pyc" if name.endswith(".py") else name
        if code in kept_files:
            continue
        directory = name.rpartition("/")[0] + "/"
        if code.endswith("/__init__.pyc") and directory in kept_dirs:
            continue
        if not code.endswith(".pyc") and any(directory.startswith(d) for d in kept_dirs):
            continue  # data files of kept packages
        dropped.add(name)
    return Pruned(
        kept=frozenset(wanted),
        dropped_members=frozenset(dropped),
        dropped_bytes=sum(member_sizes[n] for n in dropped),
    )


def read_module_list(path: Path, flag: str) -> list[str]:
    """The module names in a file given to ``flag`` (--keep-from, --hot-from): one a
    line, ``#`` starting a comment; what a recorded run writes."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ApepyError(
            f"cannot read {flag} {path}: {why}",
            hint="give a file listing one module name a line, such as the record of a run "
            "of the bundle with APEPY_RECORD_IMPORTS=FILE",
        ) from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
