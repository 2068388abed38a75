"""Churn metrics checked against hand-computed values, brute-force loops and known properties."""

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
    calibration_table,
    churn_metrics,
    expected_calibration_error,
    gains_curve,
    lift_and_capture,
)

KEYS = {
    "roc_auc",
    "pr_auc",
    "log_loss",
    "brier",
    "ece",
    "lift_top_decile",
    "capture_top_decile",
    "base_rate",
    "n",
}


# --- brute-force references, written as directly from the definitions as possible ---------


def brute_roc_auc(y, p):
    """Share of (churner, stayer) pairs ordered correctly, ties counting one half."""
    pos = [pi for yi, pi in zip(y, p, strict=True) if yi == 1]
    neg = [pi for yi, pi in zip(y, p, strict=True) if yi == 0]
    wins = 0.0
    for a in pos:
        for b in neg:
            wins += 1.0 if a > b else 0.5 if a == b else 0.0
    return wins / (len(pos) * len(neg))


def brute_average_precision(y, p):
    """Mean precision at the rank of each churner (untied scores)."""
    ranked = sorted(zip(p, y, strict=True), key=lambda pair: -pair[0])
    hits, total = 0, 0.0
    for rank, (_, label) in enumerate(ranked, start=1):
        if label == 1:
            hits += 1
            total += hits / rank
    return total / hits


def brute_ece_uniform(y, p, n_bins):
    n = len(y)
    ece = 0.0
    for b in range(n_bins):
        lower, upper = b / n_bins, (b + 1) / n_bins
        members = [
            i for i in range(n) if lower <= p[i] < upper or (b == n_bins - 1 and p[i] == 1.0)
        ]
        if not members:
            continue
        rate = sum(y[i] for i in members) / len(members)
        confidence = sum(p[i] for i in members) / len(members)
        ece += len(members) / n * abs(rate - confidence)
    return ece


def brute_expected_caught(y, score, k):
    """Expected churners among the top k when tied scores are taken in a random order.

    By symmetry each of the m customers tied at a score is equally likely to fill each of
    the places left once the a customers scored higher are taken: probability
    clip((k - a) / m, 0, 1) of being targeted.
    """
    caught = 0.0
    for i in range(len(y)):
        higher = sum(1 for s in score if s > score[i])
        tied = sum(1 for s in score if s == score[i])
        caught += y[i] * min(max((k - higher) / tied, 0.0), 1.0)
    return caught


def permutation_average_caught(y, score, k):
    """Churners among the top k by a stable sort, averaged over every order of the rows."""
    rows = list(range(len(y)))
    totals = [
        sum(y[i] for i in sorted(order, key=lambda i: -score[i])[:k])
        for order in itertools.permutations(rows)
    ]
    return sum(totals) / len(totals)


def brute_top_decile(y, score):
    n = len(y)
    k = math.ceil(n / 10)
    caught = brute_expected_caught(y, score, k)
    base = sum(y) / n
    return (caught / k) / base, caught / sum(y)


