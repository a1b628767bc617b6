"""apepy's own code that shapes each cached step, derived from the imports.

A cached step (the CPython tree, the packed interpreter, a package's build) is keyed
by the digest of the code that makes it. That list used to be written by hand and
missed a module the step imports (``pyc.py``, which sets every stdlib ``.pyc``'s hash
seed): a change there kept the stale interpreter. Here it is the step's root modules
and every apepy module they import, anywhere in their code, read with ``ast``; a step
names what it does not follow (modules that cannot change its output, or that another
key already covers), and the non-Python files it reads.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent

# Modules whose change cannot change what any step makes: messages, the cache's own
# bookkeeping, how a build runs, downloads (every file is checked against its pin).
NOT_OUTPUT = frozenset(
    {"apepy.ui", "apepy.errors", "apepy.cache", "apepy.context", "apepy.download"}
)


def modules() -> dict[str, Path]:
    """Every apepy module by its dotted name."""
    found = {}
    for path in sorted(_PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(_PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _owner(name: str, known: dict[str, Path]) -> str | None:
    """The module ``name`` (a module, or a name in one) is defined in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _is(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def imports(module: str, known: dict[str, Path] | None = None) -> set[str]:
    """The apepy modules ``module`` imports, anywhere in its code (apepy's imports are
    absolute). ``from apepy.deps import fat`` imports the submodule, not the package."""
    known = modules() if known is None else known
    found: set[str | None] = set()
    for node in ast.walk(ast.parse(known[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {_owner(a.name, known) for a in node.names if _is(a.name, "apepy")}
        elif isinstance(node, ast.ImportFrom) and _is(base := node.module or "", "apepy"):
            found |= {
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else _owner(base, known)
                for a in node.names
            }
    return {m for m in found if m is not None and m != module}


def closure(roots: Iterable[str], *, leave_out: Iterable[str] = ()) -> list[str]:
    """``roots`` and every module they import, transitively; a module in ``leave_out``
    (or in a package there) is neither listed nor followed."""
    known = modules()
    skip = tuple(leave_out)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen or any(_is(module, s) for s in skip):
            continue
        seen.add(module)
        todo.extend(imports(module, known))
    return sorted(seen)


def files(
    roots: Iterable[str], *, leave_out: Iterable[str] = (), data: Iterable[str] = ()
) -> tuple[str, ...]:
    """The files (relative to the package, for ``hashing.code_digest``) of ``closure``,
    then ``data``: the non-Python files and folders the step reads."""
    known = modules()
    found = closure(roots, leave_out=leave_out)
    return (*(known[m].relative_to(_PACKAGE).as_posix() for m in found), *data)
