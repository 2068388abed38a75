"""Snapshot benchmark: cxml's `build_snapshot` vs hand-written DuckDB SQL vs lifetimes.

    python -m benchmarks.snapshot [--customers 1000000]

Generates (once, cached under benchmarks/data/) synthetic Parquet data with about ten
transaction lines and ten interactions per customer, then times in separate processes:
cxml (validation + snapshot, all default features), the same features as one hand-written
DuckDB query, and lifetimes' `summary_data_from_transaction_data` (BTYD columns only).
Targets (issue 2): cxml <= 1.5x the SQL, >= 3x faster than lifetimes, peak RSS <= 4 GB.
lifetimes computes only the four BTYD columns, so it is compared both with the full snapshot
and with a BTYD-only snapshot (validation included in both). Stages report wall and CPU seconds
(all threads); the load average is printed because other work on the machine skews wall times.
"""

from __future__ import annotations

import time
import warnings

import pandas as pd

from benchmarks._harness import (
    CUTOFF,
    dataset,
    load,
    machine,
    measure,
    parse_or_run_stage,
    rows,
    run_stage,
)
from benchmarks.hand_sql import snapshot_sql

CHECK = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "n_orders_90d",
    "revenue_365d",
    "gap_std_days",
    "n_web_visit_30d",
    "email_ctr_90d",
    "nps_last",
    "fcr_share",
]


def _cxml(folder: str) -> dict:
    from cxml.data import Tables
    from cxml.features import build_snapshot

    result: dict = {}

    def run() -> None:
        started, cpu = time.perf_counter(), time.process_time()
        tables = Tables(f"{folder}/transactions.parquet", f"{folder}/interactions.parquet")
        result["validation_seconds"] = time.perf_counter() - started
        result["validation_cpu_seconds"] = time.process_time() - cpu
        snap = build_snapshot(tables, CUTOFF)
        snap[CHECK].to_parquet(f"{folder}/cxml_check.parquet")
        result["shape"] = list(snap.shape)

    return {**measure(run), **result}


def _cxml_btyd(folder: str) -> dict:
    from cxml.data import Tables
    from cxml.features import FeatureSpec, build_snapshot

    def run() -> None:
        tables = Tables(f"{folder}/transactions.parquet")
        build_snapshot(tables, CUTOFF, FeatureSpec(groups=("btyd",)))

    return measure(run)


def _sql(folder: str) -> dict:
    import duckdb

    result: dict = {}

    def run() -> None:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        snap = con.sql(
            snapshot_sql(f"{folder}/transactions.parquet", f"{folder}/interactions.parquet", CUTOFF)
        ).df()
        snap.set_index("customer_id")[CHECK].to_parquet(f"{folder}/sql_check.parquet")
        result["shape"] = [len(snap), snap.shape[1] - 1]

    return {**measure(run), **result}


def _lifetimes(folder: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes.utils import summary_data_from_transaction_data

    def run() -> None:
        tx = pd.read_parquet(
            f"{folder}/transactions.parquet",
            columns=["customer_id", "timestamp", "amount", "is_return"],
        )
        tx = tx[~tx["is_return"] & (tx["timestamp"] < pd.Timestamp(CUTOFF))]
        summary_data_from_transaction_data(
            tx,
            "customer_id",
            "timestamp",
            monetary_value_col="amount",
            observation_period_end=pd.Timestamp(CUTOFF) - pd.Timedelta(days=1),
            freq="D",
        )

    return measure(run)


STAGES = {"cxml": _cxml, "sql": _sql, "lifetimes": _lifetimes, "cxml_btyd": _cxml_btyd}


def _agreement(folder: str) -> float:
    ours = pd.read_parquet(f"{folder}/cxml_check.parquet")
    theirs = pd.read_parquet(f"{folder}/sql_check.parquet").loc[ours.index]
    diff = (ours.astype(float) - theirs.astype(float)).abs()
    both_null = ours.isna() & theirs.isna()
    return float(diff.where(~both_null, 0).fillna(float("inf")).max().max())


def main() -> None:
    args = parse_or_run_stage(__doc__, STAGES)
    if args is None:
        return
    folder = dataset(args.customers)
    counts = rows(folder)
    print(f"machine: {machine()}; load average {load()}")
    print(
        f"data: {args.customers:,} customers, {counts['transactions']:,} transaction lines, "
        f"{counts.get('interactions', 0):,} interactions; cut-off {CUTOFF}"
    )
    results = {
        s: run_stage("benchmarks.snapshot", s, "--data", str(folder))
        for s in STAGES
        if s not in args.skip
    }
    if "cxml" in results:
        cx = results["cxml"]
        results["cxml snapshot"] = {
            "seconds": cx["seconds"] - cx["validation_seconds"],
            "cpu_seconds": cx["cpu_seconds"] - cx["validation_cpu_seconds"],
            "peak_rss_gb": cx["peak_rss_gb"],
        }
    print(f"load average after the stages: {load()}")
    print(f"{'stage':<28}{'seconds':>10}{'CPU seconds':>14}{'peak RSS GB':>14}")
    labels = {
        "cxml": "cxml Tables + build_snapshot",
        "cxml snapshot": "cxml build_snapshot only",
        "sql": "hand-written DuckDB SQL",
        "lifetimes": "lifetimes summary utility",
        "cxml_btyd": "cxml Tables + BTYD columns",
    }
    for stage, r in results.items():
        print(
            f"{labels[stage]:<28}{r['seconds']:>10.1f}{r['cpu_seconds']:>14.1f}"
            f"{r['peak_rss_gb']:>14.2f}"
        )
    if "cxml" in results and "sql" in results:
        ratio = results["cxml snapshot"]["seconds"] / results["sql"]["seconds"]
        total = results["cxml"]["seconds"] / results["sql"]["seconds"]
        print(
            f"build_snapshot / hand-written SQL: {ratio:.2f}x (target <= 1.5x); "
            f"with validation: {total:.2f}x"
        )
        print(f"max |cxml - SQL| over {len(CHECK)} checked columns: {_agreement(str(folder)):.2e}")
    if "lifetimes" in results:
        for stage in ("cxml", "cxml_btyd"):
            if stage in results:
                speedup = results["lifetimes"]["seconds"] / results[stage]["seconds"]
                print(f"lifetimes / {labels[stage]}: {speedup:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
