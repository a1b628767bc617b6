"""What the user asked to bundle: a project directory, a requirements file, or one script."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.pylock import is_valid_pylock_path
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from apepy import records
from apepy.errors import ApepyError

LOCK_NAME = "pylock.toml"

# Directories next to pyproject.toml that are never app code.
_NOT_CODE = frozenset(
    {
        "tests",
        "test",
        "docs",
        "doc",
        "examples",
        "build",
        "dist",
        "scripts",
        "benchmarks",
        "venv",
        ".venv",
    }
)
_NOT_MODULES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py"})

# [tool.apepy] keys and the types they take; they mirror the CLI flags.
TOOL_KEYS: dict[str, type] = {
    "base": str,
    "python": str,
    "entry": str,
    "module": str,
    "output": str,
    "extract": list,
    "packages": list,
    "allow-environment": bool,
    "find-links": list,
    "index-url": str,
    "no-index": bool,
    "extensions": list,
    "prune": bool,
    "keep": list,
    "hot-from": str,
    "no-sources": bool,
}


@dataclass(frozen=True)
class ToolOptions:
    """[tool.apepy], read once and typed: the CLI's options by their names (``-`` as
    ``_``); nothing downstream reads the raw table."""

    base: str | None = None
    python: str | None = None
    entry: str | None = None
    module: str | None = None
    output: str | None = None
    extract: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    allow_environment: bool = False
    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False
    extensions: tuple[str, ...] = ()
    prune: bool = False
    keep: tuple[str, ...] = ()
    hot_from: str | None = None
    no_sources: bool = False


@dataclass
class Project:
    """Everything bundle needs to know about the input."""

    name: str
    version: str
    root: Path
    dependencies: list[str]
    # Import roots to copy from the project: packages (dirs) and modules (.py files).
    code: list[Path] = field(default_factory=list)
    scripts: dict[str, str] = field(default_factory=dict)
    # A single script (PEP 723 input) to run as __main__.
    script: Path | None = None
    tool: ToolOptions = field(default_factory=ToolOptions)
    # A PEP 751 lock: the dependencies installed, exactly, instead of a resolution.
    lock: Path | None = None

    @property
    def dist_name(self) -> str:
        return canonicalize_name(self.name).replace("-", "_")


def load(path: Path) -> Project:
    if not path.exists():
        raise ApepyError(
            f"{path} does not exist",
            hint="name a project directory, a requirements file or a .py script",
        )
    if path.is_dir():
        proj = _from_directory(path.resolve())
        lock = proj.root / LOCK_NAME
        return dataclasses.replace(proj, lock=lock) if lock.is_file() else proj
    if is_valid_pylock_path(path):
        return _from_lock(path.resolve())
    if path.suffix == ".py":
        return _from_script(path.resolve())
    if path.suffix in (".txt", ".in") or path.name.startswith("requirements"):
        return _from_requirements(path.resolve())
    raise ApepyError(
        f"cannot bundle {path}: not a directory, a .py script, a requirements file or a "
        "pylock.toml",
        hint="pass a project directory with pyproject.toml, requirements.txt, a pylock.toml, "
        "or a script with PEP 723 metadata",
    )


def _parse_requirements(lines: list[str], where: str) -> list[str]:
    requirements: list[str] = []
    for raw in lines:
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            raise ApepyError(
                f"{where}: pip option lines are not supported ({line})",
                hint="list plain requirements; pass index options with --find-links / --index-url",
            )
        try:
            Requirement(line)
        except InvalidRequirement as exc:
            raise ApepyError(
                f"{where}: invalid requirement {line!r} ({exc})",
                hint="write requirements as PEP 508 specifiers, e.g. flask>=3.0",
            ) from exc
        requirements.append(line)
    return requirements


def _from_lock(path: Path) -> Project:
    """A lock file: the project beside it (pyproject.toml), or just the lock's packages."""
    if (path.parent / "pyproject.toml").is_file():
        return dataclasses.replace(_from_directory(path.parent), lock=path)
    return Project(
        name=path.parent.name or "app", version="0", root=path.parent, dependencies=[], lock=path
    )


def _from_requirements(path: Path) -> Project:
    requirements = _parse_requirements(path.read_text(encoding="utf-8").splitlines(), str(path))
    return Project(
        name=path.parent.name or "app", version="0", root=path.parent, dependencies=requirements
    )


