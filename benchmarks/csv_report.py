"""The csv-report data app (numpy + pandas) as one APE against the host bundle of it.

Bundles ``examples/csv-report`` onto two interpreters that have numpy and pandas
compiled in (``apepy build --with numpy --with pandas``, one with the host toolchain,
one ``--toolchain cosmo``), then times each run of the report on the example's CSV, to
its exit (its output is printed first, the JSON report written last), interleaved,
from a copy of the file alone in an empty directory with an empty environment.
The APE runs as a shell starts it (``/bin/sh`` reads its header, which unpacks and
runs its loader) and, with ``--loader``, through the APE loader named on its command
line (no shell). Results: benchmarks/results/csv_report.json.

    .venv/bin/python benchmarks/csv_report.py --host-base FILE --ape-base FILE [--loader ape-x86_64.elf] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
APP = REPO / "examples" / "csv-report"
sys.path.insert(0, str(HERE))
from startup import RESULTS, WORK, run_timed  # noqa: E402


def bundle(base: Path, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "apepy", "bundle", str(APP), "--base", str(base), "-o", str(out)],
        check=True,
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host-base", type=Path, required=True)
    parser.add_argument("--ape-base", type=Path, required=True)
    parser.add_argument("--loader", type=Path, help="the APE loader (cosmocc's bin/ape-x86_64.elf)")
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    built = {
        "host bundle": bundle(args.host_base, WORK / "csv-report-host"),
        "APE bundle": bundle(args.ape_base, WORK / "csv-report.com"),
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        commands: dict[str, list[str]] = {}
        for label, path in built.items():
            alone = root / label.replace(" ", "-")
            alone.mkdir()
            copy = alone / path.name
            shutil.copy2(path, copy)
            shutil.copy2(APP / "sales.csv", alone / "sales.csv")
            commands[label] = [str(copy)]
        if args.loader:
            commands["APE bundle, loader named"] = [str(args.loader), commands["APE bundle"][0]]
        # The APE through /bin/sh: its header runs the loader it unpacks once (to $TMPDIR
        # or ~/.ape-*); a first run does that outside the timed runs.
        ape_cmd = ["/bin/sh", commands["APE bundle"][0]]
        commands["APE bundle"] = ape_cmd
        env = {"HOME": str(root), "TMPDIR": str(root)}
        samples: dict[str, list[float]] = {label: [] for label in commands}
        cpu: dict[str, list[float]] = {label: [] for label in commands}
        for cmd in commands.values():
            cwd = Path(cmd[-1]).parent
            subprocess.run([*cmd, "sales.csv"], cwd=cwd, env=env, check=True, capture_output=True)
        for _ in range(args.runs):
            for label, cmd in commands.items():
                wall, used = run_timed([*cmd, "sales.csv"], Path(cmd[-1]).parent, env)
                samples[label].append(wall)
                cpu[label].append(used)
    medians = {label: round(statistics.median(v) * 1000, 1) for label, v in samples.items()}
    cpu_medians = {label: round(statistics.median(v) * 1000, 1) for label, v in cpu.items()}
    host = medians["host bundle"]
    report = {
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"),
        "sizes_bytes": {label: path.stat().st_size for label, path in built.items()},
        "run_ms_median": medians,
        "ratio_over_host_bundle": {
            k: round(v / host, 3) for k, v in medians.items() if k != "host bundle"
        },
        # CPU time (user + system, the shell's and the loader's included): what a busy
        # machine inflates far less than the wall clock.
        "cpu_ms_median": cpu_medians,
        "cpu_ratio_over_host_bundle": {
            k: round(v / cpu_medians["host bundle"], 3)
            for k, v in cpu_medians.items()
            if k != "host bundle"
        },
    }
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "csv_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
