"""CLV metrics checked against Lorenz-curve loops, hand-computed tables and known properties."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.errors import ParameterError
from cxml.evaluation import (
    clv_metrics,
    decile_mape,
    decile_table,
    holdout_by_frequency,
    normalized_gini,
)

KEYS = {
    "normalized_gini",
    "spearman",
    "decile_mape",
    "mae",
    "rmse",
    "aggregate_error",
    "sum_pred",
    "sum_actual",
    "n",
}


# --- brute-force references ------------------------------------------------------------------


def lorenz_gini(actual, score):
    """Area between the Lorenz curve and the diagonal, by loops.

    Customers are taken by descending score; a group of tied scores is one straight segment
    (it holds the group's total, spread evenly), and the area is summed trapezoid by
    trapezoid.
    """
    n, total = len(actual), sum(actual)
    groups = {}
    for a, s in zip(actual, score, strict=True):
        groups.setdefault(s, []).append(a)
    area, x, y = 0.0, 0.0, 0.0
    for s in sorted(groups, reverse=True):
        width = len(groups[s]) / n
        height = sum(groups[s]) / total
        area += width * (y + y + height) / 2
        x, y = x + width, y + height
    return area - 0.5


def kaggle_gini(actual, pred):
    """The widely used Kaggle formula (valid without ties in `pred`)."""
    n = len(actual)
    order = sorted(range(n), key=lambda i: -pred[i])
    cumulative, running = 0.0, 0.0
    for i in order:
        running += actual[i]
        cumulative += running / sum(actual)
    return cumulative / n - (n + 1) / (2 * n)


def brute_spearman(a, b):
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        result = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                result[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return result

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


@pytest.fixture
def values():
    rng = np.random.default_rng(11)
    actual = np.where(rng.uniform(size=500) < 0.4, 0.0, rng.gamma(1.5, 40.0, size=500))
    predicted = 0.7 * actual + rng.gamma(2.0, 10.0, size=500)
    return actual, predicted


# --- normalized Gini -------------------------------------------------------------------------


def test_gini_matches_lorenz_loop_and_kaggle_formula(values):
    actual, predicted = values
    expected = kaggle_gini(actual, predicted) / kaggle_gini(actual, actual)
    assert normalized_gini(actual, predicted) == pytest.approx(expected)
    loop = lorenz_gini(actual, predicted) / lorenz_gini(actual, actual)
    assert normalized_gini(actual, predicted) == pytest.approx(loop)


def test_gini_with_tied_predictions_matches_lorenz_loop(values):
    actual, predicted = values
    coarse = np.round(predicted, -1)  # heavy ties
    expected = lorenz_gini(actual, coarse) / lorenz_gini(actual, actual)
    assert normalized_gini(actual, coarse) == pytest.approx(expected)


def test_gini_hand_computed_on_four_customers():
    actual = [0, 10, 30, 60]
    # Predicted order 60, 10, 30, 0: Lorenz points (.25,.6) (.5,.7) (.75,1) (1,1).
    pred = [1, 3, 2, 4]
    area = 0.25 * (0 + 0.6) / 2 + 0.25 * (0.6 + 0.7) / 2 + 0.25 * (0.7 + 1) / 2 + 0.25
    best = 0.25 * 0.6 / 2 + 0.25 * (0.6 + 0.9) / 2 + 0.25 * (0.9 + 1) / 2 + 0.25
    assert normalized_gini(actual, pred) == pytest.approx((area - 0.5) / (best - 0.5))


def test_perfect_ranking_gives_one_and_reversed_gives_minus_one(values):
    actual, _ = values
    assert normalized_gini(actual, actual) == pytest.approx(1.0)
    assert normalized_gini(actual, -actual) == pytest.approx(-1.0)


def test_random_predictions_give_gini_near_zero():
    rng = np.random.default_rng(5)
    actual = rng.gamma(1.0, 50.0, size=20_000)
    assert abs(normalized_gini(actual, rng.uniform(size=actual.size))) < 0.03


def test_constant_prediction_gives_exactly_zero(values):
    actual, _ = values
    assert normalized_gini(actual, np.full(actual.size, 3.0)) == pytest.approx(0.0, abs=1e-12)


def test_gini_ignores_strictly_increasing_transforms(values):
    actual, predicted = values
    g = normalized_gini(actual, predicted)
    assert normalized_gini(actual, np.log(predicted)) == pytest.approx(g)
    assert normalized_gini(actual, 5 * predicted**3 - 2) == pytest.approx(g)
    assert normalized_gini(actual, pd.Series(predicted).rank()) == pytest.approx(g)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5).map(float), st.integers(0, 3).map(float)),
        min_size=2,
        max_size=40,
    ),
    st.randoms(use_true_random=False),
)
def test_gini_does_not_depend_on_row_order_even_with_ties(rows, rnd):
    actual = [a for a, _ in rows]
    pred = [p for _, p in rows]
    g = normalized_gini(actual, pred)
    shuffled = rows[:]
    rnd.shuffle(shuffled)
    g2 = normalized_gini([a for a, _ in shuffled], [p for _, p in shuffled])
    if math.isnan(g):
        assert math.isnan(g2)
    else:
        assert g2 == pytest.approx(g, abs=1e-12)
        assert -1 - 1e-12 <= g <= 1 + 1e-12
        assert g == pytest.approx(lorenz_gini(actual, pred) / lorenz_gini(actual, actual))


@pytest.mark.parametrize("actual", [[0.0] * 5, [7.0] * 5])
def test_gini_is_nan_when_truth_has_no_spread(actual):
    assert math.isnan(normalized_gini(actual, [1, 2, 3, 4, 5]))


# --- decile table and decile MAPE --------------------------------------------------------------


def test_decile_table_groups_by_descending_prediction():
    pred = np.arange(20, dtype=float)  # 0 .. 19
    actual = 2 * pred + 1
    table = decile_table(actual, pred)
    assert table["decile"].tolist() == list(range(1, 11))
    assert table["n"].tolist() == [2] * 10
    # Decile 1 = predictions 19 and 18; decile 10 = 1 and 0.
    assert table["mean_predicted"].tolist() == [18.5 - 2 * k for k in range(10)]
    assert table["mean_actual"].tolist() == [38.0 - 4 * k for k in range(10)]
    assert table["sum_predicted"].tolist() == [37.0 - 4 * k for k in range(10)]
    assert table["sum_actual"].sum() == actual.sum()


def test_decile_table_uneven_counts_give_first_deciles_one_more(values):
    actual, predicted = values
    table = decile_table(actual[:103], predicted[:103])
    assert table["n"].tolist() == [11, 11, 11] + [10] * 7
    assert table["sum_actual"].sum() == pytest.approx(actual[:103].sum())
    assert (np.diff(table["mean_predicted"]) <= 0).all()


def test_decile_table_averages_over_every_order_of_tied_predictions():
    """Ties were split by row order: a constant prediction put the first rows' actual
    values in decile 1."""
    table = decile_table(list(range(10)), [1.0] * 10, n=5)
    assert table["mean_actual"].tolist() == [4.5] * 5
    predicted = np.array([3.0, 2.0, 2.0, 2.0, 1.0, 1.0])
    actual = np.array([5.0, 0.0, 1.0, 8.0, 2.0, 4.0])
    orders = list(itertools.permutations(range(6)))
    brute = []
    for perm in orders:  # every row order, of which the ties' orders are what differs
        p = list(perm)
        brute.append(decile_table_by_row_order(actual[p], predicted[p], 4))
    expected = np.mean(brute, axis=0)
    for perm in orders[:: len(orders) // 7]:
        p = list(perm)
        table = decile_table(actual[p], predicted[p], n=4)
        np.testing.assert_allclose(table["mean_actual"], expected, rtol=1e-12)
    assert decile_table(actual, predicted, n=4)["sum_actual"].sum() == actual.sum()


def decile_table_by_row_order(actual: np.ndarray, predicted: np.ndarray, n: int) -> list[float]:
    """Mean actual value per group, ties in row order (a stable descending sort)."""
    ranked = actual[np.argsort(-predicted, kind="stable")]
    return [float(g.mean()) for g in np.array_split(ranked, n)]


def test_decile_mape_equals_explicit_loop_and_skips_zero_actual_deciles():
    pred = [float(v) for v in range(30)]
    actual = [0.0] * 3 + [float(v) * 1.5 for v in range(3, 30)]  # lowest decile has no value
    order = sorted(range(30), key=lambda i: -pred[i])
    errors = []
    for d in range(10):
        members = order[3 * d : 3 * d + 3]
        mean_p = sum(pred[i] for i in members) / 3
        mean_a = sum(actual[i] for i in members) / 3
        if mean_a != 0:
            errors.append(abs(mean_p - mean_a) / mean_a)
    assert len(errors) == 9
    assert decile_mape(actual, pred) == pytest.approx(sum(errors) / 9)
    assert clv_metrics(actual, pred)["decile_mape"] == pytest.approx(sum(errors) / 9)


def test_decile_mape_of_exact_predictions_is_zero(values):
    actual, _ = values
    assert decile_mape(actual, actual) == 0.0


# --- the full metric dict ----------------------------------------------------------------------


def test_clv_metrics_hand_computed():
    actual = [10.0, 0.0, 30.0, 20.0]
    pred = [12.0, 4.0, 24.0, 20.0]
    m = clv_metrics(actual, pred)
    assert set(m) == KEYS
    assert m["mae"] == pytest.approx((2 + 4 + 6 + 0) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((4 + 16 + 36 + 0) / 4))
    assert m["sum_pred"] == 60.0 and m["sum_actual"] == 60.0
    assert m["aggregate_error"] == 0.0
    assert m["spearman"] == pytest.approx(1.0)
    assert m["normalized_gini"] == pytest.approx(1.0)
    assert math.isnan(m["decile_mape"])  # fewer than 10 customers
    assert m["n"] == 4


def test_aggregate_error_is_relative_difference_of_sums(values):
    actual, predicted = values
    m = clv_metrics(actual, predicted)
    assert m["aggregate_error"] == pytest.approx((predicted.sum() - actual.sum()) / actual.sum())
    assert clv_metrics(actual, actual * 1.25)["aggregate_error"] == pytest.approx(0.25)


def test_spearman_equals_pearson_of_average_ranks(values):
    actual, predicted = values  # actual has many tied zeros
    assert clv_metrics(actual, predicted)["spearman"] == pytest.approx(
        brute_spearman(actual.tolist(), predicted.tolist())
    )


def test_all_zero_truth_gives_nan_ratios_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = clv_metrics(np.zeros(12), np.arange(12.0))
    assert math.isnan(m["normalized_gini"])
    assert math.isnan(m["spearman"])
    assert math.isnan(m["aggregate_error"])
    assert math.isnan(m["decile_mape"])
    assert m["mae"] == pytest.approx(5.5)


def test_series_input_is_aligned_by_position(values):
    actual, predicted = values
    shuffled_index = pd.Series(predicted, index=np.arange(len(predicted))[::-1])
    assert clv_metrics(pd.Series(actual), shuffled_index) == pytest.approx(
        clv_metrics(actual, predicted), nan_ok=True
    )


@pytest.mark.parametrize(
    ("actual", "pred", "match"),
    [
        ([1.0, 2.0], [1.0], r"y_true has 2, y_pred has 1"),
        ([1.0, np.inf], [1.0, 2.0], r"y_true has 1 NaN or infinite"),
        ([1.0, 2.0], [np.nan, 2.0], r"y_pred has 1 NaN"),
        ([], [], r"empty"),
    ],
)
def test_bad_inputs_raise_parameter_error(actual, pred, match):
    with pytest.raises(ParameterError, match=match):
        clv_metrics(actual, pred)


def test_decile_table_needs_a_customer_per_group():
    with pytest.raises(ParameterError, match="10 groups need at least 10 customers, got 9"):
        decile_table(range(9), range(9))


# --- holdout transactions by calibration frequency ----------------------------------------------


def test_holdout_by_frequency_pools_the_top_group():
    frequency = [0, 0, 1, 2, 3, 5, 9]
    actual = [0, 1, 1, 2, 4, 3, 8]
    predicted = [0.2, 0.4, 1.1, 1.5, 3.0, 4.0, 6.0]
    table = holdout_by_frequency(frequency, actual, predicted, max_frequency=3)
    assert table["frequency"].tolist() == [0, 1, 2, 3]
    assert table["label"].tolist() == ["0", "1", "2", "3+"]
    assert table["n"].tolist() == [2, 1, 1, 3]
    assert table["mean_actual"].tolist() == pytest.approx([0.5, 1.0, 2.0, 5.0])
    assert table["mean_predicted"].tolist() == pytest.approx([0.3, 1.1, 1.5, 13 / 3])


def test_holdout_by_frequency_empty_group_is_nan():
    table = holdout_by_frequency([0, 2], [1, 2], [1, 2], max_frequency=2)
    assert table["n"].tolist() == [1, 0, 1]
    assert math.isnan(table["mean_actual"][1]) and math.isnan(table["mean_predicted"][1])


@pytest.mark.parametrize(
    ("frequency", "kwargs", "match"),
    [
        ([0, -1], {}, "non-negative whole numbers"),
        ([0, 1.5], {}, "non-negative whole numbers"),
        ([0, 1], {"max_frequency": 0}, "at least 1"),
        ([0, 1], {"max_frequency": 2.0}, "integer"),
    ],
)
def test_holdout_by_frequency_rejects_bad_frequencies(frequency, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        holdout_by_frequency(frequency, [1, 1], [1, 1], **kwargs)


def test_decile_mape_is_reported_for_exactly_ten_customers():
    """Guards against reporting NaN when there are exactly as many customers as deciles."""
    actual = [float(v) for v in range(1, 11)]
    pred = [a * 1.1 for a in actual]  # every one-customer decile is 10 % too high
    m = clv_metrics(actual, pred)
    assert m["decile_mape"] == pytest.approx(0.1)
    assert decile_mape(actual, pred) == pytest.approx(0.1)
    assert math.isnan(clv_metrics(actual[:9], pred[:9])["decile_mape"])
