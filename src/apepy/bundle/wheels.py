"""Resolving dependencies to wheels for the base: the only place apepy runs pip.

A resolution is cached by its inputs (requirements, the base's tags, index
options), so a warm bundle does no network I/O at all. The cache entry records the
sha256 of each wheel as it was downloaded; a wheel is checked against it when it
is taken out of the cache to be installed.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from apepy import cache, hashing, pip, ui
from apepy.bundle.base import Base
from apepy.errors import ApepyError
from apepy.hashing import sha256_file

RESOLVED = "resolved.json"
# Where each wheel of a resolution was downloaded from, as pip's own log says (an
# entry made before apepy kept it has none: its wheels' URLs are unknown).
URLS = "urls.json"
# pip's debug log names the URL of every file it takes ("Added NAME from URL", or
# "Looking up "URL" in the cache", as pip's versions say it).
_FETCHED = re.compile(
    r'(?:Added \S+ from |Looking up ")(?P<url>https?://[^"\s#]+/(?P<name>[^/"\s#]+\.whl))'
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_REFRESH_HINT = (
    "run again with --refresh to download the wheels again (or clear the cache: apepy cache clean)"
)


@dataclass(frozen=True)
class IndexOptions:
    find_links: tuple[str, ...] = ()
    index_url: str | None = None
    no_index: bool = False
    refresh: bool = False

    def pip_args(self) -> list[str]:
        args: list[str] = []
        for link in self.find_links:
            args += ["--find-links", link]
        if self.index_url:
            args += ["--index-url", self.index_url]
        if self.no_index:
            args.append("--no-index")
        return args


@dataclass(frozen=True)
class Wheel:
    """A wheel in the cache and the sha256 it had when pip downloaded it."""

    path: Path
    sha256: str
    # The URL it came from, where pip said (never with credentials).
    url: str = ""


def resolve(
    requirements: list[str],
    base: Base,
    index: IndexOptions,
    log: Path,
    *,
    constraints: list[str] | None = None,
) -> list[Wheel]:
    """Wheels for ``requirements`` and everything they need, for the base's version and tags.

    ``constraints`` (pip's -c) pin versions without asking for the packages.
    """
    if not requirements:
        return []
    tags = [
        "--only-binary=:all:",
        "--python-version",
        base.series,
        "--implementation",
        "cp",
        "--abi",
        base.abi,
        *(arg for platform in base.pip_platforms() for arg in ("--platform", platform)),
    ]
    pins = sorted(constraints or [])
    inputs = {"req": sorted(requirements), "tags": tags, "index": index.pip_args()}
    if pins:
        inputs["constraints"] = pins
    # In its own order, not sorted: the key was first made so, and cached resolutions
    # (which warm bundles use without a network) stay valid.
    key = hashing.cache_key(inputs, sort_keys=False)
    with cache.entry(
        cache.cache_dir("wheels") / key,
        marker=RESOLVED,
        check=_complete,
        rebuild=index.refresh,
    ) as entry:
        if entry.ready:
            recorded = _recorded(entry.path / RESOLVED, entry.text)
            assert recorded is not None  # as _complete found it
            ui.info(f"dependencies: {len(recorded)} wheels from the cache (no network)")
        else:
            with ui.phase(
                "resolve", f"{len(requirements)} requirements with pip for {base.describe()}"
            ):
                urls = _pip_download(requirements, tags, index, entry.work, log, pins)
            recorded = {p.name: sha256_file(p) for p in sorted(entry.work.glob("*.whl"))}
            urls = {name: url for name, url in urls.items() if name in recorded}
            (entry.work / URLS).write_text(json.dumps(urls, indent=1, sort_keys=True) + "\n")
            entry.publish(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    urls = _urls(entry.path / URLS)
    return [
        Wheel(entry.path / n, digest, urls.get(n, "")) for n, digest in sorted(recorded.items())
    ]


def _urls(path: Path) -> dict[str, str]:
    """The wheels' URLs a resolution recorded (none for an older entry, or a damaged file:
    a URL is only ever extra information)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _public(url: str) -> str:
    """``url`` without user name or password (a private index's credentials stay out of
    the lock and the SBOM)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def _complete(entry: Path, text: str) -> bool:
    """A cached resolution with hashes, and every wheel it names still there."""
    recorded = _recorded(entry / RESOLVED, text)
    return recorded is not None and all((entry / n).is_file() for n in recorded)


def _recorded(done: Path, text: str) -> dict[str, str] | None:
    """The wheels and hashes of a cached resolution; None for an entry without hashes."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _damaged(done, str(exc)) from exc
    if isinstance(data, list) and all(isinstance(n, str) for n in data):
        return None  # written before apepy recorded hashes: resolve again
    if not isinstance(data, dict):
        raise _damaged(done, "not a table of wheels")
    for name, digest in data.items():
        if "/" in name or not name.endswith(".whl") or not isinstance(digest, str):
            raise _damaged(done, f"bad entry {name!r}")
        if not _SHA256.fullmatch(digest):
            raise _damaged(done, f"bad sha256 for {name}")
    return data


