"""pymalloc's arenas and malloc's heap on transparent huge pages (inside/c/apepy_arenas.c,
apepy_heap.c): the same file started with its default and with ``APEPY_HUGEPAGES=0``,
which gives them CPython's and glibc's own way (an mmap per arena, a heap grown 132 KiB
at a time; 4 KiB pages).

Per start-up case: the medians of interleaved runs of wall-clock ms, CPU ms (user +
system), minor page faults and peak RSS, from an empty directory with an empty
environment. Results: benchmarks/results/arenas.json (or ``--output``).

    .venv/bin/python benchmarks/arenas.py --file LABEL=PATH [--file ...] [--runs 40]
        [--output FILE]

An APE is measured through a copy made a native ELF by its own ``--assimilate``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from startup import CASES, RESULTS, files_parser, given_files, run_usage  # noqa: E402

WAYS = {"huge pages": {}, "APEPY_HUGEPAGES=0": {"APEPY_HUGEPAGES": "0"}}


def once(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    wall, usage = run_usage(cmd, cwd, env)
    return {
        "wall_ms": wall * 1000,
        "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
        "sys_ms": usage.ru_stime * 1000,
        "minor_faults": usage.ru_minflt,
        "max_rss_kib": usage.ru_maxrss,
    }


def main() -> int:
    args = files_parser(__doc__, runs=40, output=RESULTS / "arenas.json").parse_args()
    files = given_files(args.file)

    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp)
        for label, exe in files.items():
            per_case: dict[str, object] = {}
            for case, case_args in CASES.items():
                samples: dict[str, list[dict[str, float]]] = {w: [] for w in WAYS}
                for env in WAYS.values():  # warm the page cache
                    once([str(exe), *case_args], empty, env)
                for _ in range(args.runs):
                    for way, env in WAYS.items():
                        samples[way].append(once([str(exe), *case_args], empty, env))
                medians = {
                    way: {k: round(statistics.median(s[k] for s in runs), 2) for k in runs[0]}
                    for way, runs in samples.items()
                }
                base = medians["APEPY_HUGEPAGES=0"]
                ratio = {
                    k: round(medians["huge pages"][k] / base[k], 3) for k in ("wall_ms", "cpu_ms")
                }
                per_case[case] = {"median": medians, "ratio_to_4k": ratio}
                print(
                    f"{label:12s} {case:42s} "
                    + "  ".join(
                        f"{way}: {m['cpu_ms']:.2f} ms cpu, {m['minor_faults']:.0f} faults, "
                        f"{m['max_rss_kib']:.0f} KiB"
                        for way, m in medians.items()
                    )
                    + f"  cpu ratio {ratio['cpu_ms']}",
                    flush=True,
                )
            results[label] = {"file": str(exe), "cases": per_case}

    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "transparent_hugepage": thp.read_text().strip() if thp.exists() else None,
        "runs": args.runs,
        "how": "medians of interleaved runs; ratio: huge pages / APEPY_HUGEPAGES=0",
        "files": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
