"""`apepy bundle`: an app and its dependencies in the interpreter's zip, run by `.args`.

The run is here; ``entry_point`` chooses and checks what the app starts with,
``data_files`` which packages are unpacked to disk, ``config`` is bundle.json.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from packaging.pylock import Pylock
from packaging.utils import canonicalize_name, parse_wheel_filename

from apepy import cache, inside, lock, pyc, sbom, ui, zipstore
from apepy.bundle import base as base_mod
from apepy.bundle import data_files, entry_point, hot, install, project, prune, wheels
from apepy.bundle.config import CONFIG_SCHEMA, BundleConfig, Distribution, Extract
from apepy.errors import ApepyError
from apepy.layout import ARGS_ARCNAME, BUNDLE_CONFIG, LIB, SITE
from apepy.sitepackages import site_entries

_WORK_DIR = re.compile(r"apepy-bundle-(?P<pid>\d+)-[A-Za-z0-9_]+")


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
    # A recorded run's imports: only their .pyc stay stored, every other is deflated.
    hot_from: Path | None = None
    # Leave out the .py of every module that compiled (tracebacks show no source lines).
    no_sources: bool | None = None
    # Write the lock of what was installed here too (it is always inside the file).
    lock_out: Path | None = None
    # Refuse a lock that does not satisfy the project's dependencies.
    locked: bool = False


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
    if request.locked and proj.lock is None:
        raise ApepyError(
            f"--locked needs a lock: {request.source} is not a pylock.toml and has none beside it",
            hint="write one with --lock-out pylock.toml (next to pyproject.toml), or drop --locked",
        )
    # A malformed lock is refused before any work.
    pylock = lock.read(proj.lock) if proj.lock is not None else None
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
    entry = None if request.scripts else entry_point.choose(request.entry, request.module, proj)
    allow_env = request.allow_environment or proj.tool.allow_environment
    index = _index_options(request.index, proj)
    if request.lock_out is not None:
        cache.check_output_path(request.lock_out.absolute())

    log = cache.cache_dir("logs") / f"bundle-{proj.name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    # A run killed outright leaves its work directory; the next run removes it.
    cache.sweep_stale(Path(tempfile.gettempdir()), _WORK_DIR)
    with tempfile.TemporaryDirectory(prefix=f"apepy-bundle-{os.getpid()}-") as tmp:
        work = Path(tmp)
        site = work / "site-packages"
        # What the base has compiled in is fixed: pip must choose the rest to fit it
        # (pydantic pins pydantic-core exactly).
        provided = install.provided_by_base(base)
        fixed = [f"{name}=={version}" for name, version in provided.items()]
        urls: dict[str, lock.LockedWheel] = {}
        if pylock is not None:
            from_lock = _locked_wheels(proj, pylock, base, index, request, provided)
            found = [wheels.Wheel(path, w.sha256) for w, path in from_lock]
            urls = {str(canonicalize_name(w.name)): w for w, _ in from_lock}
        else:
            found = wheels.resolve(proj.dependencies, base, index, log, constraints=fixed)
        with ui.phase("install", f"{len(found)} wheels with installer") as st:
            staged = wheels.stage(found, work / "wheels")
            dists = install.install_wheels(staged, site, base, log)
            st.done_text = f"installed {len(dists)} distributions"
        app_names = _copy_app(proj, site)
        if request.scripts:
            proj = dataclasses.replace(
                proj, scripts=entry_point.console_scripts(site, request.scripts)
            )
            entry = entry_point.choose(request.entry, request.module, proj)
        entry_point.check(entry, proj, site)
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
        with_sources = not (request.no_sources or proj.tool.no_sources)
        entries = site_entries(site, work / "pyc")
        if not with_sources:
            entries = _without_sources(entries)
        extract = data_files.extracts(entries, proj, app_names, request.extract)
        config = BundleConfig(
            name=proj.name,
            entry=entry,
            scripts=proj.scripts,
            extract=tuple(extract),
            distributions=tuple(Distribution(d.name, d.version) for d in dists),
        )
        entries.append(zipstore.Entry(BUNDLE_CONFIG, config.to_json()))
        lock_text, sbom_text = _provenance(proj, base, site, dists, found, urls)
        entries.append(zipstore.Entry(lock.LOCK_ARCNAME, lock_text))
        entries.append(zipstore.Entry(sbom.SBOM_ARCNAME, sbom_text))
        entries.append(zipstore.Entry(ARGS_ARCNAME, _args_text(allow_env).encode(), compress=False))
        dropped = _prune(request, proj, base, site) if request.prune or proj.tool.prune else set()
        hot_from = request.hot_from or (
            proj.root / proj.tool.hot_from if proj.tool.hot_from else None
        )
        if hot_from is not None:
            entries = _store_hot(hot_from, entries, base, dropped)
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
    if request.lock_out is not None:
        with cache.atomic_output(request.lock_out.absolute()) as target:
            target.write_bytes(lock_text)
    links = _make_links(request.link_dir, output, proj) if request.link_dir else []
    return BundleResult(output, base, dists, time.monotonic() - started, links)


def _locked_wheels(
    proj: project.Project,
    pylock: Pylock,
    base: base_mod.Base,
    index: wheels.IndexOptions,
    request: BundleRequest,
    provided: dict[str, str],
) -> list[tuple[lock.LockedWheel, Path]]:
    """The lock's wheel for each package, found locally (or at its URL) and checked
    against the lock's sha256; the base's compiled-in packages are not installed."""
    assert proj.lock is not None
    locked = lock.select(pylock, base, proj.lock)
    missing = lock.unsatisfied(proj.dependencies, locked, provided, base)
    if missing and request.locked:
        raise ApepyError(
            f"{proj.lock} does not satisfy the project's dependencies: {'; '.join(missing)}",
            hint="write the lock again (bundle without it, with --lock-out pylock.toml), "
            "or drop --locked to install the lock as it is",
        )
    for text in missing:
        ui.warn(f"the lock does not satisfy the dependency {text}; installing the lock as it is")
    found = []
    with ui.phase("lock", f"{len(locked)} wheels from {proj.lock.name}"):
        for wheel in locked:
            name = canonicalize_name(wheel.name)
            if name in provided:
                if provided[name] != wheel.version:
                    raise ApepyError(
                        f"{proj.lock} locks {wheel.name} {wheel.version}, but the base carries "
                        f"{wheel.name} {provided[name]} (compiled in, or needed by what is)",
                        hint="lock the version the base has, or build a base with the locked "
                        f"one (apepy build --with {wheel.name}=={wheel.version})",
                    )
                continue
            path = lock.find(wheel, proj.lock.parent, index.find_links, offline=request.offline)
            lock.keep(path, wheel)
            found.append((wheel, path))
    return found


def _provenance(
    proj: project.Project,
    base: base_mod.Base,
    site: Path,
    dists: list[install.Installed],
    found: list[wheels.Wheel],
    locked: dict[str, lock.LockedWheel],
) -> tuple[bytes, bytes]:
    """The lock of what was installed, and the bundle's SBOM (its base's, with the
    app and every installed wheel)."""
    by_name = {canonicalize_name(parse_wheel_filename(w.path.name)[0]): w for w in found}
    locked_out: list[lock.LockedWheel] = []
    parts: list[sbom.WheelPart] = []
    for dist in dists:
        name = canonicalize_name(dist.name)
        wheel = by_name[name]
        known = locked.get(name)
        url = known.url if known else wheel.url
        locked_out.append(
            lock.LockedWheel(
                name=name,
                version=dist.version,
                filename=wheel.path.name,
                sha256=wheel.sha256,
                url=url,
                path=known.path if known else "",
            )
        )
        metadata = (site / dist.dist_info / "METADATA").read_text(
            encoding="utf-8", errors="replace"
        )
        parts.append(
            sbom.WheelPart(
                name=name,
                version=dist.version,
                filename=wheel.path.name,
                sha256=wheel.sha256,
                license=sbom.metadata_licence(metadata),
                url=url,
                dropped=dist.dropped_extensions,
            )
        )
    # The zip's own dates come from SOURCE_DATE_EPOCH; without it, the base's date.
    given = os.environ.get("SOURCE_DATE_EPOCH", "")
    epoch = (
        int(given)
        if given.isdigit()
        else base.manifest.source_date_epoch
        if base.manifest
        else zipstore.DOS_EPOCH
    )
    bom = sbom.for_bundle(
        sbom.read(base.path), base.manifest, (proj.name, proj.version), parts, epoch
    )
    return lock.render(locked_out, base), bom


def _prune(
    request: BundleRequest, proj: project.Project, base: base_mod.Base, site: Path
) -> set[str]:
    """The base's stdlib members the app cannot import (and directories left empty)."""
    keep = [*request.keep, *proj.tool.keep]
    if request.keep_from is not None:
        keep += prune.read_module_list(request.keep_from, "--keep-from")
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


