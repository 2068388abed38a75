"""campaign_history: each contact's outcome is measured over [contact, contact + horizon).

With more than 24 contact dates the snapshot (features) is taken at the contact's week or
month, before the contact; the outcome window must still start at the contact itself. The
expected outcomes are counted contact by contact with plain pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions.contacts import campaign_history
from cxml.data import Tables
from cxml.features import FeatureSpec

SPEC = FeatureSpec(groups=("recency",))
START = pd.Timestamp("2023-03-01")
#: 35 contact days: more than 24, so the snapshots are taken at the contacts' weeks.
CONTACT_DAYS = 35


def _contacts(ids: np.ndarray, times: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ids,
            "timestamp": times,
            "event_type": "campaign_contact",
            "channel": "email",
            "campaign_id": "spring",
            "treatment": ids % 2 == 0,
        }
    )


def _purchases(ids: np.ndarray, times: pd.DatetimeIndex, amount: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": ids, "timestamp": times, "amount": amount, "is_return": False}
    )


def simulate(
    n: int = 120, seed: int = 0, cancellations: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Transactions and interactions: one contact per customer (a day in March or early
    April at 8, 13 or 18 h), three purchases from 20 days before to 60 days after it (a tenth
    of them returns), optionally a cancellation for half of them, and a first purchase in
    January so that every customer is seen before the snapshot."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1)
    contact = pd.DatetimeIndex(
        START
        + pd.to_timedelta(ids % CONTACT_DAYS, unit="D")
        + pd.to_timedelta(8 + 5 * (ids % 3), unit="h")
    )
    around = pd.to_timedelta(rng.uniform(-20, 60, 3 * n), unit="D").round("min")
    tx = _purchases(np.repeat(ids, 3), np.repeat(contact, 3) + around)
    tx["amount"] = rng.integers(1, 50, len(tx)).astype(float)
    tx["is_return"] = rng.random(len(tx)) < 0.1
    first = _purchases(ids, pd.DatetimeIndex([pd.Timestamp("2023-01-05")] * n))
    last = _purchases(np.array([0]), pd.DatetimeIndex([pd.Timestamp("2023-08-30")]))
    ix = _contacts(ids, contact)
    if cancellations:
        who = ids[rng.random(n) < 0.5]
        when = contact[who - 1] + pd.to_timedelta(rng.uniform(-20, 60, len(who)), unit="D")
        ix = pd.concat(
            [
                ix,
                pd.DataFrame({"customer_id": who, "timestamp": when, "event_type": "cancellation"}),
            ],
            ignore_index=True,
        )
        ix["treatment"] = ix["treatment"].astype("boolean")  # missing for cancellations
    return pd.concat([first, tx, last], ignore_index=True), ix


def expected_outcomes(
    tx: pd.DataFrame, ix: pd.DataFrame, horizon: pd.DateOffset | pd.Timedelta, churn_event=None
) -> pd.DataFrame:
    """Each contact's outcome counted by hand over [contact, contact + horizon): purchase
    days and value (returns excluded), retained; with `churn_event`, retained = no such
    event in the window, and contacts of customers who had one before the contact and
    bought nothing since are left out."""
    rows = []
    for contact in ix[ix["event_type"] == "campaign_contact"].itertuples():
        start, end = contact.timestamp, contact.timestamp + horizon
        bought = tx[(tx["customer_id"] == contact.customer_id) & ~tx["is_return"]]["timestamp"]
        during = (bought >= start) & (bought < end)
        retained = during.any()
        if churn_event is not None:
            mine = ix[(ix["customer_id"] == contact.customer_id)]
            events = mine[mine["event_type"] == churn_event]["timestamp"]
            last_event, last_buy = events[events < start].max(), bought[bought < start].max()
            if pd.notna(last_event) and (pd.isna(last_buy) or last_event >= last_buy):
                continue  # churned already
            retained = not ((events >= start) & (events < end)).any()
        amounts = tx.loc[during[during].index, "amount"]
        rows.append(
            {
                "customer_id": contact.customer_id,
                "future_transactions": bought[during].dt.normalize().nunique(),
                "future_value": amounts.sum(),
                "retained": float(retained),
            }
        )
    return pd.DataFrame(rows).set_index("customer_id").sort_index()


def test_a_purchase_between_the_snapshot_and_the_contact_is_not_an_outcome() -> None:
    """Customer 1 bought on 03-21 and was contacted on 03-26 (snapshot: the week of 03-20):
    nothing bought at or after the contact, so not retained. Customer 2, contacted on
    03-29 12:00 (snapshot: 03-27), bought on 04-27 at 11:00, inside [contact, contact +
    30 days) but after the snapshot + 30 days: retained."""
    ids = np.arange(1, 61)
    days = pd.DatetimeIndex(START + pd.to_timedelta(ids % 28, unit="D"))  # 28 contact days
    days = days.where(ids != 1, pd.Timestamp("2023-03-26"))
    days = days.where(ids != 2, pd.Timestamp("2023-03-29 12:00"))
    tx = pd.concat(
        [
            _purchases(ids, pd.DatetimeIndex([pd.Timestamp("2023-01-15")] * 60)),
            _purchases(np.array([1, 2]), pd.to_datetime(["2023-03-21 00:00", "2023-04-27 11:00"])),
            _purchases(np.array([999]), pd.DatetimeIndex([pd.Timestamp("2023-12-31")])),
        ],
        ignore_index=True,
    )
    history = campaign_history(Tables(tx, _contacts(ids, days)), ["spring"], "30D", SPEC)
    assert (
        history.loc[[1, 2], "cutoff"].tolist()
        == pd.to_datetime(["2023-03-20", "2023-03-27"]).tolist()
    )
    assert history.loc[[1, 2], ["future_transactions", "retained"]].to_numpy().tolist() == [
        [0, 0.0],
        [1, 1.0],
    ]
    assert history.loc[2, "future_value"] == 10.0


@pytest.mark.parametrize(
    ("horizon", "offset"),
    [("30D", pd.Timedelta(days=30)), ("1M", pd.DateOffset(months=1))],
)
def test_outcomes_are_counted_over_each_contacts_own_window(horizon, offset) -> None:
    """Every contact's purchase days, value and retention equal a count by hand over
    [contact, contact + horizon); the snapshot is the start of the contact's week."""
    tx, ix = simulate()
    history = campaign_history(Tables(tx, ix), ["spring"], horizon, SPEC)
    expected = expected_outcomes(tx, ix, offset)
    assert 0.2 < expected["retained"].mean() < 0.9  # both outcomes occur
    got = history.sort_index()[list(expected.columns)]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False)
    weeks = ix.set_index("customer_id")["timestamp"].dt.to_period("W").dt.start_time
    assert (history["cutoff"] == weeks.reindex(history.index)).all()


