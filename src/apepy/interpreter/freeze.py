"""The stdlib's hot modules, frozen into the binary next to CPython's own start-up set.

CPython already freezes what every start needs (``os``, ``site``, the import
system); apepy adds the modules that the common programs import, measured with
``-X importtime`` (``benchmarks/hot_modules.py`` prints the list again): the
four-module case (``json, email, http.server, asyncio``), a Flask request,
``werkzeug.serving`` and ``datasette.app``, on CPython 3.13.

They are frozen under an alias (``__apepy__.json``), so CPython's FrozenImporter
never serves them: apepy's importer finds ``json`` in the zip as before (so
``__file__``, ``__spec__``, the loader, ``importlib.resources`` and pruning stay
exactly what they were) and only takes the code object from the binary instead
of reading ``Lib/json/__init__.pyc`` and finding it. The ``.pyc`` files stay
in the zip: they serve ``-X frozen_modules=off``.

3.13 and later only. 3.11 and 3.12 deep-freeze every frozen module into static C
objects, and 3.11.2's deepfreeze.py miscompiles some of these (json.decoder's
pattern with control characters raised ``re.error: bad escape`` at start-up);
it also doubled the compile time (a 60 MB deepfreeze.c).
"""

from __future__ import annotations

from pathlib import Path

from apepy.interpreter.patches import Edit
from apepy.layout import FROZEN_PREFIX

HOT_MODULES: tuple[str, ...] = (
    "__future__", "_colorize", "_compat_pickle", "_compression",
    "_opcode_metadata", "_weakrefset", "ast", "asyncio", "asyncio.base_events",
    "asyncio.base_futures", "asyncio.base_subprocess", "asyncio.base_tasks",
    "asyncio.constants", "asyncio.coroutines", "asyncio.events", "asyncio.exceptions",
    "asyncio.format_helpers", "asyncio.futures", "asyncio.locks", "asyncio.log",
    "asyncio.mixins", "asyncio.protocols", "asyncio.queues", "asyncio.runners",
    "asyncio.selector_events", "asyncio.sslproto", "asyncio.staggered", "asyncio.streams",
    "asyncio.subprocess", "asyncio.taskgroups", "asyncio.tasks", "asyncio.threads",
    "asyncio.timeouts", "asyncio.transports", "asyncio.trsock", "asyncio.unix_events",
    "base64", "bdb", "bisect", "bz2", "calendar", "cmd", "code", "codeop", "collections",
    "concurrent", "concurrent.futures", "concurrent.futures._base", "contextlib",
    "contextvars", "copy", "copyreg", "csv", "dataclasses", "datetime", "decimal",
    "difflib", "dis", "email", "email._encoded_words", "email._parseaddr",
    "email._policybase", "email.base64mime", "email.charset", "email.encoders",
    "email.errors", "email.feedparser", "email.header", "email.iterators",
    "email.message", "email.parser", "email.quoprimime", "email.utils", "encodings",
    "encodings.aliases", "encodings.idna", "encodings.utf_8", "enum", "fnmatch",
    "fractions", "functools", "gettext", "glob", "hashlib", "heapq", "hmac", "html",
    "html.entities", "http", "http.client", "http.cookiejar", "http.cookies",
    "http.server", "importlib", "importlib._abc", "importlib.abc", "importlib.metadata",
    "importlib.metadata._adapters", "importlib.metadata._collections",
    "importlib.metadata._functools", "importlib.metadata._itertools",
    "importlib.metadata._meta", "importlib.metadata._text", "importlib.resources",
    "importlib.resources._common", "importlib.resources._functional",
    "importlib.resources.abc", "inspect", "ipaddress", "json", "json.decoder",
    "json.encoder", "json.scanner", "keyword", "linecache", "locale", "logging", "lzma",
    "mimetypes", "numbers", "opcode", "operator", "pathlib", "pathlib._abc",
    "pathlib._local", "pdb", "pickle", "pkgutil", "platform", "pprint", "queue", "quopri",
    "random", "re", "re._casefix", "re._compiler", "re._constants", "re._parser",
    "reprlib", "secrets", "selectors", "shlex", "shutil", "signal", "socket",
    "socketserver", "sqlite3", "sqlite3.dbapi2", "ssl", "string", "stringprep", "struct",
    "subprocess", "tempfile", "textwrap", "threading", "token", "tokenize", "traceback",
    "types", "typing", "urllib", "urllib.error", "urllib.parse", "urllib.request",
    "urllib.response", "uuid", "warnings", "weakref", "zipfile", "zipfile._path",
    "zipfile._path.glob",
)  # fmt: skip

# CPython's freeze script (3.12+ in Tools/build, 3.11 in Tools/scripts) and the
# section its list ends with; apepy's section goes just before it.
_SCRIPTS = ("Tools/build/freeze_modules.py", "Tools/scripts/freeze_modules.py")
_ANCHOR = "    (TESTS_SECTION, [\n"


def present(tree: Path, names: tuple[str, ...] = HOT_MODULES) -> dict[str, bool]:
    """The hot modules this source tree has (some are new in 3.13), each with "is a package"."""
    lib = tree / "Lib"
    found = {}
    for name in names:
        path = lib.joinpath(*name.split("."))
        if (path / "__init__.py").is_file():
            found[name] = True
        elif path.with_suffix(".py").is_file():
            found[name] = False
    return found


def applies(version: str) -> bool:
    major, minor = (int(x) for x in version.split(".")[:2])
    return (major, minor) >= (3, 13)


def edit(tree: Path) -> Edit:
    """The edit of CPython's freeze list that adds the hot modules under apepy's alias."""
    script = next((s for s in _SCRIPTS if (tree / s).is_file()), _SCRIPTS[0])
    names = present(tree)
    # Each source named by path (the script's "frozenid : modname = pyfile" form,
    # an f-string over its own STDLIB_DIR): its bracket form for packages cannot
    # name a dotted package such as concurrent.futures.
    lines = "".join(
        f"        f'{name} : {FROZEN_PREFIX}{name} = {{STDLIB_DIR}}/"
        f"{name.replace('.', '/')}{'/__init__' if package else ''}.py',\n"
        for name, package in names.items()
    )
    return Edit(
        name=f"freeze_modules: {len(names)} hot stdlib modules",
        path=script,
        anchor=_ANCHOR,
        replacement=f"    ('apepy: hot stdlib modules', [\n{lines}        ]),\n{_ANCHOR}",
    )
