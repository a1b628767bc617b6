"""Real apps from requirements files: size, and start to first answer or first output.

datasette (first JSON answer), httpie (`http --offline GET example.org`), black
(formatting a small file): each bundled onto the default single-file base, against
the same app in a venv of the same CPython built the ordinary way
(benchmarks/startup.py builds it) with the bundle's own wheels. Runs are
interleaved; medians are reported. Results go to benchmarks/results/apps.json.

    .venv/bin/python benchmarks/apps.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bundle import RESULTS, WORK, apepy, first_request, interpreters, wheel_dir

REPO = Path(__file__).resolve().parent.parent
APPS = {
    # name: (requirement, bundle options, venv command)
    "datasette": ("datasette==0.65.5", ["-m", "datasette"], ["-m", "datasette"]),
    "httpie": ("httpie==3.2.4", ["--script", "http"], ["-m", "httpie"]),
    "black": ("black==26.10.1", ["--script", "black"], ["-m", "black"]),
}


def venv_for(ordinary: Path, name: str, requirement: str) -> Path:
    venv = WORK / f"venv-{name}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([str(ordinary), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--find-links",
                str(wheel_dir(requirement.split("==")[0])),
                requirement,
            ],
            check=True,
        )
    return python


def first_output(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def measure(name: str, cmd: list[str], home: Path, env: dict[str, str], messy: Path) -> float:
    """Seconds to the first answer (a server) or to the end of the command (a CLI)."""
    if name == "datasette":
        return first_request(cmd, home, env, "/data/t.json")
    messy.write_text("x = {  'a':1 }\n")  # black has something to do each time
    return first_output(cmd, home, env)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    found = interpreters()
    if found is None:
        return 1
    version, ordinary, base = found
    home = Path(tempfile.mkdtemp())
    with sqlite3.connect(home / "data.db") as db:
        db.execute("create table t (id integer primary key, name text)")
        db.execute("insert into t (name) values ('x')")
    messy = home / "messy.py"
    report: dict[str, object] = {
        "python": version,
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d"),
    }
    for name, (requirement, options, venv_args) in APPS.items():
        reqs = home / f"{name}.txt"
        reqs.write_text(requirement + "\n")
        single = WORK / f"app-{name}"
        started = time.perf_counter()
        apepy("bundle", str(reqs), *options, "--base", str(base), "-o", str(single))
        bundle_seconds = time.perf_counter() - started
        python = venv_for(ordinary, name, requirement)
        if name == "datasette":
            tail = ["serve", "data.db"]  # first_request adds --host and --port
        elif name == "httpie":
            tail = ["--offline", "GET", "example.org"]
        else:
            tail = [str(messy)]
        variants = {
            "single file": [str(single), *tail],
            "venv (ordinary build)": [str(python), *venv_args, *tail],
        }
        samples: dict[str, list[float]] = {k: [] for k in variants}
        env = {"HOME": str(home)}
        for cmd in variants.values():  # warm-up: first-start extraction, page cache
            measure(name, cmd, home, env, messy)
        for _ in range(args.runs):
            for key, cmd in variants.items():
                samples[key].append(measure(name, cmd, home, env, messy))
        medians = {k: round(statistics.median(v) * 1000, 1) for k, v in samples.items()}
        report[name] = {
            "command": f"apepy bundle {name}.txt ({requirement}) {' '.join(options)}",
            "size_bytes": single.stat().st_size,
            "bundle_seconds": round(bundle_seconds, 1),
            "ms_median": medians,
            "ratio_single_over_venv": round(
                medians["single file"] / medians["venv (ordinary build)"], 3
            ),
        }
        print(name, json.dumps(report[name]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "apps.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
