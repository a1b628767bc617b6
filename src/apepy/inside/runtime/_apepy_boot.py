"""Starts a bundled app: runs the entry point named in the file's .apepy/bundle.json.

`.args` runs this module (`-m _apepy_boot`). Kept small: it runs on every start.
"""

import os
import sys

# Given their values when this module is put into a file (apepy.inside).
from apepy.layout import BUNDLE_CONFIG, BUNDLE_KEYS

# For the type checker only: this runs on every start of a bundled app.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _archive() -> str:
    loader = globals().get("__loader__")
    archive: str = getattr(loader, "archive", None) or os.path.realpath(sys.executable)
    return archive


def _config(archive: str) -> "dict[str, Any]":
    import json

    config: dict[str, Any] = json.loads(__loader__.get_data(archive + "/" + BUNDLE_CONFIG))  # type: ignore[name-defined]
    if sorted(config) != sorted(BUNDLE_KEYS):
        # Written by the same apepy as this code: anything else is a damaged file.
        sys.stderr.write(
            f"{archive}: {BUNDLE_CONFIG} has the keys {sorted(config)}, not "
            f"{sorted(BUNDLE_KEYS)}: the file is damaged; bundle the app again\n"
        )
        raise SystemExit(1)
    return config


def _cache_home() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "apepy-run")


def _extract(archive: str, prefix: str, digest: str) -> str | None:
    """Unpack the members under ``prefix`` once per content into a cache directory."""
    for home in (_cache_home(), os.path.join(_tempdir(), f"apepy-run-{os.getuid()}")):
        target = os.path.join(home, digest)
        if os.path.isfile(os.path.join(target, ".complete")):
            return target
        try:
            _unpack(archive, prefix, home, target)
            return target
        except OSError:
            continue
    return None


def _tempdir() -> str:
    import tempfile

    return tempfile.gettempdir()


def _unpack(archive: str, prefix: str, home: str, target: str) -> None:
    import shutil
    import tempfile
    import zipfile

    os.makedirs(home, exist_ok=True)
    # The package directory itself is kept: root/<package>/..., so root goes on sys.path.
    parent = prefix.rstrip("/").rpartition("/")[0] + "/"
    work = tempfile.mkdtemp(prefix=".tmp-", dir=home)
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                name = info.filename
                if not name.startswith(prefix) or name.endswith("/") or name.endswith(".pyc"):
                    continue
                rel = name[len(parent) :]
                parts = rel.split("/")
                if ".." in parts or rel.startswith("/"):
                    continue
                dest = os.path.join(work, *parts)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        open(os.path.join(work, ".complete"), "w").close()
        try:
            os.rename(work, target)
        except OSError:
            # Another process won the race; its copy is identical.
            if not os.path.isfile(os.path.join(target, ".complete")):
                raise
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work, ignore_errors=True)


def _call(target: str) -> "Any":
    # Whatever the app's function returns becomes the exit status, as for a console script.
    import importlib

    module_name, _, attrs = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in attrs.split("."):
        obj = getattr(obj, attr)
    return obj()


def _run_module(name: str) -> None:
    import runpy

    runpy.run_module(name, run_name="__main__", alter_sys=True)


def _command_name(argv0: str) -> str:
    name = os.path.basename(argv0)
    for suffix in (".exe", ".com"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name


def _record_imports(path: str) -> None:
    """At exit, write the names of every module the run imported (for --prune --keep-from
    and --hot-from)."""
    import atexit
    import signal

    # A server is often stopped with SIGTERM (a service manager, `kill`): exit through
    # Python then, so that the record is written.
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))

    def write() -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write("".join(name + "\n" for name in sorted(sys.modules)))

    atexit.register(write)


def main() -> "Any":
    if os.environ.get("APEPY_RECORD_IMPORTS"):
        _record_imports(os.environ["APEPY_RECORD_IMPORTS"])
    archive = _archive()
    config = _config(archive)
    # Children started through sys.executable get the plain interpreter: .args is
    # skipped when APEPY_PLAIN names this file.
    os.environ["APEPY_PLAIN"] = os.path.realpath(sys.executable)
    argv0 = sys.orig_argv[0] if getattr(sys, "orig_argv", None) else sys.argv[0]
    sys.argv[0] = argv0
    for item in config["extract"]:
        root = _extract(archive, item["prefix"], item["digest"])
        if root is not None and root not in sys.path:
            sys.path.insert(0, root)
    try:
        import _apepy

        _apepy.install_metadata_finder()
    except ImportError:
        pass

    scripts = config["scripts"]
    entry = config["entry"]
    name = _command_name(argv0)
    if name in scripts:
        entry = {"kind": "function", "target": scripts[name]}
    elif entry is None and len(sys.argv) > 1 and sys.argv[1] in scripts:
        entry = {"kind": "function", "target": scripts[sys.argv[1]]}
        del sys.argv[0]
    if entry is None:
        sys.stderr.write(
            f"{argv0} bundles several commands; run it as one of them (a link named like it, "
            f"made with `apepy bundle --link DIR`), or as `{argv0} COMMAND ...`. "
            f"Commands: {', '.join(sorted(scripts))}\n"
        )
        return 2
    if entry["kind"] == "function":
        return _call(entry["target"])
    _run_module(entry["target"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
