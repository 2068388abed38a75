"""Property-based specification of the snapshot: it equals a brute-force pandas computation,
and nothing at or after the cut-off can change it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxml.data import Tables
from cxml.features import FeatureSpec, build_snapshot
from tests.features.reference import reference_snapshot

START = pd.Timestamp("2021-01-01")
SPAN_S = 400 * 86_400
EVENTS = [
    "web_visit",
    "app_visit",
    "email_sent",
    "email_open",
    "email_click",
    "campaign_contact",
    "cancellation",
    "support_ticket",
    "referral",
    "nps",
    "csat",
    "ces",
    "other",
]
SURVEY_RANGE = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
SPEC = FeatureSpec(
    windows=(7, 30),
    time_unit=7.0,
    event_types=("web_visit", "email_click", "support_ticket", "other"),
)
IDS = st.integers(1, 6)
pytestmark = pytest.mark.filterwarnings("ignore::cxml.data.DataQualityWarning")


def seconds(lo: int = 0, hi: int = SPAN_S) -> st.SearchStrategy[int]:
    """Offsets from START: often whole days (as in day-level logs), sometimes any second."""
    first_day = -(-lo // 86_400)
    return st.one_of(
        st.integers(first_day, hi // 86_400).map(lambda d: d * 86_400), st.integers(lo, hi)
    )


def _stamp(seconds: int) -> pd.Timestamp:
    return START + pd.Timedelta(seconds=seconds)


@st.composite
def transactions(draw: st.DrawFn, lo: int = 0, hi: int = SPAN_S) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    rows = {
        "customer_id": draw(st.lists(IDS, min_size=n, max_size=n)),
        "timestamp": [_stamp(s) for s in draw(st.lists(seconds(lo, hi), min_size=n, max_size=n))],
        "amount": draw(
            st.lists(st.integers(0, 10_000).map(lambda c: c / 100), min_size=n, max_size=n)
        ),
        "is_return": draw(st.lists(st.sampled_from([False] * 4 + [True]), min_size=n, max_size=n)),
    }
    frame = pd.DataFrame(rows)
    if draw(st.booleans()):
        # Missing order ids (a line is then an order of its own) come as NaN, as in pandas.
        order_ids = st.one_of(st.none(), st.integers(1, 4))
        frame["order_id"] = draw(st.lists(order_ids, min_size=n, max_size=n))
    if draw(st.booleans()):
        frame["category"] = draw(
            st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n)
        )
        frame["channel"] = draw(st.lists(st.sampled_from(["web", "store"]), min_size=n, max_size=n))
        frame["discount"] = draw(
            st.lists(st.integers(0, 500).map(lambda c: c / 100), min_size=n, max_size=n)
        )
    return frame


@st.composite
def interactions(draw: st.DrawFn, lo: int = 0, hi: int = SPAN_S) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    types = draw(st.lists(st.sampled_from(EVENTS), min_size=n, max_size=n))
    values, resolved = [], []
    for e in types:
        if e in SURVEY_RANGE:
            values.append(float(draw(st.integers(*SURVEY_RANGE[e]))))
        elif e == "support_ticket":
            values.append(draw(st.none() | st.integers(1, 100).map(float)))
        else:
            values.append(None)
        resolved.append(draw(st.none() | st.booleans()) if e == "support_ticket" else None)
    return pd.DataFrame(
        {
            "customer_id": draw(st.lists(IDS, min_size=n, max_size=n)),
            "timestamp": [
                _stamp(s) for s in draw(st.lists(seconds(lo, hi), min_size=n, max_size=n))
            ],
            "event_type": types,
            "value": pd.array(values, dtype="Float64").astype("float64"),
            "resolved_first_contact": pd.array(resolved, dtype="boolean"),
        }
    )


@st.composite
def customers(draw: st.DrawFn) -> pd.DataFrame:
    ids = sorted(draw(st.sets(st.integers(1, 8), min_size=1, max_size=8)))
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": ids,
            "signup_date": pd.to_datetime(
                [
                    None if s is None else _stamp(s)
                    for s in draw(st.lists(st.none() | seconds(), min_size=n, max_size=n))
                ]
            ).astype("datetime64[us]"),
            "region": draw(st.lists(st.sampled_from(["north", "south"]), min_size=n, max_size=n)),
            "email_consent": draw(st.lists(st.booleans(), min_size=n, max_size=n)),
        }
    )


def _tables(tx: pd.DataFrame, ix: pd.DataFrame | None, cust: pd.DataFrame | None) -> Tables:
    return Tables(tx, ix, cust, duplicates="keep")


def _compare(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual.index) == list(expected.index)
    assert set(actual.columns) == set(expected.columns), set(actual.columns) ^ set(expected.columns)
    for col in expected.columns:
        a, e = actual[col], expected[col]
        if isinstance(a.dtype, pd.CategoricalDtype) or e.dtype == object:
            assert [None if pd.isna(v) else v for v in a.astype(object)] == [
                None if pd.isna(v) else v for v in e.astype(object)
            ], col
        else:
            np.testing.assert_allclose(
                a.astype(float).to_numpy(),
                e.astype(float).to_numpy(),
                rtol=1e-9,
                atol=1e-9,
                equal_nan=True,
                err_msg=col,
            )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tx=transactions(),
    ix=st.none() | interactions(),
    cust=st.none() | customers(),
    cut=st.integers(1, SPAN_S),
)
def test_every_feature_equals_brute_force(tx, ix, cust, cut):
    cutoff = _stamp(cut)
    tables = _tables(tx, ix, cust)
    expected = reference_snapshot(
        tables.to_pandas("transactions"),
        tables.to_pandas("interactions"),
        tables.to_pandas("customers"),
        cutoff,
        SPEC.windows,
        SPEC.unit_days,
        SPEC.event_types,
    )
    actual = build_snapshot(tables, cutoff, SPEC)
    if expected.empty:
        assert actual.empty
        return
    _compare(actual, expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), cut=st.integers(86_400, SPAN_S - 86_400))
def test_events_at_or_after_the_cutoff_change_nothing(data, cut):
    cutoff = _stamp(cut)
    tx = data.draw(transactions())
    ix = data.draw(interactions())
    cust = data.draw(customers())
    before = build_snapshot(_tables(tx, ix, cust), cutoff, SPEC)
    later_tx = data.draw(transactions(lo=cut, hi=SPAN_S + 86_400 * 30))
    later_ix = data.draw(interactions(lo=cut, hi=SPAN_S + 86_400 * 30))
    newcomers = pd.DataFrame(
        {
            "customer_id": [100, 101],
            "signup_date": [cutoff, _stamp(SPAN_S)],
            "region": ["north", "south"],
            "email_consent": [True, False],
        }
    )
    common = [c for c in later_tx.columns if c in tx.columns]
    tx2 = pd.concat([tx, later_tx[common]], ignore_index=True)
    after = build_snapshot(
        _tables(
            tx2,
            pd.concat([ix, later_ix], ignore_index=True),
            pd.concat([cust, newcomers], ignore_index=True),
        ),
        cutoff,
        SPEC,
    )
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("signup", ["column absent", "value blank"])
def test_customer_rows_without_signup_date_are_scored_but_not_trained_on(signup: str) -> None:
    """Customers 2 and 3 never bought and have no known signup date: a snapshot for scoring
    gives them a row (every input customer is scored); a point-in-time snapshot, as training
    uses, does not (they may not have been customers yet). Customer 4 signed up after the
    cut-off: in neither."""
    tx = pd.DataFrame({"customer_id": [1], "timestamp": [_stamp(86_400)], "amount": [10.0]})
    tx = tx.astype({"timestamp": "datetime64[us]"})
    cust = pd.DataFrame({"customer_id": [1, 2, 3, 4], "region": ["north"] * 4})
    if signup == "value blank":
        cust["signup_date"] = pd.to_datetime(
            [_stamp(0), None, None, _stamp(SPAN_S + 86_400)]
        ).astype("datetime64[us]")
    else:
        cust = cust[cust["customer_id"] != 4]
    tables = _tables(tx, None, cust)
    scoring = build_snapshot(tables, _stamp(SPAN_S), SPEC, undated_customers=True)
    assert sorted(scoring.index) == [1, 2, 3]
    assert scoring.loc[[2, 3], "n_orders"].tolist() == [0, 0]
    assert build_snapshot(tables, _stamp(SPAN_S), SPEC).index.tolist() == [1]
