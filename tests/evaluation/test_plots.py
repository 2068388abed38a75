"""Evaluation figures: the right artists, labelled axes, the input data read back, PNG output."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from cxml.errors import ParameterError
from cxml.evaluation.plots import (
    clv_by_decile,
    cumulative_gains,
    holdout_transactions_by_frequency,
    reliability_curve,
)


@pytest.fixture
def churn():
    rng = np.random.default_rng(2)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    return y, p


def only_axes(fig: Figure):
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    return ax


def renders_png(fig: Figure) -> bool:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue().startswith(b"\x89PNG")


def test_reliability_curve_draws_one_line_per_model_plus_diagonal(churn):
    y, p = churn
    fig = reliability_curve(y, {"model": p, "squared": p**2}, n_bins=5)
    ax = only_axes(fig)
    lines = ax.get_lines()
    assert len(lines) == 3
    np.testing.assert_array_equal(lines[0].get_xydata(), [[0, 0], [1, 1]])
    assert ax.get_xlabel() == "Mean predicted churn probability"
    assert ax.get_ylabel() == "Observed churn rate"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[1].startswith("model (ECE ") and legend[2].startswith("squared (ECE ")
    assert renders_png(fig)


def test_reliability_points_are_bin_means_of_the_inputs(churn):
    y, p = churn
    line = reliability_curve(y, {"model": p}, n_bins=4).axes[0].get_lines()[1]
    expected_x, expected_y = [], []
    for b in range(4):
        members = [i for i in range(len(p)) if b / 4 <= p[i] < (b + 1) / 4]
        expected_x.append(np.mean(p[members]))
        expected_y.append(np.mean(y[members]))
    np.testing.assert_allclose(line.get_xdata(), expected_x)
    np.testing.assert_allclose(line.get_ydata(), expected_y)


def test_reliability_curve_leaves_out_empty_bins():
    fig = reliability_curve([0, 1, 1], {"model": [0.05, 0.95, 0.9]}, n_bins=10)
    line = fig.axes[0].get_lines()[1]
    np.testing.assert_allclose(line.get_xdata(), [0.05, 0.925])
    np.testing.assert_allclose(line.get_ydata(), [0.0, 1.0])


def test_cumulative_gains_draws_random_perfect_and_each_model(churn):
    y, p = churn
    fig = cumulative_gains(y, {"model": p, "recency rule": 1 - p})
    ax = only_axes(fig)
    _, perfect, model, rule = ax.get_lines()
    assert [line.get_label() for line in ax.get_lines()] == [
        "random",
        "perfect",
        "model",
        "recency rule",
    ]
    assert ax.get_xlabel() == "Share of customers targeted"
    assert ax.get_ylabel() == "Share of churners caught"
    order = sorted(range(len(y)), key=lambda i: -p[i])
    caught = np.cumsum([0] + [y[i] for i in order]) / y.sum()
    np.testing.assert_allclose(model.get_xdata(), np.arange(len(y) + 1) / len(y))
    np.testing.assert_allclose(model.get_ydata(), caught)
    # The perfect curve reaches 1 once every churner is targeted.
    np.testing.assert_allclose(perfect.get_ydata()[y.sum()], 1.0)
    assert rule.get_ydata()[0] == 0.0 and rule.get_ydata()[-1] == 1.0
    assert renders_png(fig)


def test_cumulative_gains_of_tied_scores_is_the_straight_average_in_any_row_order():
    # All 10 scores tie and 4 customers churned: every order of the ties averages to the
    # diagonal, k / 10 of the churners after k customers.
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    for rows in (y, y[::-1]):
        fig = cumulative_gains(rows, {"constant": np.full(10, 0.5)})
        _, _, constant = only_axes(fig).get_lines()
        np.testing.assert_allclose(constant.get_ydata(), np.arange(11) / 10, atol=1e-12)


def test_clv_by_decile_draws_paired_bars_of_decile_means():
    pred = np.arange(20, dtype=float)
    actual = 3 * pred
    fig = clv_by_decile(actual, pred)
    ax = only_axes(fig)
    predicted_bars, actual_bars = ax.containers
    assert len(predicted_bars) == 10 and len(actual_bars) == 10
    assert [bar.get_height() for bar in predicted_bars] == [18.5 - 2 * k for k in range(10)]
    assert [bar.get_height() for bar in actual_bars] == [3 * (18.5 - 2 * k) for k in range(10)]
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in range(1, 11)]
    assert ax.get_xlabel().startswith("Predicted-value decile")
    assert ax.get_ylabel() == "Mean value per customer"
    assert renders_png(fig)


def test_holdout_chart_plots_group_means_with_pooled_last_label():
    rng = np.random.default_rng(4)
    frequency = rng.poisson(2.5, size=400)
    actual = rng.poisson(frequency * 0.8)
    predicted = frequency * 0.75 + 0.1
    fig = holdout_transactions_by_frequency(frequency, actual, predicted, max_frequency=5)
    ax = only_axes(fig)
    actual_line, predicted_line = ax.get_lines()
    assert actual_line.get_label() == "actual" and predicted_line.get_label() == "predicted"
    expected_actual, expected_predicted = [], []
    for k in range(6):
        members = [i for i in range(400) if (frequency[i] >= 5 if k == 5 else frequency[i] == k)]
        expected_actual.append(np.mean(actual[members]))
        expected_predicted.append(np.mean(predicted[members]))
    np.testing.assert_array_equal(actual_line.get_xdata(), range(6))
    np.testing.assert_allclose(actual_line.get_ydata(), expected_actual)
    np.testing.assert_allclose(predicted_line.get_ydata(), expected_predicted)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2", "3", "4", "5+"]
    assert ax.get_xlabel() == "Repeat purchases in calibration period"
    assert ax.get_ylabel() == "Mean transactions in holdout period"
    assert renders_png(fig)


def test_holdout_chart_shows_empty_groups_as_gaps():
    fig = holdout_transactions_by_frequency([0, 3], [1, 2], [1.5, 2.5], max_frequency=3)
    y = fig.axes[0].get_lines()[0].get_ydata()
    assert y[0] == 1 and math.isnan(y[1]) and math.isnan(y[2]) and y[3] == 2
    assert renders_png(fig)


@pytest.mark.parametrize("predictions", [{}, [0.1, 0.2]])
def test_model_mappings_must_be_non_empty_dicts(predictions):
    with pytest.raises(ParameterError, match="mapping of model name"):
        reliability_curve([0, 1], predictions)
    with pytest.raises(ParameterError, match="mapping of model name"):
        cumulative_gains([0, 1], predictions)


def test_figures_do_not_register_with_pyplot(churn):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    y, p = churn
    reliability_curve(y, {"model": p})
    cumulative_gains(y, {"model": p})
    assert plt.get_fignums() == before


def test_the_reliability_legend_ece_uses_the_bins_asked_for():
    """One bin: |0.5 - 0.2| = 0.300 (ten bins would give 0.450)."""
    figure = reliability_curve([0, 1, 0, 1], {"m": [0.05, 0.15, 0.25, 0.35]}, n_bins=1)
    assert figure.axes[0].get_legend().get_texts()[1].get_text() == "m (ECE 0.300)"


def test_the_reliability_points_follow_the_binning_strategy():
    from cxml.evaluation import calibration_table

    rng = np.random.default_rng(2)
    p = rng.uniform(size=200) ** 3
    y = (rng.uniform(size=200) < p).astype(int)
    figure = reliability_curve(y, {"m": p}, n_bins=4, strategy="quantile")
    expected = calibration_table(y, p, n_bins=4, strategy="quantile")["mean_predicted"]
    np.testing.assert_allclose(figure.axes[0].get_lines()[1].get_xdata(), expected)
