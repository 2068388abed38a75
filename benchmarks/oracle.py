"""Churn model against the simulator's oracles, over engagement settings and seeds.

    python -m benchmarks.oracle [--customers 20000] [--seeds 1 2 3] [--settings default ...]

Model quality, not speed: the figures behind the models issue's synthetic targets (ROC AUC
within 0.02 of the oracle that knows each customer's true dropout state, ECE <= 0.02, 80 %
CLV intervals covering 77-83 %). For each setting of `make_synthetic` and each seed it fits
a `Pipeline` on the quarterly cut-offs 2022-10-01 .. 2023-07-01 with a 90-day horizon and
the holdout cut-off 2023-10-01, and prints the holdout AUC of the ChurnModel beside the
full, rate, state and history oracles (`cxml.datasets.oracle`), the gaps to the last two,
the ChurnModel's expected calibration error and the hybrid CLV's interval coverage.

The settings vary how much a customer's interactions reveal a coming dropout: web/app visits
a year (`visits_per_year`, default 12) and how fast engagement fades before dropout
(`engagement_fade_days`, default 21). `tests/test_synthetic_targets.py` uses the same study.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import pandas as pd

from benchmarks._harness import machine

HOLDOUT, HORIZON_DAYS = "2023-10-01", 90
CUTOFFS = tuple(pd.date_range("2022-10-01", "2023-07-01", freq="3MS"))
SETTINGS: dict[str, dict[str, float]] = {
    "default": {},
    "visits_50": {"visits_per_year": 50},
    "visits_150": {"visits_per_year": 150},
    "fade_7": {"engagement_fade_days": 7},
    "visits_50_fade_7": {"visits_per_year": 50, "engagement_fade_days": 7},
    "engaged": {"visits_per_year": 150, "engagement_fade_days": 7},
}


def simulate(customers: int, seed: int, params: dict[str, float]) -> tuple[Any, Any, Any]:
    """A simulated data set and the `Pipeline` fitted on it: (pipeline, tables, truth)."""
    from cxml.datasets import make_synthetic
    from cxml.pipeline import Pipeline

    tables, truth = make_synthetic(customers, seed=seed, **params)
    pipeline = Pipeline(CUTOFFS, f"{HORIZON_DAYS}D", holdout=HOLDOUT).fit(tables)
    return pipeline, tables, truth


def figures(pipeline: Any, tables: Any, truth: Any) -> dict[str, float]:
    """The oracles' and the ChurnModel's holdout AUCs, its ECE and the CLV coverage."""
    from cxml.datasets.oracle import RATE_ORACLE, REFERENCES, oracle_aucs
    from cxml.features import build_labels, build_training_frame

    features = pipeline.feature_columns_
    frame = build_training_frame(tables, list(CUTOFFS), f"{HORIZON_DAYS}D")
    labels = build_labels(tables, HOLDOUT, f"{HORIZON_DAYS}D")
    snapshot = pipeline.snapshot(tables, HOLDOUT)
    result = oracle_aucs(
        frame[["cutoff", *features]],
        snapshot[features],
        labels["churned"],
        truth,
        HOLDOUT,
        HORIZON_DAYS,
        {**REFERENCES, **RATE_ORACLE},
    )
    evaluation = pipeline.evaluation_
    for name, (model, metric) in {
        "ChurnModel": ("churn_model", "roc_auc"),
        "ece": ("churn_model", "ece"),
        "coverage": ("clv_hybrid", "interval_coverage"),
        "btyd": ("btyd_p_no_purchase", "roc_auc"),
        "recency": ("recency_rule", "roc_auc"),
    }.items():
        result[name] = evaluation.metric(model, metric)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    print(f"{machine()}; {args.customers:,} customers per data set")
    columns = ("full", "rate", "state", "history", "model", "gap_state", "gap_hist", "ece", "cover")
    print(f"{'setting':<18}{'seed':>5}" + "".join(f"{c:>10}" for c in columns) + f"{'s':>6}")
    for name in args.settings:
        for seed in args.seeds:
            started = time.perf_counter()
            a = figures(*simulate(args.customers, seed, SETTINGS[name]))
            values = (
                a["full oracle"],
                a["rate oracle"],
                a["state oracle"],
                a["history oracle"],
                a["ChurnModel"],
                a["state oracle"] - a["ChurnModel"],
                a["history oracle"] - a["ChurnModel"],
                a["ece"],
                a["coverage"],
            )
            print(
                f"{name:<18}{seed:>5}"
                + "".join(f"{v:>10.4f}" for v in values)
                + f"{time.perf_counter() - started:>6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
