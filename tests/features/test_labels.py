"""Labels, horizons and training frames."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from cxml.data import Tables
from cxml.datasets import load_cdnow
from cxml.errors import DataValidationError, SnapshotError
from cxml.features import build_labels, build_snapshot, build_training_frame, parse_horizon
from cxml.features.spec import FeatureSpec, window_end
from tests.features.reference import on_grid

pytestmark = pytest.mark.filterwarnings("ignore::cxml.data.DataQualityWarning")


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 2, 3, 3],
            "timestamp": pd.to_datetime(
                [
                    "2021-01-05",
                    "2021-02-10",
                    "2021-02-10 18:00",
                    "2021-01-20",
                    "2021-03-01",
                    "2021-02-20",
                    "2021-06-30",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 20.0, 5.0, 7.0, 3.0, 8.0, 1.0],
            "is_return": [False, False, False, False, True, False, False],
        }
    )
    ix = pd.DataFrame(
        {
            "customer_id": [4, 2],
            "timestamp": pd.to_datetime(["2021-01-10", "2021-02-15"]),
            "event_type": ["web_visit", "cancellation"],
        }
    )
    return tx, ix


@pytest.fixture
def tables() -> Tables:
    return Tables(*frames())


def test_labels_count_purchase_days_and_value_in_the_window(tables):
    labels = build_labels(tables, "2021-02-01", "30D")
    assert list(labels.index) == [1, 2, 4]  # 3 is first seen after the cut-off
    assert labels.loc[1, "future_transactions"] == 1  # two lines on one day
    assert labels.loc[1, "future_value"] == pytest.approx(25.0)
    assert not labels.loc[1, "churned"]
    # customer 2 only returned something in the window: a return is not a purchase
    assert labels.loc[2, "churned"] and labels.loc[2, "future_value"] == 0
    assert labels.loc[4, "churned"]


def test_contractual_churn_uses_the_cancellation_event(tables):
    labels = build_labels(tables, "2021-02-01", "30D", churn_event="cancellation")
    assert labels["churned"].to_dict() == {1: False, 2: True, 4: False}


def test_customers_who_cancelled_before_the_cutoff_get_no_churn_label():
    """They were labelled "retained" at every later cut-off (and scored as safest)."""
    tx = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "E", "F"],
            "timestamp": pd.to_datetime(
                ["2023-01-05", "2023-01-10", "2023-02-01", "2023-01-15", "2023-01-20"]
            ),
            "amount": [10.0, 20.0, 30.0, 5.0, 5.0],
        }
    )
    tx.loc[5] = ["E", pd.Timestamp("2023-02-15"), 5.0]  # E re-subscribes after cancelling
    ix = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C", "E", "F"],
            "timestamp": pd.to_datetime(
                ["2023-02-01", "2023-04-01", "2023-05-01", "2023-02-01", "2023-01-20"]
            ),
            "event_type": ["cancellation"] * 5,  # F cancels the moment it buys
        }
    )
    tables = Tables(tx, ix)
    labels = build_labels(tables, "2023-03-01", "2M", churn_event="cancellation")
    # C's cancellation falls at the window end, which is exclusive
    assert labels["churned"].isna().to_dict() == {
        "A": True,
        "B": False,
        "C": False,
        "E": False,
        "F": True,
    }
    assert labels["churned"].dropna().astype(bool).to_dict() == {"B": True, "C": False, "E": False}
    frame = build_training_frame(tables, ["2023-03-01"], "2M", churn_event="cancellation")
    assert frame["churned"].isna().tolist() == [True, False, False, False, True]
    # Without an event definition nobody is churned already
    assert build_labels(tables, "2023-03-01", "2M")["churned"].notna().all()


def test_label_window_past_the_data_is_refused(tables):
    assert tables.observed_until == dt.datetime(2021, 7, 1)
    build_labels(tables, "2021-06-01", "30D")  # ends 2021-07-01: exactly the data end
    with pytest.raises(SnapshotError, match="runs past the end of the data"):
        build_labels(tables, "2021-06-02", "30D")
    with pytest.raises(SnapshotError, match="runs past the end of the data"):
        build_training_frame(tables, ["2021-02-01", "2021-06-15"], "30D")


def test_training_frame_stacks_snapshots_and_labels(tables):
    frame = build_training_frame(
        tables, ["2021-03-01", "2021-02-01"], "30D", FeatureSpec(groups=("orders",))
    )
    assert list(frame["cutoff"].unique()) == [
        pd.Timestamp("2021-02-01"),
        pd.Timestamp("2021-03-01"),
    ]
    first = frame[frame["cutoff"] == "2021-02-01"]
    snap = build_snapshot(tables, "2021-02-01", FeatureSpec(groups=("orders",)))
    pd.testing.assert_series_equal(first["n_orders"], snap["n_orders"])
    assert {"churned", "future_transactions", "future_value"} <= set(frame.columns)


def test_calendar_month_horizon_ends_on_the_same_day():
    assert window_end("1998-01-01", "6M") == dt.datetime(1998, 7, 1)
    assert window_end("1997-10-01", "26W") == dt.datetime(1998, 4, 1)
    assert parse_horizon(90) == pd.Timedelta(days=90)


@pytest.mark.parametrize(
    "days", [90, np.int64(90), np.int32(90), np.uint16(90), 90.0, np.float64(90.0), np.float32(90)]
)
def test_numpy_integers_and_whole_floats_are_days(days):
    assert parse_horizon(days) == pd.Timedelta(days=90)
    assert window_end("1998-01-01", days) == dt.datetime(1998, 4, 1)


@pytest.mark.parametrize(
    "bad",
    [
        "ninety",
        "0D",
        -5,
        True,
        "6 months",
        "101Y",
        "5000Y",
        10**6,
        np.bool_(True),
        1.5,
        np.float64(0.5),
        0.0,
        -3.0,
        np.int64(-5),
        np.int64(10**6),
        math.nan,
        math.inf,
        1e300,
        10**20,
    ],
)
def test_bad_horizons_are_refused(bad):
    with pytest.raises(SnapshotError, match="horizon"):
        parse_horizon(bad)


def test_fractional_days_are_refused_as_not_whole():
    with pytest.raises(SnapshotError, match=r"positive whole number of days.*got 1\.5"):
        parse_horizon(1.5)


def test_cutoff_is_exclusive(tables):
    snap = build_snapshot(tables, "2021-02-10 18:00", FeatureSpec(groups=("orders",)))
    assert snap.loc[1, "n_orders"] == 2  # the 18:00 line is not before the cut-off


def test_discounted_future_value_matches_a_brute_force_sum():
    tables = load_cdnow(sample=True)
    cutoff, end = pd.Timestamp("1997-10-01"), pd.Timestamp("1997-10-01") + pd.Timedelta(weeks=26)
    labels = build_labels(tables, cutoff, "26W", discount_rate=0.1)
    lines = tables.to_pandas("transactions")
    window = lines[
        (lines["timestamp"] >= cutoff) & (lines["timestamp"] < end) & ~lines["is_return"]
    ]
    years = (window["timestamp"] - cutoff).dt.total_seconds() / 86_400 / 365.25
    expected = on_grid(window["amount"] / 1.1**years).groupby(window["customer_id"]).sum()
    expected = expected.reindex(labels.index, fill_value=0.0)
    np.testing.assert_allclose(labels["future_value"], expected, rtol=1e-12, atol=1e-9)
    undiscounted = build_labels(tables, cutoff, "26W")
    assert (labels["future_value"] <= undiscounted["future_value"] + 1e-9).all()
    assert labels["future_value"].sum() < undiscounted["future_value"].sum()


def test_a_window_past_the_data_is_reported_with_its_time_of_day(tables):
    """At 12:00 the window [2021-06-01 12:00, 2021-07-01 12:00) ends after the data, but the
    message read "[2021-06-01, 2021-07-01)", as if it fitted."""
    with pytest.raises(SnapshotError) as info:
        build_labels(tables, "2021-06-01T12:00", "30D")
    assert str(info.value).startswith(
        "label window [2021-06-01 12:00, 2021-07-01 12:00) runs past the end of the data "
        "(observed until 2021-07-01, exclusive)"
    )


def test_discounting_uses_the_time_of_day(tables):
    """Two lines on one day, at 00:00 and 18:00: each is discounted by its own time."""
    labels = build_labels(tables, "2021-02-01", "30D", discount_rate=1.0)
    expected = on_grid(20.0 / 2 ** (9 / 365.25)) + on_grid(5.0 / 2 ** (9.75 / 365.25))
    assert labels.loc[1, "future_value"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("column", "what"),
    [
        ("churned", "label"),
        ("future_value", "label"),
        ("cutoff", "column"),
        ("n_orders", "feature"),
        ("t_signup", "column"),  # internal steps of features
        ("_signup_t", "column"),
    ],
)
def test_a_customers_column_named_like_a_label_or_feature_is_refused(column, what):
    """It would silently replace the label (a column 'churned' would be learned as churn)."""
    customers = pd.DataFrame(
        {"customer_id": [1, 2, 3, 4], "signup_date": pd.Timestamp("2021-01-01"), column: 1}
    )
    with_clash = Tables(*frames(), customers=customers)
    with pytest.raises(
        DataValidationError, match=rf"table 'customers', column '{column}': the name of a {what}"
    ):
        build_training_frame(with_clash, ["2021-02-01"], "30D")
    with pytest.raises(DataValidationError, match=column):
        build_snapshot(with_clash, "2021-02-01")


def test_a_line_without_order_id_is_an_order_of_its_own():
    """Missing order ids (NaN in pandas) must not merge a customer's lines into one order."""
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "timestamp": pd.to_datetime(["2021-01-01", "2021-01-01", "2021-02-01", "2021-03-01"]),
            "amount": [30.0, 40.0, 20.0, 10.0],
            "order_id": [7, 7, None, None],
        }
    )
    row = build_snapshot(Tables(tx), "2021-04-01").loc[1]
    assert row["n_orders"] == 3 and row["max_order_value"] == 70.0
    assert row["avg_order_value"] == pytest.approx(100 / 3)
    assert row["days_since_last_purchase"] == 31


