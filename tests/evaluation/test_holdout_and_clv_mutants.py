"""Edge cases of decile MAPE and of `evaluate` that a mutation audit found untested: the sign
of a decile's mean, the mean over deciles, ten customers, the wide table's order and which
BTYD series is which."""

from __future__ import annotations

import numpy as np
import pytest

from cxml.evaluation import churn_metrics, decile_mape
from cxml.evaluation.holdout import BTYDCheck, evaluate


def test_decile_mape_of_a_negative_mean_is_a_positive_error() -> None:
    """Dividing by the signed mean made a 50 % error on returns (-10 each) read -50 %."""
    assert decile_mape([-10.0] * 10, [-5.0] * 10) == pytest.approx(0.5)
    # One decile -10 predicted -5 (50 %), one 10 predicted 12 (20 %), the rest exact.
    actual = [10.0] * 9 + [-10.0]
    predicted = [12.0, *[10.0] * 8, -5.0]
    assert decile_mape(actual, predicted) == pytest.approx((0.5 + 0.2) / 10)


def test_decile_mape_is_the_mean_not_the_median_of_the_decile_errors() -> None:
    """One decile 90 % off and nine exact is a MAPE of 9 %; the median read 0."""
    predicted = [float(v) for v in range(1, 11)]
    actual = [1.0 / 1.9, *predicted[1:]]  # the lowest prediction, 1, is 0.9 above 1/1.9
    assert decile_mape(actual, predicted) == pytest.approx(0.09)


def test_the_clv_decile_chart_is_drawn_for_exactly_ten_customers() -> None:
    """Like decile MAPE, the chart needs ten customers, not more than ten."""
    value = np.arange(10.0)
    figures = evaluate(value=value, clv_predictions={"clv": value + 1}).figures
    assert set(figures) == {"clv_by_decile"}
    bars = figures["clv_by_decile"].axes[0].containers[0]
    assert [bar.get_height() for bar in bars] == [10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]


def test_wide_keeps_the_models_and_the_metrics_in_the_order_given() -> None:
    """Without the reindex, models and metric columns came out sorted by name."""
    churned = np.array([0, 1] * 10)
    p = np.linspace(0.1, 0.9, 20)
    wide = evaluate(churned=churned, churn_scores={"z": p, "a": p[::-1]}, figures=False).wide()
    assert list(wide["model"]) == ["z", "a"]
    assert list(wide.columns) == ["task", "model", "role", *churn_metrics(churned, p)]


def test_the_btyd_chart_draws_actual_as_actual_and_predicted_as_predicted() -> None:
    """Swapped arguments drew the predicted transactions under the label "actual"."""
    check = BTYDCheck(
        calibration_frequency=[0, 1], actual_transactions=[1.0, 2.0], predicted_transactions=[5, 6]
    )
    figure = evaluate(churned=[0, 1], churn_scores={"m": [0.2, 0.7]}, btyd_check=check).figures[
        "holdout_transactions_by_frequency"
    ]
    lines = {line.get_label(): line.get_ydata() for line in figure.axes[0].get_lines()}
    np.testing.assert_array_equal(lines["actual"][:2], [1.0, 2.0])
    np.testing.assert_array_equal(lines["predicted"][:2], [5.0, 6.0])
