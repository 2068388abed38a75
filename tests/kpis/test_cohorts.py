"""The cohort retention matrix on the hand-worked shop."""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.errors import ParameterError
from cxml.kpis import cohort_retention
from tests.kpis.shop import END, MONTHS, NO_ORDER_IDS, orders_by_pandas, shop


def cells(matrix) -> dict[tuple[str, int], tuple[int, int]]:
    """(cohort month, periods since) -> (active, cohort size)."""
    return {
        (row.cohort_start.strftime("%Y-%m"), row.periods_since): (row.active, row.cohort_size)
        for row in matrix.itertuples()
    }


def test_first_purchase_cohorts() -> None:
    matrix = cohort_retention(shop(), end=END)
    # buyers per month: Dec {5}, Jan {1,2,5}, Feb {1,3}, Mar {1,2,4};
    # cohorts by first purchase: Dec {5}, Jan {1,2}, Feb {3}, Mar {4}
    assert cells(matrix) == {
        ("2022-12", 0): (1, 1), ("2022-12", 1): (1, 1),
        ("2022-12", 2): (0, 1), ("2022-12", 3): (0, 1),
        ("2023-01", 0): (2, 2), ("2023-01", 1): (1, 2), ("2023-01", 2): (2, 2),
        ("2023-02", 0): (1, 1), ("2023-02", 1): (0, 1),
        ("2023-03", 0): (1, 1),
    }  # fmt: skip
    jan = matrix[matrix["cohort_start"] == "2023-01-01"]
    assert jan["retention"].tolist() == [1.0, 0.5, 1.0]


def test_signup_cohorts() -> None:
    matrix = cohort_retention(shop(), acquisition="signup", start="2022-12-01", end=END)
    # signups: Dec {1}, Jan {2, 3}, Mar {4} (5 has no customers row; no cohort in Feb)
    # Dec: 1 buys Jan, Feb, Mar but not Dec; Jan: 2 buys Jan, 3 Feb, 2 Mar
    assert cells(matrix) == {
        ("2022-12", 0): (0, 1), ("2022-12", 1): (1, 1),
        ("2022-12", 2): (1, 1), ("2022-12", 3): (1, 1),
        ("2023-01", 0): (1, 2), ("2023-01", 1): (1, 2), ("2023-01", 2): (1, 2),
        ("2023-03", 0): (1, 1),
    }  # fmt: skip


def test_signup_cohorts_need_a_signup_date() -> None:
    with pytest.raises(ParameterError, match="signup_date"):
        cohort_retention(shop(customers=None), acquisition="signup")


def test_an_unknown_acquisition_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="acquisition must be"):
        cohort_retention(shop(), acquisition="first_visit")


def test_each_line_without_an_order_id_is_an_order_of_its_own() -> None:
    matrix = cohort_retention(shop(NO_ORDER_IDS), end=END)
    # brute force: the months each customer bought in, from the orders of its lines
    months = orders_by_pandas(NO_ORDER_IDS)[["customer_id", "month"]].drop_duplicates()
    months["cohort"] = months.groupby("customer_id")["month"].transform("min")
    pairs = zip(months["month"], months["cohort"], strict=True)
    months["k"] = [(month - cohort).n for month, cohort in pairs]
    sizes = months.groupby("cohort")["customer_id"].nunique()
    active = months.groupby(["cohort", "k"]).size()
    last = pd.Period(MONTHS[-1], "M")
    expected = {
        (cohort.strftime("%Y-%m"), k): (active.get((cohort, k), 0), size)
        for cohort, size in sizes.items()
        for k in range((last - cohort).n + 1)
    }
    assert cells(matrix) == expected


def test_cohorts_that_start_before_the_window_are_left_out() -> None:
    """Customer 5's December cohort lies before the window: kept, it made a row without a
    periods_since (a crash)."""
    matrix = cohort_retention(shop(), start="2023-01-01", end=END)
    assert cells(matrix) == {
        ("2023-01", 0): (2, 2), ("2023-01", 1): (1, 2), ("2023-01", 2): (2, 2),
        ("2023-02", 0): (1, 1), ("2023-02", 1): (0, 1),
        ("2023-03", 0): (1, 1),
    }  # fmt: skip


def test_retention_divides_by_the_cohorts_own_size() -> None:
    """Dividing by the largest cohort (2) halved the one-customer cohorts' retention."""
    matrix = cohort_retention(shop(), end=END)
    retention = {
        (row.cohort_start.strftime("%Y-%m"), row.periods_since): row.retention
        for row in matrix.itertuples()
    }
    assert retention == {
        ("2022-12", 0): 1.0, ("2022-12", 1): 1.0, ("2022-12", 2): 0.0, ("2022-12", 3): 0.0,
        ("2023-01", 0): 1.0, ("2023-01", 1): 0.5, ("2023-01", 2): 1.0,
        ("2023-02", 0): 1.0, ("2023-02", 1): 0.0,
        ("2023-03", 0): 1.0,
    }  # fmt: skip
