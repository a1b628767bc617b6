"""Imports a distribution's top-level modules without its C files (bundle/install.py, ``-c``).

Arguments: the staged site-packages, then the module names. Prints, as JSON, each
failure: the exception's type, message and the module it names.
"""

import importlib
import json
import sys

sys.path.insert(0, sys.argv[1])
out: dict[str, list[str]] = {}
for m in sys.argv[2:]:
    try:
        importlib.import_module(m)
    except BaseException as e:
        out[m] = [type(e).__name__, str(e), getattr(e, "name", None) or ""]
print(json.dumps(out))