def test_a_calendar_horizon_runs_in_the_zone_of_a_tz_aware_cut_off():
    """A month from 2024-03-01 00:00 Berlin ends at 2024-04-01 00:00 Berlin (22:00 UTC on
    31 March), not a UTC month after 29 February 23:00 UTC."""
    cutoff = pd.Timestamp("2024-03-01", tz="Europe/Berlin")
    assert window_end(cutoff, "1M") == dt.datetime(2024, 3, 31, 22)
    assert window_end("2024-03-01T00:00+01:00", "1M") == dt.datetime(2024, 3, 31, 23)
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 1],
            "timestamp": pd.to_datetime(["2024-02-01", "2024-03-30", "2024-05-01"]),
            "amount": [10.0, 20.0, 5.0],
        }
    )
    labels = build_labels(Tables(tx), cutoff, "1M")
    assert labels.loc[1, "future_value"] == 20.0
    frame = build_training_frame(Tables(tx), [cutoff], "1M")
    assert frame.loc[1, "future_value"] == 20.0


def test_a_date_attribute_becomes_days_since_it_and_is_unknown_before_it_happens():
    """Dates passed through as they were: a 'paid_start' after a past cut-off leaked into
    its snapshot, and LightGBM failed on the datetime column (exit 1)."""
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "signup_date": pd.Timestamp("2021-01-01"),
            "paid_start": pd.to_datetime(
                ["2021-01-15 12:00", "2021-03-01 00:00", None, "2021-02-01 00:00"]
            ),
            "paid_day": pd.to_datetime(["2021-01-15", "2021-03-01", None, "2021-01-31"]).date,
        }
    )
    customers["paid_day"] = customers["paid_day"].astype("date32[pyarrow]")
    tables = Tables(*frames(), customers=customers)
    snapshot = build_snapshot(tables, "2021-02-01")
    assert "paid_start" not in snapshot.columns
    assert snapshot["days_since_paid_start"].to_dict() == pytest.approx(
        {1: 16.5, 2: np.nan, 3: np.nan, 4: np.nan}, nan_ok=True
    )
    assert snapshot["days_since_paid_day"].to_dict() == pytest.approx(
        {1: 17.0, 2: np.nan, 3: np.nan, 4: 1.0}, nan_ok=True
    )
    frame = build_training_frame(tables, ["2021-02-01", "2021-03-01"], "30D")
    assert frame["days_since_paid_start"].dtype == float


