"""Side by side, in one run: apepy's interpreters against CPython built the usual ways.

On one 3.13.15 tarball:

- ``ordinary``: ``./configure --enable-shared`` (stdlib on disk), start-up's reference;
- ``ordinary PGO+LTO``: the same with ``--enable-optimizations --with-lto`` and
  CPython's own profile task, as python-build-standalone ships it; speed's reference;
- ``apepy``: ``apepy build``; ``apepy --optimize`` (apepy's training task);
  ``apepy --optimize (cpython task)``: ``--pgo-task cpython``, CPython's own task.

And on 3.11.2: Debian's ``python3.11`` (PGO + LTO) against ``apepy`` and
``apepy --optimize``.

Measured: start-up (``-c pass`` and the four-module import, medians of ``--runs``
interleaved runs from an empty directory with an empty environment); pyperformance
benchmarks (its own ``bm_*`` scripts under pyperf ``--fast``; the median of each, then
the geometric mean of the speed against the reference); the file's size. The
interpreters are built first if the cache does not have them (the ordinary PGO + LTO
build, CPython's own `make profile-opt`: about an hour on 2 cores). Results:
benchmarks/results/side_by_side.json.

    .venv/bin/python benchmarks/side_by_side.py [--runs 20] [--benchmarks a,b] [--skip-cpython-task]
        [--file '3.13.15:apepy=benchmarks/work/cold-default/python' ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from pyperformance import DEBIAN_PYTHON, PINS, run_one, script, tools  # noqa: E402
from startup import (  # noqa: E402
    RESULTS,
    WORK,
    geomean,
    given_files,
    measure,
    ordinary_build,
    single_file,
)

# Pure-Python benchmarks of pyperformance that need no package of their own: numeric,
# object-heavy, text, serialisation, async and generator code.
BENCHMARKS = (
    "chaos", "deltablue", "fannkuch", "float", "go", "hexiom", "json_dumps", "json_loads",
    "logging", "nbody", "nqueens", "pyflate", "raytrace", "regex_v8", "richards",
    "spectral_norm", "unpack_sequence", "generators", "coroutines", "deepcopy", "sqlite_synth",
)  # fmt: skip


def interpreters(
    skip_cpython_task: bool, given: dict[str, Path], only: str | None
) -> dict[str, dict[str, Path]]:
    from apepy.cache import cache_root

    tarball = cache_root() / "sources" / "Python-3.13.15.tar.xz"
    sets: dict[str, dict[str, Path]] = {}
    if only in (None, "3.13.15"):
        sets["3.13.15"] = {
            "ordinary": ordinary_build(tarball, "3.13.15"),
            "ordinary PGO+LTO": ordinary_build(tarball, "3.13.15", optimized=True),
            "apepy": given.get("3.13.15:apepy") or single_file("3.13.15"),
            "apepy --optimize": given.get("3.13.15:apepy --optimize")
            or single_file("3.13.15", "--optimize"),
        }
    if not skip_cpython_task and "3.13.15" in sets:
        sets["3.13.15"]["apepy --optimize (cpython task)"] = given.get(
            "3.13.15:apepy --optimize (cpython task)"
        ) or single_file("3.13.15", "--optimize", "--pgo-task", "cpython")
    if only in (None, "3.11.2") and DEBIAN_PYTHON.exists():
        sets["3.11.2"] = {
            "debian python3.11": DEBIAN_PYTHON,
            "apepy": given.get("3.11.2:apepy") or single_file("3.11.2"),
            "apepy --optimize": given.get("3.11.2:apepy --optimize")
            or single_file("3.11.2", "--optimize"),
        }
    return sets


REFERENCES = {
    "3.13.15": {"start-up": "ordinary", "speed": "ordinary PGO+LTO"},
    "3.11.2": {"start-up": "debian python3.11", "speed": "debian python3.11"},
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument(
        "--skip-cpython-task",
        action="store_true",
        help="leave out `apepy --optimize --pgo-task cpython` (its training alone takes "
        "twice apepy's)",
    )
    parser.add_argument("--only", help="one version (3.13.15 or 3.11.2)")
    parser.add_argument(
        "--file",
        action="append",
        default=[],
        metavar="VERSION:LABEL=PATH",
        help="use this file for an apepy variant instead of building it, e.g. "
        "'3.13.15:apepy --optimize=benchmarks/work/cold-optimize/python' (build_time.py's)",
    )
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    sets = interpreters(args.skip_cpython_task, given_files(args.file), args.only)
    target = tools()
    names = [n for n in args.benchmarks.split(",") if n]
    report: dict[str, object] = {
        "pins": PINS,
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d"),
        "how": "start-up: median ms of interleaved runs; pyperformance: pyperf --fast median "
        "per benchmark in us; speed: reference seconds / seconds (above 1: faster); "
        "geomean over the benchmarks",
        "versions": {},
    }
    versions: dict[str, object] = {}
    for version, variants in sets.items():
        refs = REFERENCES[version]
        print(f"== {version}: " + ", ".join(variants))
        with tempfile.TemporaryDirectory() as empty:
            cases, _ = measure(variants, args.runs, Path(empty), cpu=False)
        startup = {
            case: {
                "median_ms": {k: round(v, 2) for k, v in medians.items()},
                "ratio": {
                    k: round(v / medians[refs["start-up"]], 3)
                    for k, v in medians.items()
                    if k != refs["start-up"]
                },
            }
            for case, medians in cases.items()
        }
        for case, row in startup.items():
            print(f"{case:42s} " + "  ".join(f"{k} {v:.2f}" for k, v in row["median_ms"].items()))
        perf: dict[str, dict[str, float]] = {}
        for name in names:
            bench = script(target, name)
            perf[name] = {
                label: run_one(exe, bench, target, True) for label, exe in variants.items()
            }
            print(
                f"{name:16s} " + "  ".join(f"{k} {v * 1e6:.4g} us" for k, v in perf[name].items()),
                flush=True,
            )
        speed = {
            label: round(
                geomean([perf[n][refs["speed"]] / perf[n][label] for n in names]),
                3,
            )
            for label in variants
        }
        print(
            "geomean speed vs "
            + refs["speed"]
            + ": "
            + "  ".join(f"{k} {v}" for k, v in speed.items())
        )
        versions[version] = {
            "references": refs,
            "sizes_bytes": {k: v.stat().st_size for k, v in variants.items() if "apepy" in k},
            "startup": startup,
            "pyperformance_us": {
                n: {k: float(f"{v * 1e6:.4g}") for k, v in row.items()} for n, row in perf.items()
            },
            "pyperformance_geomean_speed": speed,
        }
    report["versions"] = versions
    out = RESULTS / "side_by_side.json"
    if args.only and out.is_file():
        # One version re-measured: the other's figures stay.
        old = json.loads(out.read_text())
        old["versions"].update(versions)
        old.update({k: v for k, v in report.items() if k != "versions"})
        report = old
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
