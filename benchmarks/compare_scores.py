"""Check that two score files agree: the same customers in the same order, every numeric
column within a tolerance and every text column equal.

    python -m benchmarks.compare_scores BEFORE.parquet AFTER.parquet [--tolerance 1e-9]

Used to show that a speed-up changes no output: score the same tables with the same
registered model before and after the change, then compare. Exit status 1 when they differ.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd


def differences(before: pd.DataFrame, after: pd.DataFrame, tolerance: float) -> list[str]:
    """One line per column that differs beyond `tolerance` (absolute); empty when they agree."""
    if list(before.columns) != list(after.columns) or len(before) != len(after):
        return [f"shapes differ: {before.shape} vs {after.shape} or columns differ"]
    problems = []
    for column in before.columns:
        a, b = before[column], after[column]
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            x, y = a.to_numpy(), b.to_numpy()
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                problems.append(f"{column}: missing in different rows")
                continue
            gap = float(np.nanmax(np.abs(x - y), initial=0.0))
            if gap > tolerance:
                problems.append(f"{column}: max absolute difference {gap:.3g}")
        elif not a.astype(str).equals(b.astype(str)):
            problems.append(f"{column}: {int((a.astype(str) != b.astype(str)).sum())} rows differ")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--tolerance", type=float, default=1e-9)
    args = parser.parse_args()
    before, after = pd.read_parquet(args.before), pd.read_parquet(args.after)
    problems = differences(before, after, args.tolerance)
    for line in problems:
        print(line)
    exact = all(before[c].astype(str).equals(after[c].astype(str)) for c in before.columns)
    print(
        f"{len(before):,} rows, {len(before.columns)} columns: "
        + ("DIFFERENT" if problems else "bit-identical" if exact else f"within {args.tolerance}")
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
