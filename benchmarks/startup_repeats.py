"""Start-up ratios against the ordinary build, measured again and again.

One start-up measurement (benchmarks/startup.py's: medians of interleaved runs from
an empty directory with an empty environment) moves by several per cent with the
machine's state, and with the page cache's state of each file: on this machine a
freshly written copy of the same bytes started up to 8 % faster than the file it was
copied from. This script repeats the measurement ``--repeat`` times, a pause apart,
and reports each repeat's ratios and their median. ``--refresh`` first rewrites
every measured file (the ordinary build's executable and libpython included) as a
new copy of itself, so that all of them start from the same page-cache state.
Results: benchmarks/results/startup_repeats.json.

    .venv/bin/python benchmarks/startup_repeats.py --file LABEL=PATH [--file ...]
        [--repeat 6] [--runs 20] [--refresh]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from startup import RESULTS, WORK, given_files, measure  # noqa: E402

ORDINARY = WORK / "ordinary-3.13.15"


def refresh(path: Path) -> None:
    """Rewrite ``path`` as a new file with the same bytes and mode."""
    fresh = path.with_name(path.name + ".refresh")
    shutil.copy2(path, fresh)
    os.replace(fresh, path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", action="append", required=True, metavar="LABEL=PATH")
    parser.add_argument("--ordinary", type=Path, default=ORDINARY, help="its install prefix")
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pause", type=float, default=20.0, help="seconds between repeats")
    parser.add_argument("--refresh", action="store_true")
    args = parser.parse_args()

    ordinary = args.ordinary / "bin" / "python3.13"
    variants = {"ordinary": ordinary}
    # Resolved: --refresh rewrites the file itself, not a link to it.
    variants.update({k: p.resolve() for k, p in given_files(args.file).items()})
    if args.refresh:
        for path in [*variants.values(), *args.ordinary.glob("lib/libpython*.so*")]:
            if path.is_file() and not path.is_symlink():
                refresh(path)

    repeats: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as empty:
        for n in range(args.repeat):
            if n:
                time.sleep(args.pause)
            cases, _ = measure(variants, args.runs, Path(empty), cpu=False)
            ratios = {
                case: {k: round(v / ms["ordinary"], 3) for k, v in ms.items() if k != "ordinary"}
                for case, ms in cases.items()
            }
            repeats.append(ratios)
            print(f"repeat {n + 1}: {json.dumps(ratios)}", flush=True)

    median = {
        case: {
            label: statistics.median(r[case][label] for r in repeats) for label in repeats[0][case]
        }
        for case in repeats[0]
    }
    print(f"median: {json.dumps(median)}")
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "runs": args.runs,
        "refreshed": args.refresh,
        "files": {k: str(v) for k, v in variants.items()},
        "how": "wall-clock medians of interleaved runs per repeat, / the ordinary build",
        "repeats": repeats,
        "median": median,
        "range": {
            case: {
                label: [min(r[case][label] for r in repeats), max(r[case][label] for r in repeats)]
                for label in repeats[0][case]
            }
            for case in repeats[0]
        },
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup_repeats.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
