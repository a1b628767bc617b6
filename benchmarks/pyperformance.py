"""A pyperformance subset with the single file as the tested interpreter.

pyperformance's own benchmark scripts (``bm_*/run_benchmark.py`` from its wheel),
run by pyperf (both pinned, installed from PyPI into a scratch directory that the
interpreters see through PYTHONPATH) on each interpreter in turn:

- CPython 3.13.15 built the ordinary way (benchmarks/startup.py builds it) vs
  ``apepy build --python 3.13.15``;
- Debian's own ``python3.11`` (3.11.2, PGO + LTO) vs ``apepy build --python 3.11.2``.

pyperformance's runner itself is not used: it makes a venv per interpreter, and a
single file has no ensurepip. Results go to benchmarks/results/pyperformance.json.

    .venv/bin/python benchmarks/pyperformance.py [--fast] [--benchmarks nbody,float]

``--anchor LABEL=PATH --file LABEL=PATH`` compares two given interpreters instead (two
builds of one version, say, before and after a change), ``--output`` names the file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from startup import RESULTS, WORK, geomean, given_files, ordinary_build, single_file  # noqa: E402

PINS = ("pyperformance==1.14.0", "pyperf==2.11.0")
BENCHMARKS = ("nbody", "float", "richards", "json_loads", "regex_v8", "unpack_sequence", "go")
DEBIAN_PYTHON = Path("/usr/bin/python3.11")


def tools() -> Path:
    """pyperf and pyperformance's benchmark files, unpacked once into benchmarks/work."""
    target = WORK / "pyperf-tools"
    if not (target / "pyperf").is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--target",
                str(target),
                *PINS,
            ],
            check=True,
        )
    return target


def script(target: Path, name: str) -> Path:
    path = (
        target / "pyperformance" / "data-files" / "benchmarks" / f"bm_{name}" / "run_benchmark.py"
    )
    if not path.is_file():
        raise SystemExit(f"pyperformance has no benchmark {name!r} ({path})")
    return path


def run_one(exe: Path, bench: Path, target: Path, fast: bool) -> float:
    """Median seconds per loop of one benchmark on one interpreter."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run(
            [
                str(exe),
                str(bench),
                *(["--fast"] if fast else []),
                "--quiet",
                "--inherit-environ",
                "PYTHONPATH",
                "-o",
                str(out),
            ],
            cwd=tmp,
            env={"PYTHONPATH": str(target), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        data = json.loads(out.read_text())
    values = [
        v for b in data["benchmarks"] for r in b["runs"] if "values" in r for v in r["values"]
    ]
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fast", action="store_true", help="pyperf --fast (fewer values)")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--anchor", metavar="LABEL=PATH", help="with --file: the reference")
    parser.add_argument("--file", metavar="LABEL=PATH", help="with --anchor: the one measured")
    parser.add_argument("--output", type=Path, default=RESULTS / "pyperformance.json")
    args = parser.parse_args()
    if bool(args.anchor) != bool(args.file):
        parser.error("--anchor and --file go together")

    from apepy.cache import cache_root

    WORK.mkdir(parents=True, exist_ok=True)
    sources = cache_root() / "sources"
    pairs: dict[str, dict[str, Path]] = {}
    if args.anchor:
        pairs["given"] = given_files([args.anchor, args.file])
    else:
        pairs["3.13.15"] = {
            "ordinary": ordinary_build(sources / "Python-3.13.15.tar.xz", "3.13.15"),
            "single-file": single_file("3.13.15"),
        }
        if DEBIAN_PYTHON.exists():
            pairs["3.11.2"] = {"debian": DEBIAN_PYTHON, "single-file": single_file("3.11.2")}
    target = tools()
    names = [n for n in args.benchmarks.split(",") if n]
    table: dict[str, dict[str, dict[str, float]]] = {}
    for version, variants in pairs.items():
        table[version] = {}
        for name in names:
            bench = script(target, name)
            table[version][name] = {}
            for label, exe in variants.items():
                seconds = run_one(exe, bench, target, args.fast)
                table[version][name][label] = seconds
            anchor, single = list(variants)
            speed = table[version][name][anchor] / table[version][name][single]
            table[version][name]["speed"] = speed
            print(
                f"{version} {name:16s} {anchor} {table[version][name][anchor] * 1e6:10.2f} us"
                f"  {single} {table[version][name][single] * 1e6:10.2f} us  speed {speed:.3f}"
            )
    report = {
        "pins": PINS,
        "fast": args.fast,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d"),
        "speed": "anchor seconds / the other's seconds (above 1: the other is faster)",
        # Microseconds per loop (4 significant digits): unpack_sequence loops in ~50 ns.
        "results_us": {
            v: {
                n: {
                    k: float(f"{x * 1e6:.4g}") if k != "speed" else round(x, 3)
                    for k, x in r.items()
                }
                for n, r in per.items()
            }
            for v, per in table.items()
        },
    }
    for version, per in table.items():
        report[f"geomean_speed_{version}"] = round(geomean([r["speed"] for r in per.values()]), 3)
        print(f"{version} geometric mean of speed {report[f'geomean_speed_{version}']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
