"""What deflating the stdlib's cold .pyc costs at start-up, and what it saves.

Takes a file from ``apepy build`` (the hot modules' .pyc stored, the rest deflated)
and writes it again twice, member by member in the same order: as it is, and with
every .pyc stored, as apepy did before (the same layout, so only the compression
differs; a copy laid out otherwise was 2-6 % apart at start-up even where no
deflated member is read). Then it times both, interleaved, from an empty directory with an empty environment. Time is the
CPU time (user + system) of the process, which a busy machine inflates far less
than wall-clock time. Results: benchmarks/results/deflate.json.

    .venv/bin/python benchmarks/deflate.py FILE [--runs 40]
"""

from __future__ import annotations

import argparse
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
from startup import RESULTS, run_timed  # noqa: E402

from apepy import zipstore  # noqa: E402

CASES = {
    "-c pass": ["-c", "pass"],
    "import json, email, http.server, asyncio": ["-c", "import json, email, http.server, asyncio"],
    # Modules off the hot list, all deflated in the file apepy makes.
    "twelve cold modules": [
        "-c",
        "import argparse, tomllib, csv, xml.dom.minidom, sqlite3, statistics, difflib, "
        "zoneinfo, smtplib, imaplib, ftplib, configparser",
    ],
}


def relaid(src: Path, dest: Path, *, store_pyc: bool) -> None:
    """``src`` written again member by member in its own order, every .pyc stored if
    ``store_pyc``: both variants are made this way, so they differ in nothing but
    the compression of the cold .pyc (not in where each member lies in the file)."""
    archive = zipstore.read_archive(src)
    entries = []
    for member in archive.members:
        if member.name == zipstore.INDEX_ARCNAME:
            continue  # written again by rewrite
        if member.name.endswith("/"):
            entries.append(zipstore.Entry(member.name, mode=0o755))
            continue
        deflate = member.method != 0 and not (store_pyc and member.name.endswith(".pyc"))
        entries.append(
            zipstore.Entry(member.name, zipstore.read_data(archive, member), compress=deflate)
        )
    zipstore.rewrite(archive, dest, keep=lambda m: False, add=entries)
    dest.chmod(0o755)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        deflated, stored = root / "cold-deflated", root / "all-stored"
        relaid(args.file, deflated, store_pyc=False)
        relaid(args.file, stored, store_pyc=True)
        variants = {"cold .pyc deflated": deflated, "all .pyc stored": stored}
        medians: dict[str, dict[str, float]] = {}
        for case, case_args in CASES.items():
            samples: dict[str, list[float]] = {k: [] for k in variants}
            for _ in range(args.runs):
                for label, exe in variants.items():
                    samples[label].append(run_timed([str(exe), *case_args], root, {})[1] * 1000)
            medians[case] = {k: round(statistics.median(v), 2) for k, v in samples.items()}
            print(case, medians[case], flush=True)
        sizes = {k: v.stat().st_size for k, v in variants.items()}
    report = {
        "file": str(args.file),
        "runs": args.runs,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d"),
        "sizes_bytes": sizes,
        "cpu_ms_median": medians,
        "ratio_deflated_over_stored": {
            case: round(m["cold .pyc deflated"] / m["all .pyc stored"], 3)
            for case, m in medians.items()
        },
    }
    print(json.dumps(report, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deflate.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
