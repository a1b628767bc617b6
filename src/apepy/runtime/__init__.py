"""Code that runs inside the executables apepy makes, kept apart from the build side.

Files here are copied into the produced zip (``Lib/``) and compiled by the target
interpreter; they must run on every supported CPython and import little.
"""

from pathlib import Path

RUNTIME_DIR = Path(__file__).parent