def _without_sources(entries: list[zipstore.Entry]) -> list[zipstore.Entry]:
    """The entries less each .py whose .pyc is there (what is imported is the .pyc;
    only tracebacks and ``inspect`` read the source)."""
    names = {e.name for e in entries}
    return [e for e in entries if not (e.name.endswith(".py") and e.name + "c" in names)]


def _store_hot(
    source: Path, entries: list[zipstore.Entry], base: base_mod.Base, dropped: set[str]
) -> list[zipstore.Entry]:
    """The entries with only the recorded run's .pyc stored, and the base's other
    stored .pyc deflated (they replace the base's members)."""
    modules = frozenset(prune.read_module_list(source, "--hot-from"))
    with ui.phase("hot", f"the .pyc {source.name} names stay stored") as st:
        planned = hot.plan(modules, entries, base.archive, dropped, source)
        st.done_text = (
            f"kept {planned.stored} .pyc stored (imported by the recorded run), "
            f"deflated {planned.deflated}"
        )
    return planned.entries + planned.deflated_base


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
        module = entry_point.script_module(proj.script)
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
        roots = [site / item.name for item in proj.code]
        if proj.script is not None:
            roots.append(site / f"{entry_point.script_module(proj.script)}.py")
        _write_record(site, dist_info, roots)
    for runtime in ("_apepy_boot.py", "_apepy.py"):
        (site / runtime).write_text(inside.source(f"runtime/{runtime}"), encoding="utf-8")
    return names


def _write_record(site: Path, dist_info: Path, roots: list[Path]) -> None:
    """The app's RECORD, as a wheel's installer writes one: every file of its code and
    dist-info with its sha256, so `apepy verify --deep` sees a change to the app too."""
    files = [dist_info / "RECORD"]
    for root in [*roots, dist_info]:
        files += sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    rows = []
    for path in sorted(set(files)):
        rel = path.relative_to(site).as_posix()
        if path.name == "RECORD" and path.parent == dist_info:
            rows.append([rel, "", ""])
            continue
        data = path.read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append([rel, f"sha256={digest}", str(len(data))])
    with open(dist_info / "RECORD", "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


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


__all__ = [
    "CONFIG_SCHEMA",
    "BundleConfig",
    "BundleRequest",
    "BundleResult",
    "Distribution",
    "Extract",
    "bundle",
]
