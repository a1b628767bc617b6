"""Read a CSV, print a summary (totals per group of the first text column) and write
the same as a JSON report."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def report(frame: pd.DataFrame, by: str | None) -> dict[str, object]:
    numeric = frame.select_dtypes("number")
    out: dict[str, object] = {
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
        "describe": json.loads(numeric.describe().to_json()),
        "totals": {str(k): float(v) for k, v in numeric.sum().items()},
    }
    if by is not None:
        groups = frame.groupby(by)[list(numeric.columns)].sum()
        out["by"] = by
        out["groups"] = json.loads(groups.to_json(orient="index"))
        # numpy directly: the share of each group in the first numeric column's total.
        first = groups.iloc[:, 0].to_numpy(dtype=np.float64)
        out["share"] = dict(
            zip(map(str, groups.index), np.round(first / first.sum(), 4).tolist(), strict=True)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="csv-report", description=__doc__)
    parser.add_argument("csv", type=Path, help="the CSV file to read")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.json"))
    parser.add_argument("--by", help="the column to group by (default: the first text column)")
    args = parser.parse_args(argv)
    try:
        frame = pd.read_csv(args.csv)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        print(f"csv-report: cannot read {args.csv}: {exc}", file=sys.stderr)
        return 1
    text = [str(c) for c in frame.select_dtypes(exclude="number").columns]
    by = args.by or (text[0] if text else None)
    if by is not None and by not in frame.columns:
        print(f"csv-report: {args.csv} has no column {by!r}", file=sys.stderr)
        return 1
    result = report(frame, by)
    print(f"{args.csv.name}: {len(frame)} rows; columns: {', '.join(map(str, frame.columns))}")
    if by is not None:
        print(frame.groupby(by).sum(numeric_only=True).to_string())
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"report: {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
