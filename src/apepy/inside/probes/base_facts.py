"""What a bundle's base interpreter is (bundle/base.py, run with ``-c``): never guessed."""

import json
import platform
import sys
import sysconfig

print(
    json.dumps(
        {
            "version": list(sys.version_info[:3]),
            "impl": sys.implementation.name,
            "abiflags": getattr(sys, "abiflags", ""),
            "platform": sysconfig.get_platform(),
            "machine": platform.machine(),
            "builtins": sorted(sys.builtin_module_names),
        }
    )
)
