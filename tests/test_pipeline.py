"""The whole chain on real data: the CDNOW backtest of the models issue, and scoring."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

from cxml.data import Tables
from cxml.datasets import load_cdnow
from cxml.errors import SnapshotError
from cxml.evaluation import churn_metrics, clv_metrics
from cxml.features import build_labels
from cxml.pipeline import LEVELS, SCORE_COLUMNS, Pipeline, _formatted

HOLDOUT = "1998-01-01"
#: Label windows [cut-off, cut-off + 6 months) end 1997-10-01 and 1998-01-01: never past
#: the holdout cut-off. The holdout window [1998-01-01, 1998-07-01) ends with the data.
CUTOFFS = ("1997-04-01", "1997-07-01")
HORIZON = "6M"


@pytest.fixture(scope="module")
def cdnow() -> Tables:
    return load_cdnow()


@pytest.fixture(scope="module")
def fitted(cdnow: Tables) -> Pipeline:
    return Pipeline(CUTOFFS, HORIZON, holdout=HOLDOUT).fit(cdnow)


def test_cdnow_backtest_models_beat_their_baselines(fitted: Pipeline) -> None:
    wide = fitted.evaluation_.wide()
    print("\n" + wide.round(4).to_string())
    auc = {m: fitted.evaluation_.metric(m, "roc_auc") for m in ("churn_model", "recency_rule")}
    auc["btyd"] = fitted.evaluation_.metric("btyd_p_no_purchase", "roc_auc")
    assert auc["churn_model"] > auc["recency_rule"]
    assert auc["churn_model"] > auc["btyd"]
    for metric in ("normalized_gini", "spearman"):
        assert fitted.evaluation_.metric("clv_hybrid", metric) > fitted.evaluation_.metric(
            "btyd_clv", metric
        )


def test_cdnow_evaluation_scores_every_model_on_the_same_holdout(
    fitted: Pipeline, cdnow: Tables
) -> None:
    labels = build_labels(cdnow, HOLDOUT, HORIZON)
    table = fitted.evaluation_.table
    assert set(table["model"]) == {
        "churn_model",
        "recency_rule",
        "btyd_p_no_purchase",
        "clv_hybrid",
        "btyd_clv",
        "last_period_value",
    }
    assert set(table.loc[table["role"] == "model", "model"]) == {"churn_model", "clv_hybrid"}
    assert len(labels) == 23_570
    assert (table.loc[table["metric"] == "n", "value"] == len(labels)).all()
    base_rate = table.loc[table["metric"] == "base_rate", "value"]
    assert np.allclose(base_rate, labels["churned"].mean())
    sums = table.loc[table["metric"] == "sum_actual", "value"]
    assert np.allclose(sums, labels["future_value"].sum())
    assert set(fitted.evaluation_.figures) == {
        "reliability_curve",
        "cumulative_gains",
        "clv_by_decile",
        "holdout_transactions_by_frequency",
    }


def test_baseline_metrics_match_an_independent_computation(fitted: Pipeline, cdnow: Tables) -> None:
    # The last-period baseline is the value in [1997-07-01, 1998-01-01), from the raw table.
    labels = build_labels(cdnow, HOLDOUT, HORIZON)
    lines = cdnow.to_pandas("transactions")
    window = lines[
        (lines["timestamp"] >= "1997-07-01") & (lines["timestamp"] < HOLDOUT) & ~lines["is_return"]
    ]
    # In whole cents: the decimal sums, as cxml adds them (a float sum can split a tie).
    cents = (window["amount"] * 100).round().astype("int64")
    last = cents.groupby(window["customer_id"]).sum().reindex(labels.index, fill_value=0) / 100
    expected = clv_metrics(labels["future_value"], last)
    for metric in ("normalized_gini", "spearman", "mae"):
        assert fitted.evaluation_.metric("last_period_value", metric) == pytest.approx(
            expected[metric]
        )
    # The recency rule ranks exactly like days since the last purchase.
    snapshot_rank = churn_metrics(
        labels["churned"].astype(float),
        _recency_score(lines, labels.index),
    )["roc_auc"]
    assert fitted.evaluation_.metric("recency_rule", "roc_auc") == pytest.approx(
        snapshot_rank, abs=1e-12
    )


def _recency_score(lines: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    before = lines[lines["timestamp"] < HOLDOUT]
    last = before.groupby("customer_id")["timestamp"].max().reindex(ids)
    days = (pd.Timestamp(HOLDOUT) - last.dt.floor("D")).dt.days.to_numpy(dtype=float)
    return days / days.max()


def test_intervals_cover_close_to_nominal_on_cdnow(fitted: Pipeline) -> None:
    coverage = fitted.evaluation_.metric("clv_hybrid", "interval_coverage")
    assert 0.75 <= coverage <= 0.87


def test_scores_one_row_per_customer_and_deterministic(fitted: Pipeline, cdnow: Tables) -> None:
    scores = fitted.score(cdnow, HOLDOUT)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert len(scores) == 23_570
    assert scores["customer_id"].is_unique
    assert scores[list(SCORE_COLUMNS[1:7])].notna().all().all()
    assert scores["churn_probability"].between(0, 1).all()
    assert (scores["clv_lower"] <= scores["clv"]).all()
    assert (scores["clv"] <= scores["clv_upper"]).all()
    assert (scores["clv_lower"] >= 0).all()
    assert set(scores["value_segment"]) == set(LEVELS)
    assert set(scores["risk_segment"]) <= set(LEVELS)
    high = scores["risk_segment"] == "high"
    assert (scores.loc[high, "churn_probability"] >= 0.6).all()
    assert scores.loc[high, "churn_drivers"].str.contains(" = ").all()
    again = fitted.score(cdnow, HOLDOUT)
    pd.testing.assert_frame_equal(scores, again)


def test_scores_are_the_models_own_predictions_and_their_top_drivers_as_text(
    fitted: Pipeline, cdnow: Tables
) -> None:
    snapshot = fitted.snapshot(cdnow, HOLDOUT)
    X = snapshot[fitted.feature_columns_]
    scores = fitted.score_snapshot(snapshot)
    expected = fitted.churn_model_.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(scores["churn_probability"].to_numpy(), expected)
    np.testing.assert_array_equal(scores["clv"].to_numpy(), fitted.clv_model_.predict(X))
    names, strengths = fitted.churn_model_.top_drivers(X, 3)

    def text(value: object) -> str:
        if pd.isna(value):
            return "none"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    drivers = [
        "; ".join(
            f"{name.replace('_', ' ')} = {text(X.at[row, name])}"
            for name, strength in zip(names.loc[row], strengths.loc[row], strict=True)
            if strength > 0
        )
        for row in X.index
    ]
    assert scores["churn_drivers"].tolist() == drivers


def test_formatted_values_have_three_significant_digits_or_read_none() -> None:
    floats = np.array([1234.5, -0.0, 0.0, np.nan, 1234.5, 0.000123456])
    assert _formatted(floats).tolist() == ["1.23e+03", "-0", "0", "none", "1.23e+03", "0.000123"]
    categories = pd.Series(pd.Categorical(["a", None, "b", "a"])).to_numpy()
    assert _formatted(categories).tolist() == ["a", "none", "b", "a"]
    assert _formatted(np.array([True, False, True])).tolist() == ["True", "False", "True"]


def test_scores_ignore_events_after_the_as_of_date(fitted: Pipeline, cdnow: Tables) -> None:
    lines = cdnow.to_pandas("transactions")
    extra = lines.sample(500, random_state=0).assign(
        timestamp=pd.Timestamp("1998-03-01"), amount=999.0
    )
    grown = Tables(pd.concat([lines, extra], ignore_index=True), duplicates="keep")
    as_of = "1998-02-01"
    pd.testing.assert_frame_equal(fitted.score(cdnow, as_of), fitted.score(grown, as_of))


def test_training_windows_must_end_before_the_holdout(cdnow: Tables) -> None:
    with pytest.raises(SnapshotError, match=r"1997-08-01.*end after the holdout"):
        Pipeline(["1997-04-01", "1997-08-01"], HORIZON, holdout=HOLDOUT).fit(cdnow)


def test_evaluate_at_the_holdout_repeats_the_fit_evaluation(
    fitted: Pipeline, cdnow: Tables
) -> None:
    again = fitted.evaluate(cdnow, HOLDOUT).wide()
    before = fitted.evaluation_.wide()
    pd.testing.assert_frame_equal(again, before)


def test_evaluate_refuses_a_cut_off_whose_outcomes_the_models_saw(
    fitted: Pipeline, cdnow: Tables
) -> None:
    """At a training cut-off the figures are in-sample: they must not pass for a holdout."""
    with pytest.raises(SnapshotError, match=r"end after the holdout cut-off 1997-07-01"):
        fitted.evaluate(cdnow, CUTOFFS[-1])


def test_evaluate_needs_a_fitted_pipeline(cdnow: Tables) -> None:
    with pytest.raises(NotFittedError, match="not fitted"):
        Pipeline(CUTOFFS, HORIZON).evaluate(cdnow, HOLDOUT)


def test_a_pipeline_pickled_before_actions_existed_still_scores(
    fitted: Pipeline, cdnow: Tables
) -> None:
    old = pickle.loads(pickle.dumps(fitted))
    for name in ("actions", "uplift_model", "uplift_", "uplift_report_", "rules_", "plan_"):
        old.__dict__.pop(name, None)  # the state of a pipeline saved by an earlier cxml
    revived = pickle.loads(pickle.dumps(old))
    assert revived.actions is None
    pd.testing.assert_frame_equal(
        revived.score(cdnow, HOLDOUT).head(50), fitted.score(cdnow, HOLDOUT).head(50)
    )


def test_event_churn_leaves_customers_who_cancelled_to_the_churned_and_learns_from_the_rest():
    """A customer who cancelled before the cut-off was labelled "retained" at every later
    cut-off and scored as the safest of all (subscription.yaml: 0.023 against 0.109)."""
    from cxml.data.engine import collect
    from cxml.datasets import make_synthetic
    from cxml.features import build_training_frame

    tables, _ = make_synthetic(2000, 5, cancellations=True)
    pipeline = Pipeline(
        ["2023-04-01", "2023-06-01"], "3M", holdout="2023-10-01", churn_event="cancellation"
    ).fit(tables)
    ix = collect(tables.interactions)
    cancelled = ix[ix["event_type"] == "cancellation"].groupby("customer_id")["timestamp"].min()
    frame = build_training_frame(tables, ["2023-10-01"], "3M", churn_event="cancellation")
    gone = (cancelled.reindex(frame.index) < pd.Timestamp("2023-10-01")).to_numpy()
    assert gone.sum() > 100 and frame["churned"].isna().to_numpy().tolist() == gone.tolist()
    table = pipeline.evaluation_.wide().set_index("model")
    assert table.loc["churn_model", "n"] == len(frame) - gone.sum()  # customers at risk only
    assert table.loc["clv_hybrid", "n"] == len(frame)  # value: everyone
    scores = pipeline.score(tables, "2024-01-01").set_index("customer_id")
    assert scores.index.is_unique and len(scores) == len(pipeline.snapshot(tables, "2024-01-01"))
    gone = (cancelled.reindex(scores.index) < pd.Timestamp("2024-01-01")).to_numpy()
    assert (scores.loc[gone, ["churn_probability", "p_alive"]] == [1.0, 0.0]).all().all()
    assert (scores.loc[gone, "risk_segment"] == "high").all()
    assert scores.loc[gone, "churn_drivers"].str.startswith("churned already").all()
    assert not scores.loc[~gone, "churn_drivers"].str.startswith("churned already").any()


@pytest.mark.parametrize("column", ["days_since_contact_email", "clv"])
def test_a_customers_column_named_like_a_column_the_plan_adds_is_refused(column: str) -> None:
    """The planning frame adds the scores and the days since the last contact per channel:
    a customers column 'days_since_contact_email' crashed scoring (exit 1), and one named
    'clv' was silently replaced by the score."""
    from cxml.actions import Catalogue
    from cxml.errors import DataValidationError

    tx = pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": pd.Timestamp("2023-01-01"), "amount": 5.0}
    )
    customers = pd.DataFrame({"customer_id": [1, 2], column: [3.0, 4.0]})
    tables = Tables(tx, customers=customers)
    catalogue = {
        "budget": 10,
        "catalogue": [
            {
                "name": "mail",
                "channel": "email",
                "cost": 1,
                "eligible": "clv > 0",
                "effect": {"churn_reduction": 0.1},
            }
        ],
    }
    pipeline = Pipeline(["2023-02-01"], "30D", actions=Catalogue.model_validate(catalogue))
    rule = rf"table 'customers', column '{column}': the name of a score or contact column"
    with pytest.raises(DataValidationError, match=rule):
        pipeline.check_inputs(tables)
    with pytest.raises(DataValidationError, match=rule):
        pipeline.snapshot(tables, "2023-02-01")


def test_a_holdout_where_every_customer_churned_is_refused() -> None:
    """Transactions cut short: everyone 'churned' after their end, and `cxml train`
    registered a champion whose holdout ROC AUC, Gini and Spearman were all NaN."""
    import warnings

    from cxml.data import DataQualityWarning
    from cxml.datasets import make_synthetic_frames

    frames, _ = make_synthetic_frames(1500, seed=1)
    tx = frames["transactions"][frames["transactions"]["timestamp"] < "2023-09-01"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        tables = Tables(tx, frames["interactions"], frames["customers"])
    pipeline = Pipeline(["2023-03-01"], "3M", holdout="2023-10-01")
    with pytest.raises(
        SnapshotError,
        match=r"at the evaluation cut-off 2023-10-01 all \d+ customers at risk churned: ROC AUC",
    ):
        pipeline.fit(tables)


def test_a_pipeline_names_the_config_settings_that_differ_from_its_own() -> None:
    """Scoring with a config whose horizon or action budget changed silently used the
    model's: `settings_unlike` names them (the CLI warns with it)."""
    from cxml.config import load_config
    from cxml.datasets import make_synthetic
    from tests.conftest import ROOT

    path = ROOT / "configs" / "synthetic_retail.yaml"
    config = load_config(path)
    tables, _ = make_synthetic(300, seed=1)
    pipeline = pickle.loads(pickle.dumps(Pipeline.from_config(config, tables)))
    assert pipeline.settings_unlike(config) == []
    changed = load_config(path, ["actions.budget=0", "churn.horizon=1M", "features.windows=[30]"])
    # The CLV horizon follows the churn horizon when the config does not set it; the
    # actions are planning settings, which scoring applies (Pipeline.with_actions).
    expected = ["churn.horizon", "clv.horizon", "features"]
    assert pipeline.settings_unlike(changed) == expected
    event = load_config(path, ["churn.definition=event", "churn.event_type=cancellation"])
    assert pipeline.settings_unlike(event) == ["churn.definition/event_type"]


