"""Imports each extension module compiled into a packed interpreter (build.py, ``-c``).

Arguments: the dotted names. Prints, as JSON, each one that failed: a module it
could not find ("missing", with that module's name) or another error. A package that
turns a missing dependency into its own ImportError (pandas: "Unable to import
required dependency dateutil") counts as missing it too: the error's chain says which.
"""

import importlib
import json
import sys


def not_found(exc: BaseException | None) -> str | None:
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            return exc.name
        exc = exc.__cause__ or exc.__context__
    return None


out: dict[str, list[str]] = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        missing = not_found(exc) if isinstance(exc, ImportError) else None
        out[name] = ["missing", missing] if missing else ["error", f"{type(exc).__name__}: {exc}"]
print(json.dumps(out))
