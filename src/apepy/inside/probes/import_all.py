"""Imports each extension module compiled into a packed interpreter (build.py, ``-c``).

Arguments: the dotted names. Prints, as JSON, each one that failed: a module it
could not find ("missing", with that module's name) or another error.
"""

import importlib
import json
import sys

out: dict[str, list[str]] = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        out[name] = ["missing", str(exc.name)]
    except BaseException as exc:
        out[name] = ["error", f"{type(exc).__name__}: {exc}"]
print(json.dumps(out))
