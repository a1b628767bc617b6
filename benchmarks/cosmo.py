"""The Actually Portable Executable against the host build of the same CPython.

Builds (or takes from the cache) ``apepy build --toolchain cosmo --arch x86_64
--cosmocc DIR`` and ``apepy build`` (host) of the same version, then times the
start-up cases of benchmarks/startup.py on both, interleaved, from an empty
directory with an empty environment. The APE is started as a shell starts it
(``/bin/sh python.com``: Linux has no APE loader registered here), which is
part of what a user pays. Results go to benchmarks/results/cosmo.json.

    .venv/bin/python benchmarks/cosmo.py --cosmocc DIR [--runs 20]
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
from startup import CASES, RESULTS, WORK, single_file  # noqa: E402

from apepy import ape  # noqa: E402


def build_ape(out: Path, version: str, cosmocc: Path) -> Path:
    subprocess.run(
        [
            sys.executable, "-m", "apepy", "build", "--offline", "--python", version,
            "--toolchain", "cosmo", "--arch", "x86_64", "--cosmocc", str(cosmocc),
            "-o", str(out),
        ],
        check=True,
    )  # fmt: skip
    return out


def once(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env={}, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cosmocc", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--python", default="3.13.15")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    ape_out = build_ape(WORK / f"python-{args.python}.com", args.python, args.cosmocc)
    host_out = single_file(args.python)
    variants = {"host": [str(host_out)], "cosmo": ape.command(ape_out)}
    cases: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as empty:
        for case, case_args in CASES.items():
            samples: dict[str, list[float]] = {v: [] for v in variants}
            for cmd in variants.values():  # warm up (the APE unpacks its loader once)
                once([*cmd, *case_args], Path(empty))
            for _ in range(args.runs):
                for name, cmd in variants.items():
                    samples[name].append(once([*cmd, *case_args], Path(empty)))
            cases[case] = {n: round(statistics.median(v) * 1000, 2) for n, v in samples.items()}
            ratio = cases[case]["cosmo"] / cases[case]["host"]
            print(
                f"{case:45s} host {cases[case]['host']:7.2f} ms  APE {cases[case]['cosmo']:7.2f} ms  ratio {ratio:.3f}"
            )
    report = {
        "python": args.python,
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "date": time.strftime("%Y-%m-%d"),
        "sizes_bytes": {"cosmo": ape_out.stat().st_size, "host": host_out.stat().st_size},
        "median_ms": cases,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "cosmo.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
