"""Threaded workloads on given interpreters: what an ``--optimize`` build whose training
ran one thread per process (so that its profile does not depend on the scheduler)
costs a program that runs threads.

Four workloads, each in a fresh process from an empty directory with an empty
environment, interleaved across the files, repeated ``--runs`` times; the medians of
CPU seconds (user + system) and of wall-clock seconds (a thread's wake-up latency on a
busy 2-core machine moves it more than the code does) per workload and file, and each
file's ratios to the first (the anchor) with their geometric means:

- ping-pong: two threads hand 20,000 items back and forth through ``queue.Queue``
  (every item a GIL handoff and a lock wait);
- start/join: 5,000 threads started and joined one after another;
- contended lock: four threads increment one counter under one ``threading.Lock``
  while the GIL changes hands by the switch interval;
- pool: ``ThreadPoolExecutor(4)`` maps 100,000 small calls.

Results: benchmarks/results/threads.json (or ``--output``).

    .venv/bin/python benchmarks/threads.py --file LABEL=PATH --file LABEL=PATH [--runs 15]
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from startup import RESULTS, files_parser, geomean, given_files, run_usage  # noqa: E402

WORKLOADS = {
    "ping-pong": """
import queue, threading
inbox, answers = queue.Queue(), queue.Queue()
def work():
    while (item := inbox.get()) is not None:
        answers.put(item + 1)
t = threading.Thread(target=work); t.start()
for i in range(20000):
    inbox.put(i)
    assert answers.get() == i + 1
inbox.put(None); t.join()
""",
    "start/join": """
import threading
box = []
for i in range(5000):
    t = threading.Thread(target=box.append, args=(i,)); t.start(); t.join()
assert len(box) == 5000
""",
    "contended lock": """
import threading
lock = threading.Lock()
count = [0]
def work():
    for _ in range(250000):
        with lock:
            count[0] += 1
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
assert count[0] == 1000000
""",
    "pool": """
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as pool:
    assert sum(pool.map(abs, range(-50000, 50000))) == 2500000000
""",
}


MEASURES = ("cpu", "wall")


def once(exe: Path, code: str, cwd: Path) -> dict[str, float]:
    wall, usage = run_usage([str(exe), "-c", code], cwd, {})
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall}


def main() -> int:
    args = files_parser(__doc__, runs=15, output=RESULTS / "threads.json").parse_args()
    files = given_files(args.file)
    seconds: dict[str, dict[str, dict[str, list[float]]]] = {
        label: {m: {n: [] for n in WORKLOADS} for m in MEASURES} for label in files
    }
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for name, code in WORKLOADS.items():
                for label, exe in files.items():
                    for measure, value in once(exe, code, Path(tmp)).items():
                        seconds[label][measure][name].append(value)
    anchor = next(iter(files))
    results: dict[str, object] = {}
    for label in files:
        entry: dict[str, object] = {"file": str(files[label])}
        for m in MEASURES:
            medians = {n: statistics.median(seconds[label][m][n]) for n in WORKLOADS}
            ratios = {n: medians[n] / statistics.median(seconds[anchor][m][n]) for n in WORKLOADS}
            entry[f"median_{m}_seconds"] = {k: round(v, 4) for k, v in medians.items()}
            entry[f"{m}_over_anchor"] = {k: round(v, 3) for k, v in ratios.items()}
            entry[f"geomean_{m}_over_anchor"] = round(geomean(list(ratios.values())), 3)
            print(
                label, m, json.dumps(entry[f"{m}_over_anchor"]), entry[f"geomean_{m}_over_anchor"]
            )
        results[label] = entry
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {platform.platform()}",
        "how": f"medians of {args.runs} interleaved runs, CPU (user + system) and wall-clock "
        "seconds, a fresh process each",
        "anchor": anchor,
        "results": results,
    }
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
