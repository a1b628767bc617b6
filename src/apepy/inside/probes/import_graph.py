"""The stdlib modules an app can reach, computed by its base interpreter (bundle/prune.py, ``-c``).

Run with ``-I -S`` by the base itself, so the bytecode is read with its own parser
and ``dis``. Arguments: the staged site-packages, the root modules (JSON) and the
interactive-only top-level names (JSON). Prints the reachable stdlib modules (JSON).
"""

import _imp
import dis
import json
import marshal
import os
import sys

import _apepy_importer

# Given its value when the probe is read (apepy.inside).
from apepy.layout import LIB

# For the type checker only: the probe imports nothing it did not need before.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import CodeType

site, roots, lazy = sys.argv[1], json.loads(sys.argv[2]), set(json.loads(sys.argv[3]))
store = _apepy_importer._get_store()
members = store.members if store else {}


def locate(name: str) -> "tuple[str, bool, CodeType | None] | None":
    rel = name.replace(".", "/")
    for suffix, pkg in (("/__init__.py", True), (".py", False)):
        path = os.path.join(site, rel + suffix)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                return "site", pkg, compile(f.read(), path, "exec", dont_inherit=True)
    for suffix, pkg in (("/__init__.pyc", True), (".pyc", False)):
        member = LIB + rel + suffix
        if member in members:
            return "stdlib", pkg, marshal.loads(memoryview(store.read(member))[16:])
    if name in sys.builtin_module_names:
        return "builtin", False, None
    if _imp.is_frozen(name):
        return "frozen", _imp.is_frozen_package(name), _imp.get_frozen_object(name)
    return None


def imports(code: "CodeType", name: str, is_pkg: bool) -> "Iterator[tuple[str, bool]]":
    package = name if is_pkg else name.rpartition(".")[0]
    # (code, run at import time?): a function's body runs later, if ever; a class
    # body or the module's own code runs when the module is imported.
    stack = [(code, True)]
    while stack:
        co, eager = stack.pop()
        consts: list[object] = []
        for ins in dis.get_instructions(co):
            if ins.opname == "LOAD_CONST":
                consts.append(ins.argval)
            elif ins.opname == "IMPORT_NAME":
                level = consts[-2] if len(consts) >= 2 and isinstance(consts[-2], int) else 0
                fromlist = consts[-1] if consts and isinstance(consts[-1], tuple) else ()
                target = ins.argval
                if level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - level + 1]) if level <= len(parts) else ""
                    target = base + ("." + target if target else "") if base else target
                if target:
                    yield target, eager
                    for item in fromlist or ():
                        if item != "*":
                            yield target + "." + item, eager
            elif ins.opname not in ("EXTENDED_ARG", "CACHE"):
                consts = []
        stack.extend(
            (c, eager and not c.co_flags & 1)  # CO_OPTIMIZED: a function
            for c in co.co_consts
            if hasattr(c, "co_code")
        )


seen: set[str] = set()
stdlib: set[str] = set()
todo = [(r, True) for r in roots]
rooted = {r.split(".")[0] for r in roots}
while todo:
    name, eager = todo.pop()
    if not name or name in seen:
        continue
    # Interactive-only modules are kept when imported at import time (datasette's
    # top-level `import pdb`), not for a lazy import inside a function.
    if not eager and name.split(".")[0] in lazy and name.split(".")[0] not in rooted:
        continue
    seen.add(name)
    parent = name.rpartition(".")[0]
    if parent:
        todo.append((parent, True))
    found = locate(name)
    if found is None:
        continue
    where, is_pkg, code = found
    if where == "stdlib":
        stdlib.add(name)
    if code is not None:
        todo.extend(imports(code, name, is_pkg))
print(json.dumps(sorted(stdlib)))