@pytest.fixture
def simulated():
    rng = np.random.default_rng(7)
    p = rng.uniform(0.01, 0.99, size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    return y, p


# --- hand-computed values ------------------------------------------------------------------


def test_tiny_example_matches_hand_computed_values():
    y = [0, 0, 1, 1]
    p = [0.1, 0.4, 0.35, 0.8]
    m = churn_metrics(y, p, n_bins=2)
    # Pairs (churner, stayer): (.35,.1) ok, (.35,.4) wrong, (.8,.1) ok, (.8,.4) ok.
    assert m["roc_auc"] == pytest.approx(3 / 4)
    # Ranked .8(1) .4(0) .35(1) .1(0): precision 1/1 at first churner, 2/3 at second.
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert m["log_loss"] == pytest.approx(
        -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    )
    # Bin [0, .5): p .1 .4 .35, one churner -> |1/3 - .85/3|; bin [.5, 1]: p .8, churned.
    assert m["ece"] == pytest.approx(3 / 4 * abs(1 / 3 - 0.85 / 3) + 1 / 4 * 0.2)
    # ceil(4 / 10) = 1 customer targeted: the .8 churner. Lift 1 / 0.5, capture 1 / 2.
    assert m["lift_top_decile"] == pytest.approx(2.0)
    assert m["capture_top_decile"] == pytest.approx(0.5)
    assert m["base_rate"] == 0.5
    assert m["n"] == 4
    assert set(m) == KEYS


def test_metrics_accept_series_lists_and_bools_alike(simulated):
    y, p = simulated
    from_arrays = churn_metrics(y, p)
    from_series = churn_metrics(pd.Series(y.astype(bool)), pd.Series(p, index=y * 10 + 3))
    assert from_series == pytest.approx(from_arrays)
    assert churn_metrics(y.tolist(), p.tolist()) == pytest.approx(from_arrays)


# --- agreement with brute-force definitions ------------------------------------------------


def test_roc_auc_equals_pairwise_concordance(simulated):
    y, p = simulated
    p = np.round(p, 2)  # force ties, which count one half
    assert churn_metrics(y, p)["roc_auc"] == pytest.approx(brute_roc_auc(y, p))


def test_pr_auc_equals_mean_precision_at_each_churner(simulated):
    y, p = simulated
    assert churn_metrics(y, p)["pr_auc"] == pytest.approx(brute_average_precision(y, p))


def test_brier_and_log_loss_equal_their_sums(simulated):
    y, p = simulated
    m = churn_metrics(y, p)
    squared = [(pi - yi) ** 2 for yi, pi in zip(y, p, strict=True)]
    assert m["brier"] == pytest.approx(sum(squared) / len(y))
    expected = -sum(
        math.log(pi) if yi else math.log(1 - pi) for yi, pi in zip(y, p, strict=True)
    ) / len(y)
    assert m["log_loss"] == pytest.approx(expected)


@pytest.mark.parametrize("n_bins", [1, 5, 10, 15])
def test_ece_equals_explicit_loop_over_equal_width_bins(simulated, n_bins):
    y, p = simulated
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(
        brute_ece_uniform(y, p, n_bins)
    )


def test_top_decile_lift_and_capture_equal_explicit_sort(simulated):
    y, p = simulated
    m = churn_metrics(y, p)
    lift, capture = brute_top_decile(y, p)
    assert m["lift_top_decile"] == pytest.approx(lift)
    assert m["capture_top_decile"] == pytest.approx(capture)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.floats(0.0, 1.0)),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 12),
)
def test_ece_and_lift_match_brute_force_on_arbitrary_inputs(rows, n_bins):
    y = [int(label) for label, _ in rows]
    p = [prob for _, prob in rows]
    assert expected_calibration_error(y, p, n_bins=n_bins) == pytest.approx(
        brute_ece_uniform(y, p, n_bins), abs=1e-12
    )
    if sum(y):
        assert lift_and_capture(y, p) == pytest.approx(brute_top_decile(y, p))


# --- calibration: known behaviour ----------------------------------------------------------


def test_calibrated_predictor_has_near_zero_ece_and_squared_one_does_not():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=100_000)
    y = rng.uniform(size=p.size) < p
    for strategy in ("uniform", "quantile"):
        assert expected_calibration_error(y, p, strategy=strategy) < 0.02
        # E|p - p^2| = 1/6 for uniform p.
        assert expected_calibration_error(y, p**2, strategy=strategy) > 0.15


