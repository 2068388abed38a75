"""Baselines: the recency rule as probabilities, and last period's value as a CLV forecast,
checked against direct computations on the raw tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from cxml.data import Tables
from cxml.datasets import load_cdnow, make_synthetic
from cxml.errors import DataValidationError, ParameterError
from cxml.features import FeatureSpec, build_training_frame
from cxml.models.baselines import RecencyBaseline, last_period_value

SPEC = FeatureSpec(groups=("recency",))


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow(sample=True)


@pytest.fixture(scope="module")
def churn_frames(cdnow):
    train = build_training_frame(cdnow, ["1997-04-01", "1997-07-01", "1997-10-01"], "13W", SPEC)
    holdout = build_training_frame(cdnow, ["1998-01-01"], "13W", SPEC)
    return train, holdout


@pytest.fixture(scope="module")
def recency(churn_frames):
    train, _ = churn_frames
    return RecencyBaseline().fit(train, train["churned"])


# --------------------------------------------------------------------------- RecencyBaseline


def test_probabilities_rank_customers_exactly_like_raw_recency(recency, churn_frames):
    _, holdout = churn_frames
    p = recency.predict_proba(holdout)[:, 1]
    assert recency.model_.coef_[0, 0] > 0  # longer lapsed, likelier to churn
    assert roc_auc_score(holdout["churned"], p) == pytest.approx(
        roc_auc_score(holdout["churned"], holdout["days_since_last_purchase"]), abs=1e-12
    )
    # Monotone: sorting by recency sorts the probabilities.
    order = np.argsort(holdout["days_since_last_purchase"].to_numpy(), kind="stable")
    assert np.all(np.diff(p[order]) >= 0)


def test_probabilities_are_a_logistic_curve_in_log_recency(recency, churn_frames):
    train, holdout = churn_frames
    direct = LogisticRegression().fit(
        np.log1p(train[["days_since_last_purchase"]].to_numpy()), train["churned"]
    )
    np.testing.assert_allclose(
        recency.predict_proba(holdout),
        direct.predict_proba(np.log1p(holdout[["days_since_last_purchase"]].to_numpy())),
        rtol=1e-10,
    )


def test_probability_rows_sum_to_one_and_classes_follow_the_labels(recency, churn_frames):
    _, holdout = churn_frames
    proba = recency.predict_proba(holdout)
    assert proba.shape == (len(holdout), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(recency.classes_, [False, True])
    np.testing.assert_array_equal(recency.predict(holdout), proba[:, 1] >= 0.5)
    assert recency.predict(holdout).any()


def test_customers_without_purchases_rank_with_the_longest_lapsed_training_customer():
    train = pd.DataFrame({"days_since_last_purchase": [1.0, 5, 20, 60, 200, 300, np.nan, 10]})
    churned = [0, 0, 1, 0, 1, 1, 1, 0]
    model = RecencyBaseline().fit(train, churned)
    assert model.model_.coef_[0, 0] > 0
    assert model.fill_days_ == 300.0
    # Within the training data they have the highest churn probability, tied with 300 days.
    p_train = model.predict_proba(train)[:, 1]
    assert p_train[6] == p_train[5] == p_train.max()
    # Later snapshots can hold customers lapsed for longer than anyone at training time:
    # they rank above those without purchases, who still count as lapsed for 300 days.
    new = pd.DataFrame({"days_since_last_purchase": [np.nan, 3.0, 500.0, 900.0, np.nan, 300.0]})
    p = model.predict_proba(new)[:, 1]
    assert p[0] == p[4] == p[5]
    assert p[3] > p[2] > p[0] > p[1]


def test_a_customer_without_purchases_scores_alone_as_in_any_batch():
    """The auditor's case: 0.869 alone, 0.986 beside a customer lapsed for 3000 days."""
    train = pd.DataFrame({"days_since_last_purchase": [5.0, 40.0, 100.0, 300.0, np.nan]})
    churned = [0, 0, 1, 1, 1]
    model = RecencyBaseline().fit(train, churned)
    # The fill is the longest training lapse, 300 days: a logistic fit on log(1 + days).
    direct = LogisticRegression().fit(np.log1p([[5.0], [40.0], [100.0], [300.0], [300.0]]), churned)
    expected = direct.predict_proba(np.log1p([[300.0]]))[0, 1]
    batches = ([np.nan], [np.nan, 3000.0], [3000.0, np.nan, 1.0], [np.nan, np.nan])
    for days in batches:
        X = pd.DataFrame({"days_since_last_purchase": days})
        p = model.predict_proba(X)[:, 1]
        assert p[np.isnan(days)] == pytest.approx(expected, rel=1e-12)