def _damaged(done: Path, why: str) -> ApepyError:
    return ApepyError(f"the cached resolution {done} is damaged ({why})", hint=_REFRESH_HINT)


def stage(wheels: list[Wheel], dest: Path) -> list[Path]:
    """Copy the wheels out of the cache into ``dest``, each checked against its recorded sha256.

    The copies are what gets installed, so a wheel cannot change between the check
    and the install.
    """
    dest.mkdir(parents=True, exist_ok=True)
    staged = []
    for wheel in wheels:
        data = wheel.path.read_bytes()
        actual = hashlib.sha256(data).hexdigest()
        if actual != wheel.sha256:
            raise ApepyError(
                f"the cached wheel {wheel.path.name} does not match the sha256 recorded when "
                "it was downloaded; it was changed or damaged in the cache",
                hint=_REFRESH_HINT,
                details=f"recorded {wheel.sha256}\nfound    {actual}\nfile     {wheel.path}",
            )
        copy = dest / wheel.path.name
        copy.write_bytes(data)
        staged.append(copy)
    return staged


def _pip_download(
    requirements: list[str],
    tags: list[str],
    index: IndexOptions,
    dest: Path,
    log: Path,
    pins: list[str],
) -> dict[str, str]:
    """Download the wheels into ``dest``; return the URL of each, by file name."""
    extra: list[str] = []
    constraints = dest / "constraints.txt"
    if pins:
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        extra = ["-c", str(constraints)]
    # pip's debug log (where it took each file) beside the constraints, in the cache
    # entry being made: a killed run leaves it where the cache clears it, not in TMPDIR.
    debug_log = dest / "pip-debug.log"
    result = pip.download(
        [*tags, *index.pip_args(), *extra, "--log", str(debug_log), *requirements], dest, log
    )
    text = debug_log.read_text(encoding="utf-8", errors="replace") if debug_log.is_file() else ""
    debug_log.unlink(missing_ok=True)
    constraints.unlink(missing_ok=True)
    if result.returncode == 0:
        return {m["name"]: _public(m["url"]) for m in _FETCHED.finditer(text)}
    text = result.stderr
    missing = re.search(r"No matching distribution found for (\S+)", text)
    tail = "\n".join(text.strip().splitlines()[-8:])
    invalid = re.search(r"Wheel '[^']*' located at (\S+) is invalid", text)
    if invalid:
        raise ApepyError(
            f"the wheel {invalid.group(1)} is invalid: pip cannot read it",
            hint="the file is damaged or not a wheel; replace it with the package's real wheel",
            details=tail + f"\n\nfull log: {log}",
        )
    if missing:
        name = re.split(r"[<>=!~;\[ ]", missing.group(1))[0]
        unknown = _not_on_index(name, index, log)
        if unknown is not None:
            raise ApepyError(
                f"the package index has no project named {name}",
                hint=(f"did you mean {unknown}? " if unknown else "")
                + "check the spelling of the requirement (pip install names, as on the index)",
                details=tail + f"\n\nfull log: {log}",
            )
        raise ApepyError(
            f"no wheel of {missing.group(1)} fits the base",
            hint="apepy installs wheels only (pure-Python, or platform wheels whose C parts are "
            "optional); pin a version that ships a wheel, or build a base with the package "
            "compiled in",
            details=tail + f"\n\nfull log: {log}",
        )
    conflict = re.search(r"ResolutionImpossible|conflicting dependencies", text)
    raise ApepyError(
        "pip could not resolve the dependencies" + (" (they conflict)" if conflict else ""),
        hint="check the requirements and that the package index is reachable (offline: --find-links DIR --no-index)",
        details=tail + f"\n\nfull log: {log}",
    )


def _not_on_index(name: str, index: IndexOptions, log: Path) -> str | None:
    """None when the index knows ``name`` (or cannot be asked); otherwise a close name
    it does know, or "" for none."""
    probe = pip.run_module("apepy.bundle.index_probe", [name, *index.pip_args()], log)
    try:
        answer = json.loads(probe)
    except ValueError:
        return None
    if not isinstance(answer, dict) or answer.get("known") is not False:
        return None
    close = answer.get("close")
    return close if isinstance(close, str) else ""
