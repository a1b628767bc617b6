"""What an apepy file is when it runs (`apepy verify --deep`, run with ``-c`` by the file
itself): its built-in modules, and whether each compiled module in its site-packages
is the compiled form of the source beside it (PEP 552 hash-based .pyc)."""

import importlib.util
import json
import sys
import zipfile

SITE = "Lib/site-packages/"
checked = 0
stale = []
with zipfile.ZipFile(sys.executable) as archive:
    names = set(archive.namelist())
    for name in sorted(names):
        if not (name.startswith(SITE) and name.endswith(".pyc")):
            continue
        source = name[:-1]
        if source not in names:
            continue
        header = archive.read(name)[:16]
        if int.from_bytes(header[4:8], "little") & 1 == 0:
            continue  # timestamp-based: nothing to compare with
        checked += 1
        if header[:4] != importlib.util.MAGIC_NUMBER or header[8:16] != (
            importlib.util.source_hash(archive.read(source))
        ):
            stale.append(name)
print(
    json.dumps(
        {"builtins": sorted(sys.builtin_module_names), "pyc_checked": checked, "pyc_stale": stale}
    )
)