def test_constant_prediction_ece_is_gap_to_base_rate():
    y = [1, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert expected_calibration_error(y, [0.5] * 10) == pytest.approx(0.3)
    assert expected_calibration_error(y, [0.5] * 10, strategy="quantile") == pytest.approx(0.3)


def test_quantile_bins_hold_equal_counts_for_distinct_probabilities():
    p = np.random.default_rng(3).permutation(np.arange(1, 101) / 101)
    y = np.zeros(100)
    table = calibration_table(y, p, n_bins=10, strategy="quantile")
    assert table["n"].tolist() == [10] * 10
    assert (np.diff(table["mean_predicted"]) > 0).all()


def test_calibration_table_bins_partition_customers(simulated):
    y, p = simulated
    table = calibration_table(y, p, n_bins=7)
    assert table["n"].sum() == len(y)
    assert list(table.columns) == [
        "bin",
        "lower",
        "upper",
        "n",
        "mean_predicted",
        "observed_rate",
    ]
    filled = table[table["n"] > 0]
    assert (filled["mean_predicted"] >= filled["lower"]).all()
    assert (filled["mean_predicted"] <= filled["upper"]).all()


def test_probability_one_lands_in_last_bin_and_empty_bins_are_nan():
    table = calibration_table([1, 1], [1.0, 0.95], n_bins=4)
    assert table["n"].tolist() == [0, 0, 0, 2]
    assert table["mean_predicted"].iloc[:3].isna().all()


# --- lift and capture ------------------------------------------------------------------------


def test_perfect_ranking_lift_is_inverse_base_rate_when_churners_fill_the_decile():
    y = np.r_[np.ones(30), np.zeros(70)]
    lift, capture = lift_and_capture(y, y)
    assert lift == pytest.approx(1 / 0.3)
    assert capture == pytest.approx(10 / 30)


def test_perfect_ranking_lift_is_capped_at_ten_when_churners_are_rare():
    y = np.r_[np.ones(4), np.zeros(96)]
    lift, capture = lift_and_capture(y, y)
    # All 4 churners in the top 10: rate .4 over base rate .04.
    assert lift == pytest.approx(10.0)
    assert capture == 1.0


def test_top_decile_takes_ceil_of_a_tenth_and_averages_over_tie_orders():
    # 11 customers -> ceil(1.1) = 2 targeted; all scores tie, so on average 2 x 2/11
    # churners are caught: capture 2/11 of the 2, lift exactly 1, whatever the row order.
    y = [1, 0] + [0] * 8 + [1]
    for rows in (y, y[::-1], sorted(y), sorted(y, reverse=True)):
        lift, capture = lift_and_capture(rows, [0.5] * 11)
        assert capture == pytest.approx(2 / 11)
        assert lift == pytest.approx(1.0)


def test_lift_counts_customers_above_the_cut_and_a_share_of_those_tied_at_it():
    # k = ceil(.4 x 5) = 2: the .9 stayer, then 1 of the 3 customers tied at .5, one of whom
    # churned: 1/3 churner expected. Capture (1/3) / 2, lift (1/3 / 2) / (2/5).
    y = [0, 1, 0, 0, 1]
    for order in itertools.permutations(range(5)):
        rows = list(order)
        lift, capture = lift_and_capture(
            np.take(y, rows), np.take([0.9, 0.5, 0.5, 0.5, 0.1], rows), fraction=0.4
        )
        assert capture == pytest.approx(1 / 6)
        assert lift == pytest.approx(5 / 12)


def test_constant_predictor_gets_lift_one_in_any_row_order():
    """The auditor's case: churners first gave lift 1.667, churners last 0."""
    y = np.array([1, 1, 1, 0, 0] * 4)
    rng = np.random.default_rng(0)
    orders = [np.argsort(-y, kind="stable"), np.argsort(y, kind="stable")]
    orders += [rng.permutation(len(y)) for _ in range(20)]
    for order in orders:
        m = churn_metrics(y[order], np.full(len(y), 0.5))
        assert m["lift_top_decile"] == pytest.approx(1.0)
        assert m["capture_top_decile"] == pytest.approx(2 / 20)


@pytest.mark.parametrize("seed", range(6))
def test_lift_capture_and_gains_equal_the_average_over_every_row_order(seed):
    rng = np.random.default_rng(seed)
    n = 7
    y = rng.integers(0, 2, n)
    y[0] = 1
    score = rng.choice([0.2, 0.5, 0.8], n)  # few levels: many ties
    for fraction in (0.1, 0.3, 0.5, 0.8):
        k = math.ceil(round(fraction * n, 9))
        caught = permutation_average_caught(y, score, k)
        assert brute_expected_caught(y, score, k) == pytest.approx(caught)
        lift, capture = lift_and_capture(y, score, fraction=fraction)
        assert capture == pytest.approx(caught / y.sum())
        assert lift == pytest.approx((caught / k) / (y.sum() / n))
    _, captured = gains_curve(y, score)
    expected = [permutation_average_caught(y, score, k) / y.sum() for k in range(n + 1)]
    np.testing.assert_allclose(captured, expected, rtol=1e-12, atol=1e-12)


def test_gains_curve_draws_tied_customers_as_one_straight_segment():
    # .9 (churner), then .5 x 3 (one churner), then .1 (churner): 3 churners.
    targeted, captured = gains_curve([1, 0, 1, 0, 1], [0.9, 0.5, 0.5, 0.5, 0.1])
    np.testing.assert_allclose(targeted, [0, 0.2, 0.4, 0.6, 0.8, 1])
    np.testing.assert_allclose(captured, [0, 1 / 3, 4 / 9, 5 / 9, 2 / 3, 1])


def test_lift_and_capture_ignore_monotone_transforms_of_the_score(simulated):
    y, p = simulated
    assert lift_and_capture(y, p) == pytest.approx(lift_and_capture(y, np.log(p) * 3 + 1))


def test_lift_fraction_one_is_exactly_one(simulated):
    y, p = simulated
    assert lift_and_capture(y, p, fraction=1.0) == pytest.approx((1.0, 1.0))


def test_gains_curve_runs_from_origin_to_one_and_matches_cumulative_sum():
    y = [0, 1, 1, 0]
    targeted, captured = gains_curve(y, [0.9, 0.8, 0.1, 0.2])
    np.testing.assert_allclose(targeted, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(captured, [0, 0, 0.5, 0.5, 1])


# --- degenerate inputs -----------------------------------------------------------------------


@pytest.mark.parametrize("label", [0, 1])
def test_single_class_gives_nan_auc_without_warning_or_error(label):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = churn_metrics([label] * 20, np.linspace(0.05, 0.95, 20))
    assert math.isnan(m["roc_auc"])
    assert m["base_rate"] == label
    assert math.isfinite(m["brier"]) and math.isfinite(m["log_loss"]) and math.isfinite(m["ece"])
    if label == 0:
        assert math.isnan(m["pr_auc"])
        assert math.isnan(m["lift_top_decile"]) and math.isnan(m["capture_top_decile"])
    else:
        assert m["pr_auc"] == pytest.approx(1.0)
        assert m["lift_top_decile"] == 1.0


def test_confidently_wrong_probabilities_give_finite_clipped_log_loss():
    m = churn_metrics([0, 1], [1.0, 0.0])
    # Both predictions sit at the clipping bound, 1e-15 from the truth (up to float rounding).
    assert m["log_loss"] == pytest.approx(-(math.log(1e-15) + math.log(1 - (1 - 1e-15))) / 2)
    assert m["brier"] == 1.0


# --- input validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "p", "match"),
    [
        ([0, 1, 1], [0.1, np.nan, 0.3], r"p_pred has 1 NaN.*position\(s\) \[1\]"),
        ([0, 1, 1], [0.1, 1.2, 0.3], r"p_pred must be probabilities in \[0, 1\]"),
        ([0, 1, 1], [-0.1, 0.2, 0.3], r"p_pred must be probabilities"),
        ([0, 1], [0.1, 0.2, 0.3], r"y_true has 2, p_pred has 3"),
        ([0, 2, 1], [0.1, 0.2, 0.3], r"0/1 .* found \[2.0\]"),
        ([0, np.nan, 1], [0.1, 0.2, 0.3], r"y_true has 1 NaN"),
        ([], [], r"y_true is empty"),
        ([0, 1], [[0.9, 0.1], [0.2, 0.8]], r"proba\[:, 1\]"),
        ([0, 1], ["a", "b"], r"p_pred must be a 1-D array of numbers"),
    ],
)
def test_bad_inputs_raise_parameter_error_naming_the_problem(y, p, match):
    with pytest.raises(ParameterError, match=match):
        churn_metrics(y, p)


def test_nullable_series_with_missing_value_is_rejected():
    p = pd.Series([0.1, None, 0.3], dtype="Float64")
    with pytest.raises(ParameterError, match="p_pred has 1 NaN"):
        churn_metrics([0, 1, 0], p)


@pytest.mark.parametrize("kwargs", [{"n_bins": 0}, {"n_bins": 2.5}, {"strategy": "width"}])
def test_bad_binning_raises_parameter_error(kwargs):
    with pytest.raises(ParameterError):
        churn_metrics([0, 1], [0.2, 0.7], **kwargs)


def test_lift_rejects_fraction_outside_unit_interval():
    with pytest.raises(ParameterError, match="fraction"):
        lift_and_capture([0, 1], [0.2, 0.7], fraction=0)


def test_a_fraction_smaller_than_one_customer_targets_the_top_one():
    """fraction * n rounded up to 0 customers: a division by zero."""
    assert lift_and_capture([1, 0, 0], [0.9, 0.1, 0.2], fraction=1e-10) == pytest.approx((3.0, 1.0))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.floats(0.0, 1.0)), min_size=1, max_size=80))