def test_a_column_named_like_a_date_attributes_derived_column_is_refused():
    """'paid_start' becomes 'days_since_paid_start': a column of that name as well crashed
    the snapshot with a duplicate-column error (exit 1) after `cxml validate` passed."""
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "signup_date": pd.Timestamp("2021-01-01"),
            "paid_start": pd.Timestamp("2021-01-15"),
            "days_since_paid_start": 1.0,
        }
    )
    tables = Tables(*frames(), customers=customers)
    with pytest.raises(
        DataValidationError,
        match=r"column 'days_since_paid_start': the name of the column cxml derives from the "
        r"date column 'paid_start'",
    ):
        build_snapshot(tables, "2021-02-01")


def test_boundaries_an_event_exactly_at_the_edge_of_a_window_falls_on_the_right_side():
    """An order exactly 30 days before the cut-off is in the 30-day window; a signup at the
    cut-off is not seen yet; NPS classes split at 7 and 9."""
    cutoff = pd.Timestamp("2021-03-01")
    tx = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 3],
            "timestamp": [
                cutoff - pd.Timedelta(days=30),
                cutoff - pd.Timedelta(days=60),
                cutoff,
                cutoff - pd.Timedelta(days=5),
            ],
            "amount": [10.0, 20.0, 5.0, 1.0],
        }
    )
    scores = [9.0, 7.0, 6.0, 10.0, 8.0, 0.0]
    ix = pd.DataFrame(
        {
            "customer_id": [10, 11, 12, 13, 14, 15],
            "timestamp": cutoff - pd.Timedelta(days=1),
            "event_type": "nps",
            "value": scores,
        }
    )
    customers = pd.DataFrame(
        {"customer_id": [1, 2, 3], "signup_date": [cutoff - pd.Timedelta(days=90), cutoff, cutoff]}
    )
    snapshot = build_snapshot(Tables(tx, ix, customers), cutoff)
    assert snapshot.loc[1, "n_orders_30d"] == 1 and snapshot.loc[1, "n_orders_90d"] == 2
    assert snapshot.loc[1, "tenure_days"] == 90.0
    assert 2 not in snapshot.index  # bought and signed up exactly at the cut-off: not yet seen
    assert np.isnan(snapshot.loc[3, "tenure_days"])  # a signup at the cut-off is still to come
    classes = snapshot.loc[[10, 11, 12, 13, 14, 15], "nps_class"].astype(str).tolist()
    assert classes == ["promoter", "passive", "detractor", "promoter", "passive", "detractor"]


