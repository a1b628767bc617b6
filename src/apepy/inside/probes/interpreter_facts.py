"""What a packed interpreter says about itself (build.py's check, run with ``-c``).

Run from an empty environment and directory, as a user would run the file.
"""

import json
import sys
import sysconfig

print(
    json.dumps(
        {
            "version": ".".join(str(n) for n in sys.version_info[:3]),
            "builtins": sorted(sys.builtin_module_names),
            "path": sys.path,
            "prefix": sys.prefix,
            "executable": sys.executable,
            "platform": sysconfig.get_platform(),
            "stdlib": sys._stdlib_dir,  # type: ignore[attr-defined]
        }
    )
)
