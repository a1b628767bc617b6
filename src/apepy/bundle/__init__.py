"""`apepy bundle`: an app and its dependencies in the interpreter's zip, run by `.args`."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib.metadata
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from apepy import cache, hashing, inside, pyc, records, ui, zipstore
from apepy.bundle import base as base_mod
from apepy.bundle import install, project, prune, wheels
from apepy.errors import ApepyError, InternalError
from apepy.layout import ARGS_ARCNAME, BUNDLE_CONFIG, BUNDLE_KEYS, LIB, SITE
from apepy.sitepackages import site_entries

_CODE_SUFFIXES = (".py", ".pyc", ".pyi")
CONFIG = BUNDLE_CONFIG
CONFIG_SCHEMA = 1
_WORK_DIR = re.compile(r"apepy-bundle-(?P<pid>\d+)-[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Extract:
    """A package unpacked to disk on first start, into a directory named by its digest."""

    prefix: str
    digest: str


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str


@dataclass(frozen=True)
class BundleConfig:
    """CONFIG: what the bundled app runs and what went in. The runtime's _apepy_boot,
    standalone, reads the JSON itself, keyed exactly by layout.BUNDLE_KEYS."""

    name: str
    # {"kind": "function" or "module", "target": ...}; None: the command named by argv[0].
    entry: dict[str, str] | None
    scripts: dict[str, str]
    extract: tuple[Extract, ...]
    distributions: tuple[Distribution, ...]
    # Files written before the field read as schema 1: the fields were the same.
    schema: int = CONFIG_SCHEMA

    def to_json(self) -> bytes:
        if sorted(records.fields(BundleConfig)) != sorted(BUNDLE_KEYS):
            raise InternalError("BundleConfig's fields are not layout.BUNDLE_KEYS")
        return records.to_json(self, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> BundleConfig:
        return records.from_json(cls, raw)


@dataclass(frozen=True)
class BundleRequest:
    source: Path
    output: Path | None = None
    base: Path | None = None
    python: str | None = None
    entry: str | None = None
    module: str | None = None
    scripts: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    extract: tuple[str, ...] = ()
    allow_environment: bool | None = None
    link_dir: Path | None = None
    index: wheels.IndexOptions = field(default_factory=wheels.IndexOptions)
    offline: bool = False
    prune: bool | None = None
    keep: tuple[str, ...] = ()
    keep_from: Path | None = None


@dataclass(frozen=True)
class BundleResult:
    output: Path
    base: base_mod.Base
    distributions: list[install.Installed]
    seconds: float
    links: list[Path]


def bundle(request: BundleRequest) -> BundleResult:
    started = time.monotonic()
    proj = project.load(request.source)
    output = request.output or Path(proj.tool.output or proj.name)
    output = output.absolute()
    cache.check_output_path(output)
    base_path: Path | None = request.base
    if base_path is not None and request.extensions:
        raise ApepyError(
            "--with builds the base; it cannot add extensions to a given --base",
            hint="drop --base (apepy then builds the base with the extensions, cached), or "
            "drop --with and build the base yourself: apepy build --with PKG -o python",
        )
    if base_path is None and proj.tool.base:
        # A path written in pyproject.toml is relative to the project, not the shell.
        base_path = proj.root / proj.tool.base
    base = _resolve_base(base_path, request, proj)
    if output.exists() and output.resolve() == base.path.resolve():
        raise ApepyError(
            "the output path is the base interpreter itself", hint="choose another -o path"
        )
    if request.link_dir is not None and not (proj.scripts or request.scripts):
        # Checked before any work: failing after the output is written would leave it behind.
        raise _link_without_scripts()
    if request.scripts and (request.entry or request.module):
        raise ApepyError(
            "give --script, or --entry / -m, not both",
            hint="--script NAME runs a dependency's console script; --entry and -m name code",
        )
    # With --script the entry is read from the installed distributions, below.
    entry = None if request.scripts else _entry(request, proj)
    allow_env = request.allow_environment or proj.tool.allow_environment
    index = _index_options(request.index, proj)

    log = cache.cache_dir("logs") / f"bundle-{proj.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    # A run killed outright leaves its work directory; the next run removes it.
    cache.sweep_stale(Path(tempfile.gettempdir()), _WORK_DIR)
    with tempfile.TemporaryDirectory(prefix=f"apepy-bundle-{os.getpid()}-") as tmp:
        work = Path(tmp)
        site = work / "site-packages"
        # What the base has compiled in is fixed: pip must choose the rest to fit it
        # (pydantic pins pydantic-core exactly).
        fixed = [f"{name}=={version}" for name, version in install.provided_by_base(base).items()]
        found = wheels.resolve(proj.dependencies, base, index, log, constraints=fixed)
        with ui.phase("install", f"{len(found)} wheels with installer") as st:
            staged = wheels.stage(found, work / "wheels")
            dists = install.install_wheels(staged, site, base, log)
            st.done_text = f"installed {len(dists)} distributions"
        app_names = _copy_app(proj, site)
        if request.scripts:
            proj = dataclasses.replace(proj, scripts=_console_scripts(site, request.scripts))
            entry = _entry(request, proj)
        _check_entry(entry, proj, site)
        with ui.phase("compile", f".pyc with {base.describe()}"):
            sources = sorted(
                (p, p.relative_to(site).as_posix())
                for p in site.rglob("*.py")
                if "__pycache__" not in p.parts
            )
            skipped = pyc.compile_sources(
                base.path, sources, work / "pyc", dfile_prefix=SITE, log=log, cwd=work, strict=False
            )
        for name in skipped:
            ui.warn(f"{name} does not compile for {base.describe()}; kept as source only")
        entries = site_entries(site, work / "pyc")
        extract = _extracts(entries, proj, app_names, request.extract)
        config = BundleConfig(
            name=proj.name,
            entry=entry,
            scripts=proj.scripts,
            extract=tuple(extract),
            distributions=tuple(Distribution(d.name, d.version) for d in dists),
        )
        entries.append(zipstore.Entry(CONFIG, config.to_json()))
        entries.append(zipstore.Entry(ARGS_ARCNAME, _args_text(allow_env).encode(), compress=False))
        dropped = _prune(request, proj, base, site) if request.prune or proj.tool.prune else set()
        new_names = {e.name for e in entries}
        existing = {m.name for m in base.archive.members if m.name not in dropped}
        entries += [d for d in zipstore.directory_entries(new_names) if d.name not in existing]
        entries.sort(key=lambda e: e.name)
        with (
            ui.phase("pack", f"into {output.name}"),
            cache.atomic_output(output, mode=0o755) as target,
        ):
            zipstore.rewrite(
                base.archive,
                target,
                keep=lambda m: m.name not in new_names and m.name not in dropped,
                add=entries,
            )
    links = _make_links(request.link_dir, output, proj) if request.link_dir else []
    return BundleResult(output, base, dists, time.monotonic() - started, links)


def _prune(
    request: BundleRequest, proj: project.Project, base: base_mod.Base, site: Path
) -> set[str]:
    """The base's stdlib members the app cannot import (and directories left empty)."""
    keep = [*request.keep, *proj.tool.keep]
    if request.keep_from is not None:
        keep += prune.read_keep_file(request.keep_from)
    with ui.phase("prune", "the standard library to what the app imports") as st:
        sizes = {m.name: m.compressed_size for m in base.archive.members}
        planned = prune.plan(sizes, base.path, site, [], keep)
        dropped = set(planned.dropped_members)
        remaining = [n for n in sizes if n not in dropped and not n.endswith("/")]
        for name in sizes:
            # A directory with nothing left would look like a namespace package.
            empty = not any(r.startswith(name) for r in remaining)
            if name.endswith("/") and name.startswith(LIB) and empty:
                dropped.add(name)
        st.done_text = (
            f"pruned the standard library: kept {len(planned.kept)} modules, dropped "
            f"{len(planned.dropped_members)} files ({planned.dropped_bytes / 1e6:.1f} MB)"
        )
    return dropped


