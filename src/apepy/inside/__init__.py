"""Everything that runs inside the files apepy makes, and the build side's way to it.

Nothing in the subfolders imports apepy (this file is the exception: it runs on the
build side). Each subfolder holds code for one place in the file:

- ``frozen/``: frozen into the interpreter (the importer for the zip);
- ``c/``: compiled into the interpreter (``.args`` support in ``Programs/python.c``);
- ``runtime/``: modules stored in the zip (``_apepy``, ``_apepy_boot``);
- ``probes/``: scripts the build and bundle steps run with a built interpreter
  (with ``-c``, or written out and run as a script), never stored in it.

Their files run under their own names (``_apepy_importer``, not
``apepy.inside.frozen._apepy_importer``), which is why the subfolders are not packages.

The layout of the file has one source, ``apepy.layout``. Code here names it the
ordinary way, ``from apepy.layout import LIB`` (so it is linted, type-checked and
importable in tests as it is), and ``source()`` turns that line into
``LIB = 'Lib/'`` when the code goes into a file, where apepy cannot be imported.
"""

import ast
from pathlib import Path

from apepy import layout

INSIDE = Path(__file__).parent
_LAYOUT = "apepy.layout"


def path(rel: str) -> Path:
    """A file of this folder, e.g. ``path("c/apepy_args.c")``."""
    found = INSIDE / rel
    if not found.is_file():
        raise FileNotFoundError(f"apepy is missing its own file {found}")
    return found


def source(rel: str) -> str:
    """A Python file of this folder as it goes into a file: layout's names given their values.

    Each ``from apepy.layout import ...`` at the top level becomes assignments on
    its first line and blank lines after it, so line numbers (tracebacks, the
    ``.pyc``'s line table) stay those of the file here.
    """
    text = path(rel).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for node in ast.parse(text, rel).body:
        if not (isinstance(node, ast.ImportFrom) and node.module == _LAYOUT and node.level == 0):
            continue
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        # Offsets count UTF-8 bytes. The statement must have its lines to itself.
        rest = lines[last].encode("utf-8")[node.end_col_offset :].decode("utf-8").strip()
        if node.col_offset != 0 or (rest and not rest.startswith("#")):
            raise ValueError(f"{rel}:{node.lineno}: the layout import must stand on its own lines")
        lines[first] = "; ".join(_assignment(rel, alias) for alias in node.names) + "\n"
        for index in range(first + 1, last + 1):
            lines[index] = "\n"
    result = "".join(lines)
    for found in ast.walk(ast.parse(result, rel)):
        if _imports_apepy(found):
            raise ValueError(
                f"{rel}:{getattr(found, 'lineno', '?')}: code that runs inside the file imports "
                "apepy (only a top-level `from apepy.layout import ...` is allowed)"
            )
    return result


def _assignment(rel: str, alias: ast.alias) -> str:
    if alias.name == "*" or not hasattr(layout, alias.name):
        raise ValueError(f"{rel}: apepy.layout has no {alias.name!r} to import")
    value = getattr(layout, alias.name)
    text = repr(value)
    # Only plain literals (str, bytes, numbers, tuples of them) survive repr().
    if type(value) not in (str, bytes, int, tuple) or ast.literal_eval(text) != value:
        raise ValueError(f"{rel}: apepy.layout.{alias.name} is not a literal")
    return f"{alias.asname or alias.name} = {text}"


def _imports_apepy(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name == "apepy" or a.name.startswith("apepy.") for a in node.names)
    if isinstance(node, ast.ImportFrom):
        module = node.module or ""
        return module == "apepy" or module.startswith("apepy.")
    return False