def test_ranking_with_missing_recency_is_the_rule_with_missing_as_longest_lapsed():
    rng = np.random.default_rng(4)

    def draw(n: int, scale: float) -> tuple[pd.DataFrame, np.ndarray]:
        days = rng.exponential(scale, n)
        churned = rng.random(n) < days / (days + 60)
        days[rng.random(n) < 0.1] = np.nan
        churned[np.isnan(days)] = rng.random(np.isnan(days).sum()) < 0.9
        return pd.DataFrame({"days_since_last_purchase": days}), churned

    train, y_train = draw(2000, 50)
    holdout, y_holdout = draw(2000, 120)  # lapsed for longer than at training time
    p = RecencyBaseline().fit(train, y_train).predict_proba(holdout)[:, 1]
    days = holdout["days_since_last_purchase"]
    # Tied with the longest-lapsed customer in training, whatever the holdout holds.
    rule = days.fillna(train["days_since_last_purchase"].max())
    assert days.max() > train["days_since_last_purchase"].max()
    assert roc_auc_score(y_holdout, p) == pytest.approx(roc_auc_score(y_holdout, rule), abs=1e-12)


def test_nullable_recency_columns_are_accepted():
    train = pd.DataFrame(
        {"days_since_last_purchase": pd.array([1, 5, 20, None, 200, 300], dtype="Int64")}
    )
    model = RecencyBaseline().fit(train, [0, 0, 1, 1, 1, 1])
    p = model.predict_proba(train)[:, 1]
    assert np.all(np.isfinite(p))
    assert p[3] == p.max()