def _read_toml(text: str, where: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ApepyError(f"{where} is not valid TOML: {exc}", hint="fix the file's syntax") from exc


def _tool_options(data: dict[str, object], where: str) -> ToolOptions:
    tool = data.get("tool", {})
    options = tool.get("apepy", {}) if isinstance(tool, dict) else {}
    if not isinstance(options, dict):
        raise ApepyError(
            f"{where}: [tool.apepy] must be a table",
            hint="write it as [tool.apepy] with key = value lines",
        )
    for key, value in options.items():
        expected = TOOL_KEYS.get(key)
        if expected is None:
            raise ApepyError(
                f"{where}: unknown key [tool.apepy] {key}",
                hint=f"known keys: {', '.join(sorted(TOOL_KEYS))}",
            )
        if not isinstance(value, expected) or (
            isinstance(value, list) and not all(isinstance(item, str) for item in value)
        ):
            kind = "list of strings" if expected is list else expected.__name__
            raise ApepyError(
                f"{where}: [tool.apepy] {key} must be a {kind}",
                hint="the keys take the same values as the command-line flags of the same names",
            )
    # Every value has its type now: the record reader makes lists tuples.
    return records.from_json(ToolOptions, {k.replace("-", "_"): v for k, v in options.items()})


def _from_directory(root: Path) -> Project:
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        raise ApepyError(
            f"{root} has no pyproject.toml",
            hint="add one with a [project] table (name, dependencies, scripts), or pass a requirements file",
        )
    where = str(pyproject)
    data = _read_toml(pyproject.read_text(encoding="utf-8"), where)
    project = data.get("project")
    if not isinstance(project, dict) or not project.get("name"):
        raise ApepyError(
            f"{where} has no [project] table with a name", hint="see PEP 621 for its fields"
        )
    deps = project.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ApepyError(
            f"{where}: [project] dependencies must be a list of strings",
            hint='e.g. dependencies = ["flask>=3.0"]',
        )
    scripts = project.get("scripts", {})
    if not isinstance(scripts, dict):
        raise ApepyError(
            f"{where}: [project.scripts] must be a table",
            hint='e.g. [project.scripts] then mytool = "mypkg.cli:main"',
        )
    tool = _tool_options(data, where)
    code = _find_code(root, tool.packages)
    if not code and not deps:
        raise ApepyError(
            f"{root} is an empty project: no importable code and no dependencies",
            hint="put a package (a directory with __init__.py) or a module next to pyproject.toml "
            "or in src/, or list dependencies",
        )
    return Project(
        name=str(project["name"]),
        version=str(project.get("version", "0")),
        root=root,
        dependencies=_parse_requirements(deps, where),
        code=code,
        scripts={str(k): str(v) for k, v in scripts.items()},
        tool=tool,
    )


def _find_code(root: Path, packages: tuple[str, ...]) -> list[Path]:
    if packages:
        found = []
        for name in packages:
            candidates = [
                root / "src" / name,
                root / name,
                root / "src" / f"{name}.py",
                root / f"{name}.py",
            ]
            match = next((c for c in candidates if c.exists()), None)
            if match is None:
                raise ApepyError(
                    f"[tool.apepy] packages names {name!r}, which is not in {root} or {root / 'src'}",
                    hint="fix the name in pyproject.toml, or move the package there",
                )
            found.append(match)
        return found
    base = root / "src" if (root / "src").is_dir() else root
    code = []
    for child in sorted(base.iterdir()):
        if child.name.startswith((".", "_")) and child.name != "__main__.py":
            continue
        if (
            child.is_dir() and child.name not in _NOT_CODE and (child / "__init__.py").is_file()
        ) or (child.is_file() and child.suffix == ".py" and child.name not in _NOT_MODULES):
            code.append(child)
    return code


_PEP723 = re.compile(r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$")


def script_metadata(text: str, where: str) -> dict[str, object]:
    """The ``script`` block of PEP 723 inline metadata (empty if there is none)."""
    blocks = [m for m in _PEP723.finditer(text) if m.group("type") == "script"]
    if len(blocks) > 1:
        raise ApepyError(
            f"{where} has more than one '# /// script' block",
            hint="merge them into one block (PEP 723)",
        )
    if not blocks:
        return {}
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    return _read_toml(content, f"the '# /// script' block of {where}")


def _from_script(path: Path) -> Project:
    where = str(path)
    meta = script_metadata(path.read_text(encoding="utf-8"), where)
    deps = meta.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ApepyError(
            f"{where}: 'dependencies' in the script block must be a list of strings",
            hint='e.g. # dependencies = ["requests>=2"]',
        )
    return Project(
        name=path.stem,
        version="0",
        root=path.parent,
        dependencies=_parse_requirements(deps, where),
        script=path,
        tool=_tool_options(meta, where),
    )