def _small_pipeline(horizon, unit: str, holdout: str) -> Pipeline:
    from cxml.features import FeatureSpec
    from cxml.models import ChurnModel, CLVModel

    return Pipeline(
        ["2023-01-01", "2023-04-01", "2023-07-01"],
        horizon,
        holdout=holdout,
        features=FeatureSpec(time_unit=unit, windows=(30, 90)),
        churn_model=ChurnModel(n_estimators=50, n_jobs=1),
        clv_model=CLVModel(n_estimators=50, n_jobs=1),
    )


def test_a_bare_number_horizon_is_days_for_the_btyd_parts_whatever_the_time_unit() -> None:
    """With weekly BTYD columns, horizon=90 predicted over 90 weeks (labels: 90 days)."""
    from cxml.datasets import make_synthetic

    tables, _ = make_synthetic(1500, seed=7)
    figures = []
    for horizon, unit in ((90, "W"), ("90D", "D")):
        pipeline = _small_pipeline(horizon, unit, "2023-10-01").fit(tables)
        evaluation = pipeline.evaluation_
        scores = pipeline.score(tables, "2024-01-01")
        figures.append(
            [
                evaluation.metric("btyd_clv", "sum_pred"),
                evaluation.metric("btyd_p_no_purchase", "log_loss"),
                scores["expected_purchases"].mean(),
            ]
        )
    np.testing.assert_allclose(figures[0], figures[1], rtol=1e-9)


