"""Sanity invariants of every KPI on simulated data (make_synthetic(2000))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.datasets import make_synthetic
from cxml.kpis import cohort_retention, compute_kpis
from tests.kpis.test_recombination import assert_segments_recombine

RATES = [
    "churn_rate",
    "retention_rate",
    "repeat_purchase_rate",
    "returning_customer_share",
    "csat_satisfied_share",
    "first_contact_resolution_rate",
    "referral_rate",
    "stickiness",
]


@pytest.fixture(scope="module")
def synthetic():
    tables, _ = make_synthetic(2000, seed=3)
    overall = compute_kpis(tables)
    by_region = compute_kpis(tables, by="region")
    return tables, overall, by_region


def wide(result: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    return result.pivot_table(index="period_start", columns="kpi", values=column, dropna=False)


def test_every_kpi_but_trials_is_available(synthetic) -> None:
    _, overall, _ = synthetic
    available = overall.groupby("kpi")["available"].all()
    assert available[~available].index.tolist() == ["trial_to_paid_rate"]


def test_rates_lie_in_0_1(synthetic) -> None:
    _, overall, _ = synthetic
    rates = overall[overall["kpi"].isin(RATES)]["value"].dropna()
    assert len(rates) > 100 and rates.between(0, 1).all()


def test_scores_lie_on_their_scales(synthetic) -> None:
    values = wide(synthetic[1])
    assert values["nps"].between(-100, 100).all()
    assert values["csat_mean"].between(1, 5).all()
    assert values["ces_mean"].dropna().between(1, 7).all()
    assert (values["average_resolution_hours"].dropna() > 0).all()


def test_churn_and_retention_add_up_to_one(synthetic) -> None:
    values = wide(synthetic[1]).dropna(subset=["churn_rate"])
    assert np.allclose(values["churn_rate"] + values["retention_rate"], 1.0)


def test_revenue_per_customer_is_order_value_times_frequency(synthetic) -> None:
    values = wide(synthetic[1])
    product = values["average_order_value"] * values["purchase_frequency"]
    assert np.allclose(values["revenue_per_customer"], product)


def test_daily_weekly_monthly_actives_are_nested(synthetic) -> None:
    values = wide(synthetic[1])
    assert (values["dau"] <= values["wau"]).all() and (values["wau"] <= values["mau"]).all()
    assert (values["mau"] <= 2000).all() and (values["dau"] > 0).all()


def test_region_segments_recombine_to_the_total(synthetic) -> None:
    _, overall, by_region = synthetic
    assert_segments_recombine(overall, by_region)


def test_cohort_retention_is_a_share_and_starts_at_one(synthetic) -> None:
    matrix = cohort_retention(synthetic[0])
    assert matrix["retention"].between(0, 1).all()
    assert (matrix.loc[matrix["periods_since"] == 0, "retention"] == 1).all()
    # every customer who bought is in exactly one cohort
    sizes = matrix.drop_duplicates("cohort_start")["cohort_size"].sum()
    lines = synthetic[0].to_pandas("transactions")
    assert sizes == lines.loc[~lines["is_return"], "customer_id"].nunique()
