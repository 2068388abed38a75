"""evaluate(): one tidy table of every model and baseline on the holdout, values equal to the
metric functions', interval metrics by hand, and figures only for what was given."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from cxml.errors import ParameterError
from cxml.evaluation import churn_metrics, clv_metrics, decile_table
from cxml.evaluation.holdout import TABLE_COLUMNS, BTYDCheck, Evaluation, evaluate

N = 400
CHURN_FIGURES = {"reliability_curve", "cumulative_gains"}
ALL_FIGURES = CHURN_FIGURES | {"clv_by_decile", "holdout_transactions_by_frequency"}


@pytest.fixture(scope="module")
def holdout():
    rng = np.random.default_rng(11)
    truth = rng.uniform(size=N)
    churned = (rng.uniform(size=N) < truth).astype(int)
    churn_scores = {
        "churn_model": np.clip(truth + rng.normal(0, 0.1, N), 0, 1),
        "recency": rng.uniform(size=N),
    }
    value = np.where(rng.uniform(size=N) < 0.4, rng.gamma(2.0, 40.0, N), 0.0)
    model = value * rng.uniform(0.5, 1.5, N) + rng.uniform(0, 10, N)
    # A baseline first: the decile chart must still show the model.
    clv_predictions = {"last_period": rng.permutation(value), "clv_model": model}
    intervals = {"clv_model": np.column_stack([np.maximum(model - 15, 0), model + 25])}
    check = BTYDCheck(
        calibration_frequency=rng.integers(0, 8, N),
        actual_transactions=rng.poisson(1.0, N),
        predicted_transactions=rng.gamma(2.0, 0.5, N),
    )
    return {
        "churned": churned,
        "churn_scores": churn_scores,
        "value": value,
        "clv_predictions": clv_predictions,
        "clv_intervals": intervals,
        "baselines": ("recency", "last_period"),
        "btyd_check": check,
    }


@pytest.fixture(scope="module")
def result(holdout):
    return evaluate(**holdout)


def metric_rows(table: pd.DataFrame, task: str, model: str) -> dict[str, float]:
    rows = table[(table["task"] == task) & (table["model"] == model)]
    return dict(zip(rows["metric"], rows["value"], strict=True))


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)


# --------------------------------------------------------------------------- the table


def test_table_has_tidy_columns_and_one_block_per_task_and_model(result):
    assert isinstance(result, Evaluation)
    table = result.table
    assert list(table.columns) == list(TABLE_COLUMNS)
    assert table["value"].dtype == np.float64
    blocks = table[["task", "model", "role"]].drop_duplicates()
    assert sorted(map(tuple, blocks.to_numpy())) == [
        ("churn", "churn_model", "model"),
        ("churn", "recency", "baseline"),
        ("clv", "clv_model", "model"),
        ("clv", "last_period", "baseline"),
    ]
    assert not table.duplicated(["task", "model", "metric"]).any()


@pytest.mark.parametrize("name", ["churn_model", "recency"])
def test_churn_values_equal_churn_metrics(result, holdout, name):
    expected = churn_metrics(holdout["churned"], holdout["churn_scores"][name])
    got = metric_rows(result.table, "churn", name)
    assert list(got) == list(expected)
    assert all(same(got[m], expected[m]) for m in expected), (got, expected)


def test_clv_values_equal_clv_metrics_plus_interval_metrics(result, holdout):
    for name, predicted in holdout["clv_predictions"].items():
        expected = clv_metrics(holdout["value"], predicted)
        got = metric_rows(result.table, "clv", name)
        interval_metrics = ["interval_coverage", "interval_mean_width"]
        assert list(got) == list(expected) + (interval_metrics if name == "clv_model" else [])
        assert all(same(got[m], expected[m]) for m in expected), (name, got, expected)


def test_interval_coverage_and_width_by_hand(result, holdout):
    y = holdout["value"]
    bounds = holdout["clv_intervals"]["clv_model"]
    inside = sum(lo <= v <= hi for v, (lo, hi) in zip(y, bounds, strict=True))
    width = sum(hi - lo for lo, hi in bounds) / len(bounds)
    got = metric_rows(result.table, "clv", "clv_model")
    assert got["interval_coverage"] == pytest.approx(inside / len(y), abs=1e-15)
    assert got["interval_mean_width"] == pytest.approx(width, rel=1e-12)
    assert 0 < got["interval_coverage"] < 1


def test_interval_ends_count_as_covered():
    value = np.array([0.0, 5.0, 10.0, 20.0])
    intervals = np.array([[0.0, 1.0], [5.0, 5.0], [2.0, 10.0], [21.0, 30.0]])
    table = evaluate(
        value=value,
        clv_predictions={"m": value},
        clv_intervals={"m": intervals},
        figures=False,
    ).table
    got = metric_rows(table, "clv", "m")
    assert got["interval_coverage"] == 0.75
    assert got["interval_mean_width"] == pytest.approx((1 + 0 + 8 + 9) / 4)


def test_only_churn_or_only_clv_gives_only_that_task(holdout):
    churn = evaluate(
        churned=holdout["churned"], churn_scores=holdout["churn_scores"], figures=False
    )
    assert set(churn.table["task"]) == {"churn"}
    clv = evaluate(
        value=holdout["value"], clv_predictions=holdout["clv_predictions"], figures=False
    )
    assert set(clv.table["task"]) == {"clv"}
    assert set(clv.table["role"]) == {"model"}  # no baselines named
    empty = evaluate(figures=False)
    assert empty.table.empty and list(empty.table.columns) == list(TABLE_COLUMNS)


def test_pandas_inputs_give_the_same_table(result, holdout):
    as_series = {
        **holdout,
        "churned": pd.Series(holdout["churned"]),
        "value": pd.Series(holdout["value"]),
        "churn_scores": {k: pd.Series(v) for k, v in holdout["churn_scores"].items()},
        "clv_predictions": {k: pd.Series(v) for k, v in holdout["clv_predictions"].items()},
    }
    table = evaluate(**as_series, figures=False).table
    pd.testing.assert_frame_equal(table, result.table)


def test_wide_has_one_row_per_model_and_one_column_per_metric(result):
    wide = result.wide()
    table = result.table
    assert wide.shape == (4, 3 + table["metric"].nunique())
    assert list(wide.columns[:3]) == ["task", "model", "role"]
    for row in table.itertuples():
        cell = wide.loc[(wide["task"] == row.task) & (wide["model"] == row.model), row.metric]
        assert len(cell) == 1 and same(float(cell.iloc[0]), row.value)
    # Metrics a model does not have are missing, not zero.
    churn_row = wide[wide["model"] == "churn_model"].iloc[0]
    assert math.isnan(churn_row["normalized_gini"])
    assert math.isnan(wide.loc[wide["model"] == "last_period", "interval_coverage"].iloc[0])


def test_wide_keeps_a_metric_that_is_nan_for_every_model():
    """A holdout where everyone churned has no ROC AUC; the column stays, as NaN."""
    churned = np.ones(20, dtype=bool)
    scores = {"a": np.linspace(0.1, 0.9, 20), "b": np.linspace(0.9, 0.1, 20)}
    wide = evaluate(churned=churned, churn_scores=scores, baselines=["b"], figures=False).wide()
    assert list(wide["model"]) == ["a", "b"] and list(wide["role"]) == ["model", "baseline"]
    assert wide["roc_auc"].isna().all()
    assert wide["brier"].notna().all()


# --------------------------------------------------------------------------- figures


def test_no_clv_decile_chart_below_ten_customers():
    """Like decile MAPE (NaN below ten customers), the chart is left out, not an error."""
    value, predicted = np.arange(8.0), np.arange(8.0) + 1
    result = evaluate(value=value, clv_predictions={"clv": predicted})
    assert result.figures == {}
    assert math.isnan(metric_rows(result.table, "clv", "clv")["decile_mape"])


def test_every_figure_when_everything_is_given(result):
    assert set(result.figures) == ALL_FIGURES
    assert all(isinstance(fig, Figure) for fig in result.figures.values())


def test_no_btyd_chart_without_btyd_check(holdout):
    given = {k: v for k, v in holdout.items() if k != "btyd_check"}
    assert set(evaluate(**given).figures) == ALL_FIGURES - {"holdout_transactions_by_frequency"}


def test_no_figures_when_switched_off(holdout):
    assert evaluate(**holdout, figures=False).figures == {}


def test_churn_only_draws_churn_figures(holdout):
    drawn = evaluate(churned=holdout["churned"], churn_scores=holdout["churn_scores"]).figures
    assert set(drawn) == CHURN_FIGURES


def test_clv_decile_chart_needs_a_model_not_only_baselines(holdout):
    drawn = evaluate(
        value=holdout["value"],
        clv_predictions={"last_period": holdout["clv_predictions"]["last_period"]},
        baselines=["last_period"],
    ).figures
    assert drawn == {}


def test_clv_decile_chart_shows_the_first_model_not_a_baseline(result, holdout):
    ax = result.figures["clv_by_decile"].axes[0]
    predicted_bars = ax.containers[0]
    expected = decile_table(holdout["value"], holdout["clv_predictions"]["clv_model"])
    np.testing.assert_allclose(
        [bar.get_height() for bar in predicted_bars], expected["mean_predicted"], rtol=1e-12
    )


# --------------------------------------------------------------------------- errors


def test_baseline_names_without_predictions_are_rejected(holdout):
    with pytest.raises(ParameterError, match="typo"):
        evaluate(
            churned=holdout["churned"],
            churn_scores=holdout["churn_scores"],
            baselines=["recency", "typo"],
        )


def test_intervals_for_names_without_clv_predictions_are_rejected(holdout):
    n = len(holdout["value"])
    with pytest.raises(ParameterError, match="ghost"):
        evaluate(
            value=holdout["value"],
            clv_predictions=holdout["clv_predictions"],
            clv_intervals={"ghost": np.zeros((n, 2))},
        )
    # A churn model's name is no CLV prediction either: the interval would be dropped.
    with pytest.raises(ParameterError, match="churn_model"):
        evaluate(
            churned=holdout["churned"],
            churn_scores=holdout["churn_scores"],
            value=holdout["value"],
            clv_predictions=holdout["clv_predictions"],
            clv_intervals={"churn_model": np.zeros((n, 2))},
            figures=False,
        )


@pytest.mark.parametrize(
    "given",
    [
        {"churned": [0, 1]},
        {"churn_scores": {"m": [0.1, 0.9]}},
        {"value": [1.0, 2.0]},
        {"clv_predictions": {"m": [1.0, 2.0]}},
    ],
)
def test_labels_and_predictions_come_together(given):
    with pytest.raises(ParameterError, match="both or neither"):
        evaluate(**given, figures=False)


@pytest.mark.parametrize(
    "bounds",
    [
        lambda lo, hi: np.column_stack([lo, hi, hi]),  # three columns
        lambda lo, hi: np.column_stack([lo, hi])[:-1],  # one row short
        lambda lo, hi: hi,  # one-dimensional
        lambda lo, hi: np.column_stack([lo, hi]).T,  # transposed
        lambda lo, hi: np.column_stack([lo, np.where(np.arange(len(hi)) == 3, np.nan, hi)]),
    ],
)
def test_malformed_intervals_are_rejected(holdout, bounds):
    value = holdout["value"]
    interval = bounds(np.zeros_like(value), value + 1)
    with pytest.raises(ParameterError, match="clv_intervals"):
        evaluate(
            value=value,
            clv_predictions={"m": value},
            clv_intervals={"m": interval},
            figures=False,
        )


def test_lower_end_above_upper_end_is_rejected(holdout):
    value = holdout["value"]
    interval = np.column_stack([value + 1, value + 2])
    interval[7] = [5.0, 4.0]
    with pytest.raises(ParameterError, match="lower end above its upper end"):
        evaluate(
            value=value,
            clv_predictions={"m": value},
            clv_intervals={"m": interval},
            figures=False,
        )
