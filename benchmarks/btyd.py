"""BTYD benchmark: cxml's `BTYDModel` vs lifetimes on the same customers.

    python -m benchmarks.btyd [--customers 1000000]

Builds (once, cached next to the synthetic Parquet data) the BTYD columns in weeks at the
end of the simulated period, so that every simulated customer has a history, then times in
separate processes:

- cxml: `BTYDModel` (BG/NBD + Gamma-Gamma) fit, P(alive), and a 12-month CLV with monthly
  steps and 1 % a month discounting;
- lifetimes: the same with its own fitters on the uncollapsed data, its
  `conditional_probability_alive` and `customer_lifetime_value(time=12, freq="W")`.

Both CLVs are written to disk after the timed run and compared. Target (models issue): cxml
fit + P(alive) + CLV <= 3 s on 2 cores.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks._harness import END, dataset, machine, measure, parse_or_run_stage, run_stage

#: lifetimes' month in weeks and its discounting: 12 monthly steps at 1 % a month.
MONTH_WEEKS, MONTHS, MONTHLY_RATE = 4.345, 12, 0.01


def _btyd_columns(folder: Path) -> Path:
    """The BTYD snapshot (weeks) at the end of the simulated period, cached as Parquet."""
    path = folder / f"btyd_W_{END}.parquet"
    if not path.exists():
        from cxml.data import Tables
        from cxml.features import FeatureSpec, build_snapshot

        snap = build_snapshot(
            Tables(folder / "transactions.parquet"),
            END,
            FeatureSpec(groups=("btyd",), time_unit="W"),
        )
        snap.to_parquet(path)
    return path


def _cxml(folder: str) -> dict:
    from cxml.models import BTYDModel

    X = pd.read_parquet(Path(folder) / f"btyd_W_{END}.parquet")
    year_weeks = 365.25 / 7
    annual = (1 + MONTHLY_RATE) ** (year_weeks / MONTH_WEEKS) - 1  # = 1 % per lifetimes month
    result: dict = {}

    def run() -> None:
        started = time.perf_counter()
        model = BTYDModel("bgnbd", time_unit="W").fit(X)
        fitted = time.perf_counter()
        model.predict_alive(X)
        alive = time.perf_counter()
        clv = model.predict_clv(X, MONTHS * MONTH_WEEKS, discount_rate=annual, period=MONTH_WEEKS)
        done = time.perf_counter()
        result.update(
            fit_seconds=fitted - started,
            alive_seconds=alive - fitted,
            clv_seconds=done - alive,
            params=model.params_.round(6).tolist(),
            spend_params=model.spend_params_.round(6).tolist(),
            clv=clv,
        )

    timed = measure(run)
    result.pop("clv").to_frame().to_parquet(Path(folder) / "clv_cxml.parquet")
    return {**timed, **result, "customers": len(X)}


def _lifetimes(folder: str) -> dict:
    from cxml.models.lifetimes_compat import BetaGeoFitter, GammaGammaFitter, contained

    X = pd.read_parquet(Path(folder) / f"btyd_W_{END}.parquet")
    result: dict = {}

    def run() -> None:
        with contained():
            started = time.perf_counter()
            bgf = BetaGeoFitter().fit(X["frequency"], X["recency"], X["T"])
            repeaters = X[(X["frequency"] > 0) & (X["monetary_value"] > 0)]
            ggf = GammaGammaFitter().fit(repeaters["frequency"], repeaters["monetary_value"])
            fitted = time.perf_counter()
            bgf.conditional_probability_alive(X["frequency"], X["recency"], X["T"])
            alive = time.perf_counter()
            clv = ggf.customer_lifetime_value(
                bgf,
                X["frequency"],
                X["recency"],
                X["T"],
                X["monetary_value"],
                time=MONTHS,
                discount_rate=MONTHLY_RATE,
                freq="W",
            )
            done = time.perf_counter()
        result.update(
            fit_seconds=fitted - started,
            alive_seconds=alive - fitted,
            clv_seconds=done - alive,
            params=bgf.params_.round(6).tolist(),
            spend_params=ggf.params_.round(6).tolist(),
            clv=clv,
        )

    timed = measure(run)
    result.pop("clv").rename("clv").to_frame().to_parquet(Path(folder) / "clv_lifetimes.parquet")
    return {**timed, **result, "customers": len(X)}


STAGES = {"cxml": _cxml, "lifetimes": _lifetimes}


def _clv_agreement(folder: Path) -> float:
    ours = pd.read_parquet(folder / "clv_cxml.parquet")["clv"]
    theirs = pd.read_parquet(folder / "clv_lifetimes.parquet")["clv"].loc[ours.index]
    return float(np.max(np.abs(ours.to_numpy() / theirs.to_numpy() - 1)))


def main() -> None:
    args = parse_or_run_stage(__doc__, STAGES)
    if args is None:
        return
    folder = dataset(args.customers)
    _btyd_columns(folder)
    print(f"machine: {machine()}")
    results = {
        s: run_stage("benchmarks.btyd", s, "--data", str(folder))
        for s in STAGES
        if s not in args.skip
    }
    first = next(iter(results.values()))
    print(
        f"data: {first['customers']:,} synthetic customers, BTYD columns in weeks at {END}; "
        f"BG/NBD + Gamma-Gamma, CLV over {MONTHS} months of {MONTH_WEEKS} weeks at "
        f"{MONTHLY_RATE:.0%} a month"
    )
    print(f"{'':<10}{'fit s':>8}{'P(alive) s':>12}{'CLV s':>8}{'total s':>9}{'peak RSS GB':>13}")
    for stage, r in results.items():
        print(
            f"{stage:<10}{r['fit_seconds']:>8.2f}{r['alive_seconds']:>12.3f}"
            f"{r['clv_seconds']:>8.2f}{r['seconds']:>9.2f}{r['peak_rss_gb']:>13.2f}"
        )
    for stage, r in results.items():
        print(f"{stage} parameters: BG/NBD {r['params']}, Gamma-Gamma {r['spend_params']}")
    if len(results) == 2:
        cx, lt = results["cxml"], results["lifetimes"]
        print(
            f"lifetimes / cxml: {lt['seconds'] / cx['seconds']:.1f}x "
            f"(fit {lt['fit_seconds'] / cx['fit_seconds']:.1f}x, "
            f"CLV {lt['clv_seconds'] / cx['clv_seconds']:.0f}x); "
            f"cxml total {cx['seconds']:.2f} s (target <= 3 s)"
        )
        print(f"max relative CLV difference cxml vs lifetimes: {_clv_agreement(folder):.1e}")


if __name__ == "__main__":
    main()