def test_metrics_stay_in_their_ranges(rows):
    y = [int(label) for label, _ in rows]
    p = [prob for _, prob in rows]
    m = churn_metrics(y, p)
    assert 0.0 <= m["ece"] <= 1.0
    assert 0.0 <= m["brier"] <= 1.0
    assert m["log_loss"] >= 0.0
    if sum(y):
        assert 0.0 <= m["capture_top_decile"] <= 1.0
        assert m["lift_top_decile"] * m["base_rate"] <= 1.0 + 1e-12
    if 0 < sum(y) < len(y):
        assert 0.0 <= m["roc_auc"] <= 1.0


def test_many_tied_scores_give_the_average_over_random_tie_orders():
    """Cuts inside runs of 60 and 80 tied scores, checked against the symmetry formula and
    against the mean of a stable sort over many random row orders."""
    rng = np.random.default_rng(0)
    score = rng.permutation(np.repeat([0.9, 0.5, 0.1], [60, 80, 60]))
    y = (rng.random(200) < 0.3).astype(int)
    draws = [rng.permutation(200) for _ in range(3000)]
    for fraction, k in ((0.1, 20), (0.45, 90)):
        caught = brute_expected_caught(y, score, k)
        lift, capture = lift_and_capture(y, score, fraction=fraction)
        assert capture == pytest.approx(caught / y.sum())
        assert lift == pytest.approx((caught / k) / (y.sum() / 200))
        sampled = np.array([y[o][np.argsort(-score[o], kind="stable")[:k]].sum() for o in draws])
        assert abs(sampled.mean() - caught) < 4 * sampled.std() / np.sqrt(len(draws))
        shuffled = draws[0]
        assert lift_and_capture(y[shuffled], score[shuffled], fraction=fraction) == (lift, capture)
    targeted, captured = gains_curve(y, score)
    expected = [brute_expected_caught(y, score, k) / y.sum() for k in range(201)]
    np.testing.assert_allclose(captured, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(targeted, np.arange(201) / 200)


def test_a_probability_on_a_bin_edge_falls_in_the_upper_bin():
    """0.5 is the lower edge of the bin [0.5, 0.6), as the docstring says."""
    table = calibration_table([0, 1, 0], [0.5, 0.2, 0.0], n_bins=10)
    assert (table.loc[5, "n"], table.loc[4, "n"], table.loc[2, "n"]) == (1, 0, 1)


def test_float_noise_in_fraction_times_n_adds_no_customer():
    """0.07 * 100 is 7.000000000000001 in floating point: still 7 customers."""
    y = [1] * 8 + [0] * 92
    assert lift_and_capture(y, np.linspace(1, 0, 100), fraction=0.07)[1] == pytest.approx(7 / 8)


def test_a_boolean_number_of_bins_is_refused():
    with pytest.raises(ParameterError):
        calibration_table([0, 1], [0.2, 0.8], n_bins=True)


def test_gains_without_churners_are_undefined():
    _, captured = gains_curve([0, 0, 0], [0.1, 0.2, 0.3])
    assert np.isnan(captured).all()


def test_pr_auc_with_a_single_churner_ranked_first_is_one():
    assert churn_metrics([0, 1, 0], [0.1, 0.9, 0.2])["pr_auc"] == 1.0
