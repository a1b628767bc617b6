"""Which packages a bundled app unpacks to disk on first start: those asked for, and those
whose code needs its data files as real files."""

from __future__ import annotations

import ast
import hashlib

from apepy import hashing, ui, zipstore
from apepy.bundle import project
from apepy.bundle.config import Extract
from apepy.errors import ApepyError
from apepy.layout import SITE

_CODE_SUFFIXES = (".py", ".pyc", ".pyi")


def extracts(
    entries: list[zipstore.Entry],
    proj: project.Project,
    app_names: list[str],
    requested: tuple[str, ...],
) -> list[Extract]:
    """Packages to unpack once to disk: those asked for, app packages that carry data files,
    and dependencies that need their data files as real files (datasette's templates
    through ``__file__``, certifi's CA bundle through ``as_file``), which no path inside
    the executable can serve."""
    wanted = list(requested) or list(proj.tool.extract)
    packages: dict[str, list[zipstore.Entry]] = {}
    for e in entries:
        rel = e.name[len(SITE) :] if e.name.startswith(SITE) else ""
        top = rel.split("/")[0] if "/" in rel else ""
        if top and not top.endswith((".dist-info", ".data")) and top != "__pycache__":
            packages.setdefault(top, []).append(e)
    for name, members in sorted(packages.items()):
        if name in wanted:
            continue
        data = [m for m in members if not m.name.endswith(_CODE_SUFFIXES)]
        data = [m for m in data if not m.name.endswith("/py.typed")]
        if not data:
            continue
        if name in app_names or _finds_data_by_path(name, members, data):
            wanted.append(name)
            if name not in app_names:
                ui.info(f"{name}: reads its data files from disk; unpacked on first start")
    result = []
    for name in wanted:
        prefix = f"{SITE}{name}/"
        members = [e for e in entries if e.name.startswith(prefix)]
        if not members:
            raise ApepyError(
                f"--extract {name}: no package of that name in the bundle",
                hint="name a top-level package by its import name (the app's own or a dependency's)",
            )
        # The key of the runtime's own cache of unpacked packages: by content.
        listing = b"".join(
            member.name.encode() + b"\0" + hashlib.sha256(member.data).digest()
            for member in members
        )
        result.append(Extract(prefix, f"{name}-{hashing.cache_key(listing, length=16)}"))
    return result


def _finds_data_by_path(
    name: str, members: list[zipstore.Entry], data: list[zipstore.Entry]
) -> bool:
    """Does a module of the package need one of its data files as a real file?

    The sign is a module that uses ``__file__`` or ``as_file`` and names a data file
    (or a folder that holds only data) as a string: `join(dirname(__file__),
    "templates")`, `as_file(files("certifi") / "cacert.pem")`.
    """
    prefix = f"{SITE}{name}/"
    code_dirs = {m.name[len(prefix) :].rsplit("/", 1)[0] for m in members if m.name.endswith(".py")}
    names: set[bytes] = set()
    for m in data:
        rel = m.name[len(prefix) :].rstrip("/")
        names.add(rel.rsplit("/", 1)[-1].encode())
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            folder = "/".join(parts[:depth])
            if folder not in code_dirs:
                names.add(parts[depth - 1].encode())
    wanted = {n.decode() for n in names}
    for m in members:
        in_tests = any("test" in part for part in m.name[len(prefix) :].split("/")[:-1])
        if not m.name.endswith(".py") or in_tests:
            continue
        if b"__file__" not in m.data and b"as_file" not in m.data:
            continue
        try:
            tree = ast.parse(m.data)
        except (SyntaxError, ValueError):
            continue
        # Code, not docstrings: the module's own __file__, or importlib.resources'
        # as_file (which copies a file out of a zip to a temporary one on every
        # start: certifi's cacert.pem, 67 ms of httpie's start), and a data file's name.
        nodes = list(ast.walk(tree))
        by_path = any(
            (isinstance(n, ast.Name) and n.id in ("__file__", "as_file"))
            or (isinstance(n, ast.Attribute) and n.attr == "as_file")
            for n in nodes
        )
        if by_path and any(isinstance(n, ast.Constant) and n.value in wanted for n in nodes):
            return True
    return False
