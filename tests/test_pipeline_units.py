"""Pipeline parts on a small synthetic fit: segment thresholds, the scores' horizons and
customers who signed up but never bought (the CDNOW chain is in test_pipeline.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cxml.data import Tables
from cxml.datasets import make_synthetic
from cxml.features import build_training_frame
from cxml.models import ChurnModel, CLVModel
from cxml.pipeline import Pipeline, _levels

HOLDOUT = "2023-07-01"
#: The holdout's 3M label window, 2023-07-01 to 2023-10-01, and 6M CLV window, to 2024-01-01.
CHURN_DAYS, CLV_DAYS = 92, 184
#: Signed up 2022-03-01, never bought: no BTYD history at any cut-off.
NON_BUYERS = 60


@pytest.fixture(scope="module")
def tables() -> Tables:
    synthetic, _ = make_synthetic(1500)
    customers = synthetic.to_pandas("customers")
    extra = customers.head(NON_BUYERS).assign(
        customer_id=customers["customer_id"].max() + 1 + np.arange(NON_BUYERS),
        signup_date=pd.Timestamp("2022-03-01"),
    )
    return Tables(
        synthetic.to_pandas("transactions"),
        synthetic.to_pandas("interactions"),
        pd.concat([customers, extra], ignore_index=True),
    )


@pytest.fixture(scope="module")
def fitted(tables: Tables) -> Pipeline:
    return Pipeline(
        ["2022-10-01", "2023-01-01"],
        "3M",
        clv_horizon="6M",
        holdout=HOLDOUT,
        churn_model=ChurnModel(n_estimators=50, n_jobs=1),
        clv_model=CLVModel(n_estimators=50, n_jobs=1),
    ).fit(tables)


def test_a_value_at_a_threshold_goes_to_the_upper_level() -> None:
    """A value at a threshold stayed in the lower level."""
    levels = _levels(np.array([0.29, 0.3, 0.59, 0.6, 0.61]), (0.3, 0.6))
    assert levels.tolist() == ["low", "medium", "medium", "high", "high"]


def test_value_segments_are_clv_tertiles_of_the_holdout_customers(
    fitted: Pipeline, tables: Tables
) -> None:
    """Thresholds at the quartiles gave a quarter low, half medium and a quarter high."""
    scores = fitted.score(tables, HOLDOUT)
    shares = scores["value_segment"].value_counts(normalize=True)
    np.testing.assert_allclose(shares.reindex(["low", "medium", "high"]), 1 / 3, atol=0.005)


def test_expected_purchases_span_the_clv_horizon_not_the_churn_horizon(
    fitted: Pipeline, tables: Tables
) -> None:
    """They were predicted over the 3M churn window instead of the 6M CLV window."""
    snapshot = fitted.snapshot(tables, HOLDOUT)
    X = snapshot[fitted.feature_columns_]
    scores = fitted.score_snapshot(snapshot)
    expected = fitted.btyd_.predict_purchases(X, pd.Timedelta(days=CLV_DAYS))
    purchases = scores["expected_purchases"].to_numpy()
    np.testing.assert_allclose(purchases, expected.to_numpy(), rtol=1e-12)  # NaN: no history
    churn_window = fitted.btyd_.predict_purchases(X, pd.Timedelta(days=CHURN_DAYS)).to_numpy()
    buyers = ~np.isnan(purchases)
    assert buyers.sum() > 1000 and (purchases[buyers] > churn_window[buyers]).all()


def test_customers_without_purchases_count_as_churned_for_the_btyd_baseline(
    fitted: Pipeline, tables: Tables
) -> None:
    """In the BTYD chart their missing frequency crashed the fit; scored 0 instead of 1, they
    read as certain to stay, though none of them buys."""
    frame = build_training_frame(tables, [HOLDOUT], "3M", fitted.feature_spec())
    at_risk = frame[frame["churned"].notna()]
    no_history = at_risk["frequency"].isna()
    assert no_history.sum() >= NON_BUYERS and at_risk.loc[no_history, "churned"].all()
    p = fitted.btyd_.predict_no_purchase(at_risk, pd.Timedelta(days=CHURN_DAYS))
    assert p[no_history].isna().all() and p[~no_history].notna().all()
    expected = roc_auc_score(at_risk["churned"].astype(int), p.fillna(1.0))
    assert fitted.evaluation_.metric("btyd_p_no_purchase", "roc_auc") == pytest.approx(
        expected, rel=1e-12
    )
    chart = fitted.evaluation_.figures["holdout_transactions_by_frequency"]
    assert chart.axes[0].get_lines()  # drawn from the buyers alone


def test_a_pipeline_fitted_without_actions_plans_an_assumed_catalogue(
    fitted: Pipeline, tables: Tables
) -> None:
    """Planning needs no refit: assumed effects apply to any fitted pipeline; a learned one
    needs campaign history learned in training."""
    from cxml.actions import PLAN_COLUMNS, ActionPlan, Catalogue, CatalogueError

    catalogue = Catalogue.model_validate(
        {
            "budget": 50,
            "cooldown_days": {"email": 14},
            "catalogue": [
                {"name": "mail", "channel": "email", "cost": 1, "effect": {"churn_reduction": 0.1}}
            ],
        }
    )
    scores = fitted.with_actions(catalogue).score(tables, HOLDOUT)
    assert list(scores.columns[-len(PLAN_COLUMNS) :]) == list(PLAN_COLUMNS)
    plan = ActionPlan.from_scores(scores)
    assert plan.replanned and 0 < plan.totals["spend"] <= 50
    assert fitted.actions is None and "action" not in fitted.score(tables, HOLDOUT)
    mail = {**catalogue.catalogue[0].model_dump(), "effect": {"learned": "c1"}}
    learned = Catalogue.model_validate({**catalogue.model_dump(), "catalogue": [mail]})
    with pytest.raises(CatalogueError, match="trained without learned effects"):
        fitted.with_actions(learned)


def test_the_actions_section_is_not_a_setting_the_fitted_pipeline_keeps() -> None:
    """A config with another budget warned that it did not apply: it does (re-planned)."""
    import pickle

    from cxml.config import load_config
    from tests.conftest import ROOT

    path = ROOT / "configs" / "synthetic_retail.yaml"
    synthetic, _ = make_synthetic(300, seed=1)
    pipeline = pickle.loads(pickle.dumps(Pipeline.from_config(load_config(path), synthetic)))
    assert pipeline.actions == load_config(path).actions
    changed = load_config(
        path, ["actions.budget=0", "actions.catalogue[0].cost=1", "clv.discount_rate=0"]
    )
    assert pipeline.settings_unlike(changed) == ["clv.discount_rate"]
