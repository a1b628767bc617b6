"""Draw the start-up and CPU ratios of benchmarks/results/ to docs/performance.png.

Reads startup.json (benchmarks/startup.py, with --anchor for the Debian python3.11
comparison) and pyperformance.json (benchmarks/pyperformance.py); and, when there,
side_by_side.json (benchmarks/side_by_side.py) for docs/side-by-side.png. Needs matplotlib
(``pip install -e '.[bench]'``).

    .venv/bin/python benchmarks/plot.py
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OUT = HERE.parent / "docs" / "performance.png"
SIDE_OUT = HERE.parent / "docs" / "side-by-side.png"


def _ratios(section: dict, key: str, prefix: str) -> dict[str, float]:
    """Each case's ratio for the first key starting with ``prefix`` (the single file's)."""
    out = {}
    for case, row in section.get(key, {}).items():
        for name, value in row.items():
            if name.startswith(prefix) and "--" not in name:
                out[case] = value
                break
    return out


def _bars(ax, groups: dict[str, dict[str, float]], title: str, ylabel: str) -> None:
    cases = sorted({c for g in groups.values() for c in g})
    width = 0.8 / max(len(groups), 1)
    for i, (label, values) in enumerate(groups.items()):
        xs = [j + i * width for j in range(len(cases))]
        heights = [values.get(c, 0) for c in cases]
        bars = ax.bar(xs, heights, width, label=label)
        # No label on a missing bar (a reference has no ratio to itself).
        ax.bar_label(bars, labels=[f"{h:.2f}" if h else "" for h in heights], fontsize=7)
    ax.axhline(1.0, color="black", linewidth=0.8)
    top = max([1.0, *(v for g in groups.values() for v in g.values())])
    ax.set_ylim(0, top * 1.3)
    ax.set_xticks([j + width * (len(groups) - 1) / 2 for j in range(len(cases))])
    ax.set_xticklabels(
        [c if len(c) < 24 else c[:22] + "…" for c in cases], rotation=20, ha="right", fontsize=8
    )
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.legend(fontsize=7, loc="upper left", ncols=2)


def main() -> int:
    startup = json.loads((RESULTS / "startup.json").read_text())
    perf_path = RESULTS / "pyperformance.json"
    perf = json.loads(perf_path.read_text()) if perf_path.is_file() else {}

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    start_groups = {f"{startup['python']} vs ordinary": _ratios(startup, "cases", "ratio_single")}
    if "anchor" in startup:
        start_groups["3.11.2 vs Debian python3.11"] = _ratios(
            startup["anchor"], "cases", "ratio_single"
        )
    _bars(left, start_groups, "Start-up: single file ÷ anchor (lower is faster)", "time ratio")

    cpu_groups: dict[str, dict[str, float]] = {}
    for version, rows in perf.get("results_us", {}).items():
        cpu_groups[f"pyperformance {version}"] = {name: row["speed"] for name, row in rows.items()}
    if not cpu_groups:
        cpu_groups[f"{startup['python']} vs ordinary"] = _ratios(startup, "cpu", "speed_single")
    _bars(right, cpu_groups, "CPU: anchor ÷ single file (higher is faster)", "speed")
    fig.suptitle(f"apepy single-file CPython, {startup['machine']}, {startup['date']}", fontsize=9)
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(OUT)
    side_path = RESULTS / "side_by_side.json"
    if side_path.is_file():
        _side_by_side(json.loads(side_path.read_text()))
    return 0


def _side_by_side(data: dict) -> None:
    """Start-up ÷ the start-up reference and pyperformance speed ÷ the speed reference,
    one group of bars per interpreter, per version."""
    versions = data["versions"]
    fig, axes = plt.subplots(1, len(versions), figsize=(6 * len(versions), 4.5), squeeze=False)
    for ax, (version, row) in zip(axes[0], versions.items(), strict=True):
        refs = row["references"]
        groups: dict[str, dict[str, float]] = {}
        for case, figures in row["startup"].items():
            label = "-c pass" if case == "-c pass" else "four-module import"
            for name, ratio in figures["ratio"].items():
                groups.setdefault(name, {})[f"start-up: {label}"] = ratio
        for name, speed in row["pyperformance_geomean_speed"].items():
            if name != refs["speed"]:
                groups.setdefault(name, {})["pyperformance speed"] = speed
        _bars(
            ax,
            groups,
            f"{version}: start-up ÷ {refs['start-up']}, speed ÷ {refs['speed']}",
            "ratio",
        )
    fig.suptitle(f"side by side, {data['machine']}, {data['date']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(SIDE_OUT, dpi=110)
    print(SIDE_OUT)


if __name__ == "__main__":
    raise SystemExit(main())
