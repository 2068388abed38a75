"""Churn model against the simulator's oracles, over engagement settings and seeds.

    python -m benchmarks.oracle [--customers 20000] [--seeds 1 2 3] [--settings default ...]

Model quality, not speed: the figures behind the models issue's synthetic target ("ROC AUC
within 0.02 of the oracle that knows each customer's true dropout state"). For each setting
of `make_synthetic` and each seed it builds the training frame at the quarterly cut-offs
2022-10-01 .. 2023-07-01 with a 90-day horizon, fits the default `ChurnModel`, and scores it
at the holdout cut-off 2023-10-01 beside the full, state and history oracles
(`cxml.evaluation.oracle`). It prints every AUC, the gaps to the state and history oracles,
and the expected calibration error.

The settings vary how much a customer's interactions reveal a coming dropout: web/app visits
a year (`visits_per_year`, default 12) and how fast engagement fades before dropout
(`engagement_fade_days`, default 21).
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
from sklearn.metrics import roc_auc_score

from benchmarks._harness import machine

HOLDOUT, HORIZON_DAYS = "2023-10-01", 90
CUTOFFS = list(pd.date_range("2022-10-01", "2023-07-01", freq="3MS"))
SETTINGS: dict[str, dict[str, float]] = {
    "default": {},
    "visits_50": {"visits_per_year": 50},
    "visits_150": {"visits_per_year": 150},
    "fade_7": {"engagement_fade_days": 7},
    "visits_50_fade_7": {"visits_per_year": 50, "engagement_fade_days": 7},
    "engaged": {"visits_per_year": 150, "engagement_fade_days": 7},
}


def measure(customers: int, seed: int, params: dict[str, float]) -> dict[str, float]:
    """The AUCs and the model's ECE on one simulated data set."""
    from cxml.datasets import make_synthetic
    from cxml.evaluation import expected_calibration_error
    from cxml.evaluation.oracle import oracle_aucs
    from cxml.features import build_training_frame
    from cxml.features.labels import LABELS
    from cxml.models import ChurnModel

    tables, truth = make_synthetic(customers, seed=seed, **params)
    horizon = f"{HORIZON_DAYS}D"
    frame = build_training_frame(tables, CUTOFFS, horizon)
    holdout = build_training_frame(tables, [HOLDOUT], horizon)
    features = [c for c in frame.columns if c not in (*LABELS, "cutoff")]
    model = ChurnModel().fit(frame[["cutoff", *features]], frame["churned"])
    churned = holdout["churned"]
    p = model.predict_proba(holdout[features])[:, 1]
    aucs = oracle_aucs(
        frame[["cutoff", *features]], holdout[features], churned, truth, HOLDOUT, HORIZON_DAYS
    )
    aucs["ChurnModel"] = roc_auc_score(churned, p)
    aucs["ece"] = expected_calibration_error(churned, p)
    return aucs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    print(f"{machine()}; {args.customers:,} customers per data set")
    header = ("setting", "seed", "full", "state", "history", "model", "gap_state", "gap_hist")
    print(f"{header[0]:<18}" + "".join(f"{h:>10}" for h in header[1:]) + f"{'ece':>8}{'s':>6}")
    for name in args.settings:
        for seed in args.seeds:
            started = time.perf_counter()
            a = measure(args.customers, seed, SETTINGS[name])
            figures = (
                a["full oracle"],
                a["state oracle"],
                a["history oracle"],
                a["ChurnModel"],
                a["state oracle"] - a["ChurnModel"],
                a["history oracle"] - a["ChurnModel"],
            )
            print(
                f"{name:<18}{seed:>10}"
                + "".join(f"{v:>10.4f}" for v in figures)
                + f"{a['ece']:>8.4f}{time.perf_counter() - started:>6.0f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
