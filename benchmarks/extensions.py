"""The extension matrix: build each popular C-extension package into its own interpreter.

For each package: `apepy build --with PKG`, then import its extension modules from
the file with an empty environment and run a smoke check that calls the package's
main function and compares the result. Records built / refused (with apepy's
reason) / failed (with the last error line: a package that builds and imports but
whose check fails has failed), the time the build took on a warm CPython and
build-Python cache, and the size it added.

    .venv/bin/python benchmarks/extensions.py [PKG ...]

Writes benchmarks/results/extensions.json and docs/extensions.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "extensions.json"
DOC = REPO / "docs" / "extensions.md"
PYTHON = "3.13.15"
KEEP_MARKER = "<!-- measured apart from the matrix: kept when the table is written again -->"

# One line each, run by the built interpreter with an empty environment.
SMOKE = {
    "markupsafe": "import markupsafe; assert markupsafe.escape('<') == '&lt;'",
    "pyyaml": "import yaml; assert yaml.load('a: [1]', Loader=yaml.CSafeLoader) == {'a': [1]}",
    "greenlet": "import greenlet; g = greenlet.greenlet(lambda x: x + 1); assert g.switch(41) == 42",
    "simplejson": "import simplejson, simplejson.encoder as e; assert e.c_make_encoder; assert simplejson.loads(simplejson.dumps({'a': 1.5})) == {'a': 1.5}",
    "msgpack": "import msgpack; assert msgpack.unpackb(msgpack.packb({'a': [1, b'x']})) == {'a': [1, b'x']}",
    "ujson": "import ujson; assert ujson.loads(ujson.dumps({'a': [1, 2]})) == {'a': [1, 2]}",
    "wrapt": "import wrapt\n@wrapt.decorator\ndef d(w, i, a, k): return w(*a, **k) + 1\n@d\ndef f(): return 41\nassert f() == 42",
    "zope.interface": "from zope.interface import Interface, implementer, verify\nclass I(Interface): pass\n@implementer(I)\nclass C: pass\nassert I.providedBy(C())",
    "cffi": "import cffi; ffi = cffi.FFI(); ffi.cdef('struct p { int x, y; };'); p = ffi.new('struct p *', [40, 2]); assert p.x + p.y == 42",
    "psutil": "import psutil, os; assert psutil.Process(os.getpid()).pid == os.getpid() and psutil.cpu_count() >= 1",
    "multidict": "import multidict; m = multidict.MultiDict([('a', 1), ('a', 2)]); assert m.getall('a') == [1, 2]",
    "yarl": "import yarl; assert yarl.URL('http://h/p?a=1').query['a'] == '1'",
    "frozenlist": "import frozenlist; f = frozenlist.FrozenList([1]); f.freeze(); assert hash(f)",
    "propcache": "from propcache.api import cached_property\nclass A:\n    @cached_property\n    def x(self): return 42\nassert A().x == 42",
    "aiohttp": "import asyncio, aiohttp._http_parser as c, aiohttp.http_parser as p; assert p.HttpRequestParser is c.HttpRequestParser; msgs, _, _ = c.HttpRequestParser(None, asyncio.new_event_loop(), 2**16).feed_data(b'GET /p?q=1 HTTP/1.1\\r\\nHost: h\\r\\n\\r\\n'); m = msgs[0][0]; assert (m.method, m.path, m.headers['Host']) == ('GET', '/p?q=1', 'h'), m",
    "charset-normalizer": "import charset_normalizer; assert charset_normalizer.from_bytes('héllo wörld'.encode()).best()",
    "regex": "import regex; assert regex.match(r'\\p{L}+', 'héllo').group() == 'héllo'",
    "lxml": "from lxml import etree; assert etree.fromstring('<a><b/></a>')[0].tag == 'b'; t = etree.XSLT(etree.XML('<x:stylesheet version=\"1.0\" xmlns:x=\"http://www.w3.org/1999/XSL/Transform\"><x:template match=\"/\"><r><x:value-of select=\"/a\"/></r></x:template></x:stylesheet>')); assert str(t(etree.XML('<a>apepy</a>'))).strip().endswith('<r>apepy</r>')",
    "pillow": "from PIL import Image, features; assert Image.new('RGB', (2, 2), 'red').getpixel((0, 0)) == (255, 0, 0); assert features.check('jpg') and features.check('freetype2') and features.check('zlib')",
    "numpy": "import numpy as np; a = np.arange(6.0).reshape(2, 3); assert (a @ a.T).tolist() == [[5.0, 14.0], [14.0, 50.0]]; assert np.allclose(np.linalg.solve([[3.0, 1.0], [1.0, 2.0]], [9.0, 8.0]), [2.0, 3.0]); assert np.allclose(np.fft.fft([1.0, 0, 0, 0]), 1); assert np.random.default_rng(42).integers(0, 100, 5).tolist() == [8, 77, 65, 43, 43]; np.show_config()",
    "pyzmq": "import zmq; c = zmq.Context(); a = c.socket(zmq.PAIR); a.bind('inproc://m'); b = c.socket(zmq.PAIR); b.connect('inproc://m'); a.send(b'apepy'); assert b.recv() == b'apepy'",
    "pandas": "import io, pandas as pd; f = pd.read_csv(io.StringIO('k,v\\na,1\\nb,2\\na,3\\n')); assert f.groupby('k')['v'].sum().to_dict() == {'a': 4, 'b': 2}; assert pd.DataFrame({'x': [1]}).to_json() == '{\"x\":{\"0\":1}}'",
    "bcrypt": "import bcrypt; h = bcrypt.hashpw(b'pw', bcrypt.gensalt(rounds=4)); assert bcrypt.checkpw(b'pw', h) and not bcrypt.checkpw(b'no', h)",
    "cryptography": "from cryptography.fernet import Fernet; f = Fernet(Fernet.generate_key()); assert f.decrypt(f.encrypt(b'portable')) == b'portable'",
    "orjson": "import orjson; assert orjson.loads(orjson.dumps({'a': [1, 2.5, None]})) == {'a': [1, 2.5, None]}",
    "pydantic-core": "from pydantic_core import SchemaValidator, core_schema as cs; v = SchemaValidator(cs.typed_dict_schema({'n': cs.typed_dict_field(cs.int_schema(gt=0))})); assert v.validate_python({'n': '42'}) == {'n': 42}",
    "ruamel.yaml.clib": "import ruamel.yaml, ruamel.yaml.cyaml as c, _ruamel_yaml; y = ruamel.yaml.YAML(typ='safe'); assert y.Parser is c.CParser, y.Parser; assert y.load('a: [1, x]') == {'a': [1, 'x']}",
    "coverage": "import os, sys, tempfile, coverage, coverage.tracer; d = tempfile.mkdtemp(); p = os.path.join(d, 'apepy_cov.py'); open(p, 'w').write('def f(x):\\n    if x:\\n        return 1\\n    return 2\\n'); sys.path.insert(0, d); cov = coverage.Coverage(data_file=None); cov.start(); import apepy_cov; apepy_cov.f(1); cov.stop(); assert dict(cov.sys_info())['core'] == 'CTracer', dict(cov.sys_info())['core']; assert sorted(cov.get_data().lines(p)) == [1, 2, 3], cov.get_data().lines(p)",
    "setproctitle": "import setproctitle; setproctitle.setproctitle('apepy-test'); assert setproctitle.getproctitle() == 'apepy-test', 'getproctitle() is %r after setproctitle' % setproctitle.getproctitle(); assert open('/proc/self/cmdline', 'rb').read().split(b'\\0')[0] == b'apepy-test'",
    "kiwisolver": "import kiwisolver as k; s = k.Solver(); x = k.Variable('x'); s.addConstraint(x == 42); s.updateVariables(); assert x.value() == 42",
    "websockets": "from websockets.speedups import apply_mask; assert apply_mask(b'\\x01\\x02\\x03\\x04\\x05', b'\\x01\\x01\\x01\\x01') == b'\\x00\\x03\\x02\\x05\\x04'",
    "rpds-py": "import rpds; m = rpds.HashTrieMap({'a': 1}).insert('b', 2); assert sorted(m.items()) == [('a', 1), ('b', 2)]",
    "jiter": "import jiter; assert jiter.from_json(b'{\"a\": [1, 2.5]}') == {'a': [1, 2.5]}",
    "watchfiles": "import tempfile, watchfiles._rust_notify as r; n = r.RustNotify([tempfile.mkdtemp()], False, False, 0, True, False); assert n.watch(10, 1, 100, None) == 'timeout'; n.close()",
}


# Packages whose imports need other C-extension packages of the list: built in together.
WITH_TOO = {
    "yarl": ["multidict", "propcache"],
    "aiohttp": ["multidict", "yarl", "propcache", "frozenlist"],
    # cryptography's OpenSSL bindings are cffi-generated C inside its Rust module.
    "cryptography": ["cffi"],
    "pandas": ["numpy"],
}
# Environment a smoke check needs. setproctitle finds the argv area by walking from
# the environment's strings; with an empty environment it gives up, on an ordinary
# dynamic CPython as well (checked: Debian's python3 and a pyenv 3.11 under env -i).
SMOKE_ENV = {"setproctitle": {"HOME": "/"}}
# Pure-Python packages a smoke check uses that the base does not carry (it carries
# each package's own run-time dependencies): installed with pip into a directory on
# PYTHONPATH. ruamel.yaml is the package that uses ruamel.yaml.clib, not one it needs.
PURE_DEPS = {
    "ruamel.yaml.clib": ["ruamel.yaml"],
}


def run_one(name: str, work: Path, pin: str = "") -> dict[str, object]:
    """Build ``name`` in (``pin``: an exact version, so a cached sdist is reused offline)."""
    out = work / f"python-{name}"
    started = time.monotonic()
    extra = [arg for dep in WITH_TOO.get(name, []) for arg in ("--with", dep)]
    build = subprocess.run(
        [
            str(REPO / ".venv" / "bin" / "apepy"),
            "build",
            "--python",
            PYTHON,
            "--with",
            f"{name}=={pin}" if pin else name,
            *extra,
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        # PATH as the user has it: cargo (Rust packages) usually lives in ~/.cargo/bin.
        env={"PATH": os.environ["PATH"], "HOME": str(Path.home()), "COLUMNS": "300"},
    )
    seconds = round(time.monotonic() - started, 1)
    text = build.stderr
    if build.returncode != 0:
        error = next((line[7:] for line in text.splitlines() if line.startswith("error: ")), "")
        status = "refused" if "cannot be compiled in" in error else "failed"
        details = [line for line in text.splitlines() if line.strip()][-6:]
        return {
            "package": name,
            "status": status,
            "reason": error or "see details",
            "details": details,
            "seconds": seconds,
        }
    info = json.loads(
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "apepy"), "info", "--json", str(out)],
            capture_output=True,
            text=True,
        ).stdout
    )
    dist = next(
        d
        for d in info["distributions"]
        if d["name"] == name.replace(".", "-").lower() or d["name"] == name
    )
    modules = dist["modules"]
    env: dict[str, str] = dict(SMOKE_ENV.get(name, {}))
    if name in PURE_DEPS:
        deps = work / f"deps-{name}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(deps),
                *PURE_DEPS[name],
            ],
            check=True,
            capture_output=True,
        )
        env["PYTHONPATH"] = str(deps)
    check = (
        "import importlib, sys\n"
        "for m in sys.argv[1:]:\n"
        "    assert m in sys.builtin_module_names, m\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ModuleNotFoundError as exc:\n"
        "        # An optional companion (PIL._imagingtk needs tkinter): not this package's fault.\n"
        "        if exc.name.split('.')[0] == m.split('.')[0]:\n"
        "            raise\n" + SMOKE.get(name, "")
    )
    smoke = subprocess.run(
        [str(out), "-c", check, *modules],
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=120,
    )
    result: dict[str, object] = {
        "package": name,
        "version": dist["version"],
        "modules": modules,
        "seconds": seconds,
        "size": out.stat().st_size,
    }
    # The package's own build (the "extension" phase), when this run did it.
    own = re.escape(name.replace("_", "-").replace(".", "-").lower())
    phase = re.search(rf"extension {own} \S+: .*?\(([\d.]+) s\)", text, re.DOTALL)
    if phase:
        result["package_build_seconds"] = float(phase.group(1))
    if smoke.returncode != 0:
        # Built and imported, but it does not work: failed, not built.
        last = (smoke.stderr.strip().splitlines() or ["no output"])[-1]
        result.update(status="failed", reason=f"smoke check: {last}")
    else:
        result.update(status="built", reason="")
    out.unlink()
    return result


def main() -> int:
    names = sys.argv[1:] or list(SMOKE)  # NAME or NAME==VERSION
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    rows = {r["package"]: r for r in previous.get("packages", [])}
    with tempfile.TemporaryDirectory(prefix="apepy-matrix-") as tmp:
        base = Path(tmp) / "python-base"
        subprocess.run(
            [str(REPO / ".venv" / "bin" / "apepy"), "build", "--python", PYTHON, "-o", str(base)],
            check=True,
            capture_output=True,
        )
        base_size = base.stat().st_size
        for arg in names:
            name, _, pin = arg.partition("==")
            row = run_one(name, Path(tmp), pin)
            earlier = rows.get(name, {})
            if (
                "package_build_seconds" not in row
                and "package_build_seconds" in earlier
                and earlier.get("version") == row.get("version")
            ):
                # A run that took the package from the cache measured no build: keep
                # the times of the run that built it.
                row["seconds"] = earlier["seconds"]
                row["package_build_seconds"] = earlier["package_build_seconds"]
            if isinstance(row.get("size"), int):
                row["added_bytes"] = int(row["size"]) - base_size  # type: ignore[call-overload]
            rows[name] = row
            print(
                f"{name:20} {row['status']:8} {row.get('seconds')} s  {row.get('reason', '')}",
                flush=True,
            )
            _write(rows, base_size)
    return 0


def _write(rows: dict[str, dict[str, object]], base_size: int) -> None:
    ordered = [rows[n] for n in SMOKE if n in rows]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"python": PYTHON, "base_size": base_size, "packages": ordered}, indent=1) + "\n"
    )
    counts = {
        s: sum(1 for r in ordered if r["status"] == s) for s in ("built", "refused", "failed")
    }
    lines = [
        "# Third-party C and Rust extensions compiled in",
        "",
        f"`benchmarks/extensions.py` (`scripts/extension-matrix`) builds each package into its own "
        f"CPython {PYTHON} interpreter with the host toolchain (`apepy build --with PKG`), imports "
        "every extension module as a built-in from an empty environment and runs a smoke "
        "check that calls the package's main function and compares the result (a package that "
        "builds and imports but fails its check is counted as failed). The base carries each "
        "package's pure-Python run-time dependencies; packages that need other C-extension "
        "packages of the list are built in together. Time is the wall time of that "
        "`apepy build` on a 2-core machine shared with other builds: the first sdist download "
        "(pip reads the package's metadata, which for meson-python packages runs meson), the "
        "package's own build and the re-link, and in a few rows a rebuild of the cached CPython "
        "tree that happened to fall in that run. *Package build* is the package's own build "
        "alone (pip wheel through apepy's wrapper: for Rust packages cargo compiling every "
        "crate), where that run did it rather than taking it from the cache. Size added is "
        f"against the same interpreter without extensions ({base_size / 1e6:.1f} MB); for a "
        "Rust package it includes the part of Rust's standard library its module keeps.",
        "",
        f"Built: {counts['built']} · refused: {counts['refused']} · failed: {counts['failed']} of {len(ordered)}.",
        "",
        "| package | version | result | modules | time | package build | size added | reason |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in ordered:
        added = r.get("added_bytes")
        lines.append(
            "| {p} | {v} | {s} | {m} | {t} s | {b} | {a} | {why} |".format(
                p=r["package"],
                v=r.get("version", ""),
                s=r["status"],
                m=", ".join(str(x) for x in r.get("modules", [])),  # type: ignore[attr-defined]
                t=r.get("seconds", ""),
                b=f"{r['package_build_seconds']} s" if r.get("package_build_seconds") else "",
                a=f"{int(added) / 1e3:,.0f} kB" if isinstance(added, int) else "",
                why=re.sub(r"\s+", " ", str(r.get("reason", ""))).replace("|", "/"),
            )
        )
    DOC.parent.mkdir(parents=True, exist_ok=True)
    # Sections measured apart from the matrix (below the marker) are kept as they are.
    kept = DOC.read_text().partition(KEEP_MARKER) if DOC.is_file() else ("", "", "")
    tail = "\n" + kept[1] + kept[2] if kept[1] else ""
    DOC.write_text("\n".join(lines) + "\n" + tail)


if __name__ == "__main__":
    sys.exit(main())
