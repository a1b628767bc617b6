"""What a bundled app starts with: chosen from the options and the project, and checked
against what went into the bundle before the user's first start."""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

from apepy.bundle import project
from apepy.errors import ApepyError


def choose(entry: str | None, module: str | None, proj: project.Project) -> dict[str, str] | None:
    """The entry point from --entry / -m (or [tool.apepy]), else the project's: None means
    dispatch on argv[0] among the project's scripts."""
    entry = entry or proj.tool.entry
    module = module or proj.tool.module
    if entry and module:
        raise ApepyError(
            "give either --entry or -m, not both",
            hint="drop one of them (they may also come from [tool.apepy] entry / module)",
        )
    if entry:
        if ":" not in str(entry):
            raise ApepyError(
                f"entry point {entry!r} is not of the form module:function",
                hint="e.g. --entry myapp.cli:main",
            )
        return {"kind": "function", "target": str(entry)}
    if module:
        return {"kind": "module", "target": str(module)}
    if proj.script is not None:
        return {"kind": "module", "target": script_module(proj.script)}
    if len(proj.scripts) == 1:
        return {"kind": "function", "target": next(iter(proj.scripts.values()))}
    if proj.scripts:
        return None
    mains = [c.name for c in proj.code if c.is_dir() and (c / "__main__.py").is_file()]
    if len(mains) == 1:
        return {"kind": "module", "target": mains[0]}
    raise ApepyError(
        f"{proj.name} has no entry point",
        hint="add [project.scripts] or a package __main__.py, or pass --script NAME (a "
        "dependency's console script), --entry module:function or -m module",
    )


def console_scripts(site: Path, names: tuple[str, ...]) -> dict[str, str]:
    """``names`` looked up among the console scripts of the installed distributions."""
    found: dict[str, str] = {}
    for dist in sorted(importlib.metadata.distributions(path=[str(site)]), key=lambda d: d.name):
        for ep in dist.entry_points.select(group="console_scripts"):
            found.setdefault(ep.name, f"{ep.module}:{ep.attr}" if ep.attr else ep.module)
    missing = [n for n in names if n not in found]
    if missing:
        raise ApepyError(
            f"--script {missing[0]}: no installed distribution has a console script of that name",
            hint="available: "
            + (
                ", ".join(sorted(found))
                or "none (the dependencies define no "
                "console scripts; use -m MODULE or --entry MODULE:FUNCTION)"
            ),
        )
    return {n: found[n] for n in names}


def script_module(script: Path) -> str:
    stem = script.stem.replace("-", "_")
    return stem if stem.isidentifier() else "_apepy_script"


def check(entry: dict[str, str] | None, proj: project.Project, site: Path) -> None:
    """Fail at bundle time, not at the user's first start, on an entry point that does not exist."""
    targets = [entry] if entry else []
    targets += [{"kind": "function", "target": t} for t in proj.scripts.values()]
    for item in targets:
        module, _, attr = item["target"].partition(":")
        parts = module.split(".")
        candidates = [
            site.joinpath(*parts).with_suffix(".py"),
            site.joinpath(*parts, "__init__.py"),
        ]
        if item["kind"] == "module":
            candidates.append(site.joinpath(*parts, "__main__.py"))
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ApepyError(
                f"entry point {item['target']!r}: module {module!r} is not in the bundle",
                hint="check the name in [project.scripts] / --entry / -m against the project's packages",
            )
        if attr and attr.split(".")[0] not in _top_level_names(found):
            raise ApepyError(
                f"entry point {item['target']!r}: {module} defines no {attr.split('.')[0]!r}",
                hint="name a function defined at the top level of that module",
            )


def _top_level_names(path: Path) -> set[str]:
    try:
        tree = ast.parse(path.read_bytes(), str(path))
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names