def test_event_churn_is_judged_at_the_contact_and_over_its_window() -> None:
    """With a churn event, a contact is churned when the event falls in [contact, contact +
    horizon), and is left out when the customer had churned (the event, no purchase since)
    before the contact itself, not before the earlier snapshot date."""
    tx, ix = simulate(cancellations=True)
    history = campaign_history(Tables(tx, ix), ["spring"], "30D", SPEC, churn_event="cancellation")
    expected = expected_outcomes(tx, ix, pd.Timedelta(days=30), churn_event="cancellation")
    assert 0 < len(expected) < len(ix[ix["event_type"] == "campaign_contact"])  # some churned
    assert 0.2 < expected["retained"].mean() < 0.95
    got = history.sort_index()[list(expected.columns)]
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_names=False)


def test_a_contact_whose_own_window_runs_past_the_data_end_is_left_out() -> None:
    """The data end on 04-09 (exclusive), so a 30-day window must start by 03-10 00:00.
    Contacts at 10:00 on 03-01 .. 03-30 (weekly snapshots; 03-10 .. 03-12 fall in the week
    of 03-06, whose own window would fit) are kept up to 03-09; a contact at exactly 03-10
    00:00 ends with the data and is kept."""
    ids = np.arange(1, 31)
    times = pd.DatetimeIndex(START + pd.to_timedelta(ids - 1, unit="D") + pd.Timedelta(hours=10))
    ix = pd.concat(
        [_contacts(ids, times), _contacts(np.array([31]), pd.to_datetime(["2023-03-10"]))],
        ignore_index=True,
    )
    tx = pd.concat(
        [
            _purchases(np.arange(1, 32), pd.DatetimeIndex([pd.Timestamp("2023-01-15")] * 31)),
            _purchases(np.array([0]), pd.to_datetime(["2023-04-08 15:00"])),  # the last event
        ],
        ignore_index=True,
    )
    tables = Tables(tx, ix)
    assert tables.observed_until == pd.Timestamp("2023-04-09")
    history = campaign_history(tables, ["spring"], "30D", SPEC)
    assert sorted(history.index) == [*range(1, 10), 31]