@pytest.mark.parametrize("rate", [-1, -2.5, float("inf"), float("nan")])
def test_a_discount_rate_outside_minus_one_to_infinity_is_refused(tables, rate):
    with pytest.raises(SnapshotError, match="discount_rate must be a number > -1"):
        build_labels(tables, "2021-02-01", "30D", discount_rate=rate)


def test_labels_leave_out_undated_customers_never_seen_before_the_cutoff():
    """Scoring counts customers without a signup date as seen; labels must not: they may
    not have been customers yet."""
    tx, ix = frames()
    customers = pd.DataFrame({"customer_id": [1, 2, 4, 99], "signup_date": pd.NaT})
    labels = build_labels(Tables(tx, ix, customers), "2021-02-01", "30D")
    assert list(labels.index) == [1, 2, 4]


def test_training_frame_is_the_same_bits_whatever_the_order_of_the_lines():
    """DuckDB adds in parallel, in an order that changes from run to run: float sums of one
    customer's lines differed in the last bit between two builds, and so did LightGBM's
    fits. The sums are exact now, so row order (here, shuffled input) changes no bit."""
    rng = np.random.default_rng(11)
    n = 600_000
    lines = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 3_000, n),
            "timestamp": pd.Timestamp("2022-01-01")
            + pd.to_timedelta(rng.integers(0, 729 * 86_400, n), unit="s"),
            "amount": rng.integers(1, 500_000, n) / 100,
            "discount": rng.integers(0, 2_000, n) / 100,
        }
    )
    spec = FeatureSpec(groups=("btyd", "orders", "windows", "mix"))
    frames = []
    for seed in (1, 2):
        shuffled = lines.sample(frac=1.0, random_state=seed, ignore_index=True)
        tables = Tables(shuffled, duplicates="keep")
        frames.append(build_training_frame(tables, ["2023-01-01"], "180D", spec))
    first, second = frames
    assert first.index.equals(second.index)
    for column in first.columns:
        a, b = first[column].to_numpy(), second[column].to_numpy()
        if a.dtype.kind == "f":
            assert np.array_equal(a, b, equal_nan=True), column
    totals = lines[lines["timestamp"] < "2023-01-01"].groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(first["revenue"], totals.reindex(first.index), rtol=1e-13)