def test_missing_recency_column_names_the_column():
    X = pd.DataFrame({"other": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match="days_since_last_purchase") as info:
        RecencyBaseline().fit(X, [0, 1])
    assert info.value.column == "days_since_last_purchase"
    with pytest.raises(DataValidationError, match="'lapsed'"):
        RecencyBaseline(column="lapsed").fit(X, [0, 1])


def test_missing_recency_column_at_predict_time(recency, churn_frames):
    _, holdout = churn_frames
    with pytest.raises(DataValidationError, match="days_since_last_purchase"):
        recency.predict_proba(holdout.drop(columns="days_since_last_purchase"))


def test_a_custom_column_is_read(churn_frames):
    train, holdout = churn_frames
    renamed = {"days_since_last_purchase": "lapsed"}
    model = RecencyBaseline(column="lapsed").fit(train.rename(columns=renamed), train["churned"])
    default = RecencyBaseline().fit(train, train["churned"])
    np.testing.assert_allclose(
        model.predict_proba(holdout.rename(columns=renamed)), default.predict_proba(holdout)
    )


def test_recency_baseline_estimator_contract(churn_frames):
    train, _ = churn_frames
    model = RecencyBaseline(column="x")
    assert model.get_params() == {"column": "x"}
    assert clone(model).get_params() == {"column": "x"}
    with pytest.raises(NotFittedError):
        model.predict_proba(train)
    fitted = RecencyBaseline()
    assert fitted.fit(train, train["churned"]) is fitted
    with pytest.raises(ParameterError, match="'column' parameter"):
        RecencyBaseline(column=3).fit(train, train["churned"])


# --------------------------------------------------------------------------- last_period_value


def brute_force_last_period(
    transactions: pd.DataFrame, population: np.ndarray, start: str, cutoff: str
) -> pd.Series:
    """Non-return amounts in [start, cutoff) summed per customer, 0 for the rest."""
    inside = (
        (transactions["timestamp"] >= pd.Timestamp(start))
        & (transactions["timestamp"] < pd.Timestamp(cutoff))
        & ~transactions["is_return"]
    )
    totals = transactions[inside].groupby("customer_id")["amount"].sum()
    return totals.reindex(np.sort(population), fill_value=0.0)


@pytest.mark.parametrize(
    ("cutoff", "horizon", "start"),
    [
        ("1998-01-01", "26W", "1997-07-03"),
        ("1998-01-01", "6M", "1997-07-01"),
        ("1998-01-01", 90, "1997-10-03"),
        ("1997-09-15", "6M", "1997-03-15"),
        ("1997-05-20", 90, "1997-02-19"),
    ],
)
def test_last_period_value_sums_the_window_before_the_cutoff(cdnow, cutoff, horizon, start):
    transactions = cdnow.to_pandas("transactions")
    seen = transactions.loc[transactions["timestamp"] < pd.Timestamp(cutoff), "customer_id"]
    expected = brute_force_last_period(transactions, seen.unique(), start, cutoff)
    result = last_period_value(cdnow, cutoff, horizon)
    assert result.name == "last_period_value"
    assert result.index.name == "customer_id"
    np.testing.assert_array_equal(result.index, expected.index)
    np.testing.assert_allclose(result.to_numpy(dtype=float), expected.to_numpy(), rtol=1e-12)
    # Customers who bought nothing in the window are kept, at 0.
    assert (result == 0).any() and (result > 0).any()


def test_last_period_value_population_and_returns_on_synthetic_data():
    tables, _ = make_synthetic(600, 3)
    cutoff = "2023-03-01"
    transactions = tables.to_pandas("transactions")
    interactions = tables.to_pandas("interactions")
    customers = tables.to_pandas("customers")
    before = pd.Timestamp(cutoff)
    population = np.unique(
        np.concatenate(
            [
                transactions.loc[transactions["timestamp"] < before, "customer_id"],
                interactions.loc[interactions["timestamp"] < before, "customer_id"],
                customers.loc[customers["signup_date"] < before, "customer_id"],
            ]
        )
    )
    expected = brute_force_last_period(transactions, population, "2022-12-01", cutoff)
    result = last_period_value(tables, cutoff, "3M")
    np.testing.assert_array_equal(result.index, expected.index)
    np.testing.assert_allclose(result.to_numpy(dtype=float), expected.to_numpy(), rtol=1e-12)
    window = transactions[
        (transactions["timestamp"] >= pd.Timestamp("2022-12-01"))
        & (transactions["timestamp"] < before)
    ]
    assert window["is_return"].any()  # the exclusion of returns is exercised


def test_last_period_window_includes_its_start_and_excludes_the_cutoff():
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3, 3, 4, 5],
            "timestamp": pd.to_datetime(
                [
                    "2021-01-01 00:00:00",  # exactly at the window start: counted
                    "2020-12-31 23:59:59",  # just before it: not counted
                    "2021-01-20 00:00:00",
                    "2021-01-15 00:00:00",
                    "2021-01-16 00:00:00",  # a return: not counted
                    "2021-01-31 23:59:59",  # just before the cut-off: counted
                    "2021-02-01 00:00:00",  # at the cut-off: neither counted nor seen
                ]
            ),
            "amount": [10.0, 1000.0, 5.0, 7.0, 7.0, 3.0, 99.0],
            "is_return": [False, False, False, False, True, False, False],
        }
    )
    tables = Tables(transactions)
    result = last_period_value(tables, "2021-02-01", 31)
    pd.testing.assert_series_equal(
        result.astype(float),
        pd.Series(
            [10.0, 5.0, 7.0, 3.0],
            index=pd.Index([1, 2, 3, 4], name="customer_id"),
            name="last_period_value",
        ),
        check_index_type=False,
    )