def _resolve_base(
    path: Path | None, request: BundleRequest, proj: project.Project
) -> base_mod.Base:
    if path is not None:
        return base_mod.inspect(path)
    from apepy import context
    from apepy.build import Spec, ensure_interpreter
    from apepy.extensions import spec

    python = request.python or proj.tool.python
    wanted = [*proj.tool.extensions, *request.extensions]
    # --with / [tool.apepy] extensions: the base is built with those packages compiled in.
    interpreter = ensure_interpreter(
        Spec(
            python=str(python) if python else None,
            extensions=tuple(spec.merge([spec.parse(str(text)) for text in wanted])),
        ),
        context.new("build", offline=request.offline),
    )
    ui.info(f"base: {interpreter.path} ({'from the cache' if interpreter.cached else 'built'})")
    return base_mod.inspect(interpreter.path)


def _index_options(given: wheels.IndexOptions, proj: project.Project) -> wheels.IndexOptions:
    links = given.find_links or proj.tool.find_links
    return wheels.IndexOptions(
        find_links=tuple(links),
        index_url=given.index_url or proj.tool.index_url,
        no_index=given.no_index or proj.tool.no_index,
        refresh=given.refresh,
    )


def _entry(request: BundleRequest, proj: project.Project) -> dict[str, str] | None:
    """The default entry point: None means dispatch on argv[0] among the project's scripts."""
    entry = request.entry or proj.tool.entry
    module = request.module or proj.tool.module
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
        return {"kind": "module", "target": _script_module(proj.script)}
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


