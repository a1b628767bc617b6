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

from apepy import ape, pyc
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

# Run by the base interpreter: prints the stdlib modules reachable from the roots.
_GRAPH = r"""
import _imp, dis, json, marshal, sys
import _apepy_importer
site, roots, lazy = sys.argv[1], json.loads(sys.argv[2]), set(json.loads(sys.argv[3]))
store = _apepy_importer._get_store()
members = store.members if store else {}
import os

def locate(name):
    rel = name.replace('.', '/')
    for suffix, pkg in (('/__init__.py', True), ('.py', False)):
        path = os.path.join(site, rel + suffix)
        if os.path.isfile(path):
            with open(path, 'rb') as f:
                return 'site', pkg, compile(f.read(), path, 'exec', dont_inherit=True)
    for suffix, pkg in (('/__init__.pyc', True), ('.pyc', False)):
        member = 'Lib/' + rel + suffix
        if member in members:
            return 'stdlib', pkg, marshal.loads(memoryview(store.read(member))[16:])
    if name in sys.builtin_module_names:
        return 'builtin', False, None
    if _imp.is_frozen(name):
        return 'frozen', _imp.is_frozen_package(name), _imp.get_frozen_object(name)
    return None

def imports(code, name, is_pkg):
    package = name if is_pkg else name.rpartition('.')[0]
    # (code, run at import time?): a function's body runs later, if ever; a class
    # body or the module's own code runs when the module is imported.
    stack = [(code, True)]
    while stack:
        co, eager = stack.pop()
        consts = []
        for ins in dis.get_instructions(co):
            if ins.opname == 'LOAD_CONST':
                consts.append(ins.argval)
            elif ins.opname == 'IMPORT_NAME':
                level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
                fromlist = consts[-1] if consts and isinstance(consts[-1], tuple) else ()
                target = ins.argval
                if level:
                    parts = package.split('.')
                    base = '.'.join(parts[: len(parts) - level + 1]) if level <= len(parts) else ''
                    target = base + ('.' + target if target else '') if base else target
                if target:
                    yield target, eager
                    for item in fromlist or ():
                        if item != '*':
                            yield target + '.' + item, eager
            elif ins.opname not in ('EXTENDED_ARG', 'CACHE'):
                consts = []
        stack.extend(
            (c, eager and not c.co_flags & 1)  # CO_OPTIMIZED: a function
            for c in co.co_consts if hasattr(c, 'co_code')
        )

seen, stdlib, todo = set(), set(), [(r, True) for r in roots]
rooted = {r.split('.')[0] for r in roots}
while todo:
    name, eager = todo.pop()
    if not name or name in seen:
        continue
    # Interactive-only modules are kept when imported at import time (datasette's
    # top-level `import pdb`), not for a lazy import inside a function.
    if not eager and name.split('.')[0] in lazy and name.split('.')[0] not in rooted:
        continue
    seen.add(name)
    parent = name.rpartition('.')[0]
    if parent:
        todo.append((parent, True))
    found = locate(name)
    if found is None:
        continue
    where, is_pkg, code = found
    if where == 'stdlib':
        stdlib.add(name)
    if code is not None:
        todo.extend(imports(code, name, is_pkg))
print(json.dumps(sorted(stdlib)))
"""


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
            _GRAPH,
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
        if name in kept_files:
            continue
        directory = name.rpartition("/")[0] + "/"
        if name.endswith("/__init__.pyc") and directory in kept_dirs:
            continue
        if not name.endswith(".pyc") and any(directory.startswith(d) for d in kept_dirs):
            continue  # data files of kept packages
        dropped.add(name)
    return Pruned(
        kept=frozenset(wanted),
        dropped_members=frozenset(dropped),
        dropped_bytes=sum(member_sizes[n] for n in dropped),
    )


def read_keep_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApepyError(f"cannot read --keep-from {path}: {exc.strerror}") from exc
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