def test_btyd_baselines_predict_over_the_label_windows_exact_calendar_length() -> None:
    """'1M' from 1998-02-01 is 28 days of labels; BTYD predicted over 30.44 days."""
    from cxml.features import FeatureSpec, build_training_frame

    tables = load_cdnow(sample=True)
    pipeline = _small_pipeline("1M", "W", "1998-02-01")
    pipeline.cutoffs = ["1997-10-01", "1997-11-01"]
    pipeline.fit(tables)
    holdout = build_training_frame(tables, ["1998-02-01"], "1M", FeatureSpec(time_unit="W"))
    clv = pipeline.btyd_.predict_clv(holdout, pd.Timedelta(days=28)).fillna(0.0).sum()
    assert pipeline.evaluation_.metric("btyd_clv", "sum_pred") == pytest.approx(clv, rel=1e-12)
    months = pipeline.btyd_.predict_clv(holdout, "1M").fillna(0.0).sum()
    assert abs(months / clv - 1) > 0.05  # the nominal month would be 30.44 days


def test_a_btyd_model_without_spend_is_refused_before_training_when_a_holdout_needs_it() -> None:
    """It failed in the holdout evaluation, after every model had trained."""
    from cxml.errors import ParameterError
    from cxml.models import BTYDModel

    pipeline = Pipeline(["1997-04-01"], "13W", holdout="1998-01-01")
    pipeline.btyd_model = BTYDModel(spend=None)
    with pytest.raises(ParameterError, match=r"clv_model=CLVModel\(spend=None\)"):
        pipeline.fit(load_cdnow(sample=True))