def _console_scripts(site: Path, names: tuple[str, ...]) -> dict[str, str]:
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


def _script_module(script: Path) -> str:
    stem = script.stem.replace("-", "_")
    return stem if stem.isidentifier() else "_apepy_script"


def _copy_app(proj: project.Project, site: Path) -> list[str]:
    """Copy the project's own code and write a dist-info for it; return its import names."""
    names: list[str] = []
    for item in proj.code:
        if item.is_dir():
            shutil.copytree(
                item, site / item.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(item, site / item.name)
        names.append(item.stem if item.is_file() else item.name)
    if proj.script is not None:
        module = _script_module(proj.script)
        shutil.copy2(proj.script, site / f"{module}.py")
        names.append(module)
    if proj.code or proj.script is not None:
        dist_info = site / f"{proj.dist_name}-{proj.version}.dist-info"
        if dist_info.exists():
            raise ApepyError(
                f"a dependency installs {dist_info.name}, which is the project's own name",
                hint="rename the project, or drop the dependency that has the same name",
            )
        dist_info.mkdir()
        metadata = ["Metadata-Version: 2.1", f"Name: {proj.name}", f"Version: {proj.version}"]
        metadata += [f"Requires-Dist: {d}" for d in proj.dependencies]
        (dist_info / "METADATA").write_text("\n".join(metadata) + "\n")
        (dist_info / "INSTALLER").write_text("apepy\n")
        if proj.scripts:
            lines = ["[console_scripts]"] + [f"{k} = {v}" for k, v in sorted(proj.scripts.items())]
            (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        (dist_info / "RECORD").write_text("")
    for runtime in ("_apepy_boot.py", "_apepy.py"):
        (site / runtime).write_text(inside.source(f"runtime/{runtime}"), encoding="utf-8")
    return names


def _check_entry(entry: dict[str, str] | None, proj: project.Project, site: Path) -> None:
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


def _extracts(
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


def _args_text(allow_env: bool) -> str:
    lines = [] if allow_env else ["-I"]
    lines += ["-m", "_apepy_boot", "..."]
    return "\n".join(lines) + "\n"


def _link_without_scripts() -> ApepyError:
    return ApepyError(
        "--link needs [project.scripts]: the bundle has no named commands",
        hint="add [project.scripts] to pyproject.toml, or drop --link",
    )


def _make_links(directory: Path, output: Path, proj: project.Project) -> list[Path]:
    if not proj.scripts:
        raise _link_without_scripts()
    directory.mkdir(parents=True, exist_ok=True)
    links = []
    for name in sorted(proj.scripts):
        link = directory / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(output, directory))
        links.append(link)
    return links
