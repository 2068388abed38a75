"""Period numbering, boundaries and the reported window."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxml.data import Tables
from cxml.data.engine import collect
from cxml.errors import ParameterError
from cxml.kpis import compute_kpis
from cxml.kpis.periods import number_of, period_number, start_of


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1960, 1, 1), max_value=dt.datetime(2100, 1, 1)),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["D", "W", "M"]),
)
def test_engine_and_pandas_number_periods_alike(moments: list[dt.datetime], period) -> None:
    frame = pd.DataFrame({"customer_id": range(len(moments)), "timestamp": moments, "amount": 1.0})
    tables = Tables(frame, plausible_range=("1900-01-01", "2200-01-01"), duplicates="keep")
    engine = collect(tables.transactions.select("timestamp", n=period_number("timestamp", period)))
    expected = number_of(pd.DatetimeIndex(engine["timestamp"]), period)
    assert engine["n"].tolist() == expected.tolist()
    # every moment lies in [start of its period, start of the next)
    starts = start_of(expected, period)
    assert (starts <= engine["timestamp"]).all()
    assert (start_of(expected + 1, period) > engine["timestamp"]).all()


@pytest.mark.parametrize(
    ("period", "moment", "start"),
    [
        ("M", "2023-01-31 23:59:59", "2023-01-01"),
        ("M", "2023-02-01 00:00:00", "2023-02-01"),
        ("W", "2023-01-08 23:59:59", "2023-01-02"),  # a Sunday belongs to the week from Monday
        ("W", "2023-01-09 00:00:00", "2023-01-09"),
        ("D", "2024-02-29 12:00:00", "2024-02-29"),
        ("W", "1969-12-29 00:00:00", "1969-12-29"),  # the Monday before the epoch
    ],
)
def test_period_boundaries(period, moment, start) -> None:
    number = number_of(pd.DatetimeIndex([moment]), period)
    assert start_of(number, period)[0] == pd.Timestamp(start)


def buys(*moments: str) -> Tables:
    frame = pd.DataFrame(
        {
            "customer_id": range(len(moments)),
            "timestamp": pd.to_datetime(list(moments)),
            "amount": 1.0,
        }
    )
    return Tables(frame)


def test_an_event_at_midnight_counts_in_the_new_month() -> None:
    tables = buys("2023-01-31 23:59:59", "2023-02-01 00:00:00", "2023-02-01 00:00:01")
    result = compute_kpis(tables, end="2023-03-01", kpis=["revenue_per_customer"])
    assert result["numerator"].tolist() == [1.0, 2.0]


def test_only_whole_periods_are_reported() -> None:
    tables = buys("2023-01-15", "2023-02-15", "2023-03-15")
    # start mid-January, end mid-March: only February is whole
    result = compute_kpis(tables, start="2023-01-10", end="2023-03-20", kpis=["purchase_frequency"])
    assert result["period_start"].tolist() == [pd.Timestamp("2023-02-01")]


def test_by_default_periods_run_from_the_first_purchase_to_the_observed_end() -> None:
    tables = buys("2023-01-15", "2023-03-15")  # observed until 2023-03-16: March is not whole
    result = compute_kpis(tables, kpis=["purchase_frequency"])
    assert result["period_start"].dt.strftime("%Y-%m").tolist() == ["2023-01", "2023-02"]
    # February had no purchase: nothing counted, so frequency is undefined there, not 0
    assert np.isnan(result["value"].iloc[1])
    assert result[["numerator", "denominator"]].iloc[1].tolist() == [0.0, 0.0]


def test_no_whole_period_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="no whole month"):
        compute_kpis(buys("2023-01-15"), start="2023-01-10", end="2023-01-20")


@pytest.mark.parametrize("period", ["Q", "month", None])
def test_unknown_period_is_a_parameter_error(period) -> None:
    with pytest.raises(ParameterError, match="period must be one of"):
        compute_kpis(buys("2023-01-15"), period=period)


def test_start_that_is_not_a_date_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="start 'soon' is not a date"):
        compute_kpis(buys("2023-01-15"), start="soon")
