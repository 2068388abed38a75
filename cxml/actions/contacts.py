"""Past contacts read from the interactions table: cool-down recency and campaign history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from cxml.actions.catalogue import contact_column
from cxml.data import Tables
from cxml.data.engine import collect
from cxml.errors import SnapshotError
from cxml.features import FeatureSpec, build_training_frame
from cxml.features.sources import events, to_days
from cxml.features.spec import Horizon, as_cutoff, window_end

#: At most this many distinct snapshot dates for a campaign history; beyond it contact days
#: are floored to weeks, then months (an earlier snapshot never sees post-contact events).
MAX_CONTACT_CUTOFFS = 24
CAMPAIGN_EVENT = "campaign_contact"


def days_since_contact(
    tables: Tables, as_of: Any, channels: Sequence[str], event_types: Collection[str]
) -> pd.DataFrame:
    """Days from each customer's last contact on each channel to `as_of`.

    Columns ``days_since_contact_<channel>`` (NaN: never contacted on it), one row per
    customer with such a contact, indexed by customer_id. Contacts are interactions of the
    given event types strictly before `as_of`, except held-out controls (``treatment``
    false): they were not contacted.
    """
    cutoff = as_cutoff(as_of)
    columns = [contact_column(c) for c in channels]
    empty = pd.DataFrame(columns=columns, index=pd.Index([], name="customer_id"), dtype=float)
    if not channels or tables.interactions is None:
        return empty
    if "channel" not in tables.interactions.collect_schema().names():
        return empty
    contacted = nw.col("event_type").is_in(list(event_types)) & nw.col("channel").is_in(
        list(channels)
    )
    if "treatment" in tables.interactions.collect_schema().names():
        contacted = contacted & nw.col("treatment").fill_null(True)  # a held-out control is not
    last = collect(
        events(tables, cutoff)
        .filter(contacted)
        .group_by("customer_id", "channel")
        .agg(nw.col("t").max())
    )
    if last.empty:
        return empty
    last["days"] = to_days(cutoff) - last["t"].astype(float)
    wide = last.pivot(index="customer_id", columns="channel", values="days")
    wide = wide.reindex(columns=list(channels)).astype(float)
    wide.columns = columns
    wide.columns.name = None
    return wide


def campaign_contacts(tables: Tables, campaigns: Collection[str]) -> pd.DataFrame:
    """The randomised contacts of `campaigns`: customer_id, campaign_id, treatment, timestamp.

    Rows without a treatment flag are dropped; a customer contacted more than once in a
    campaign keeps the first contact.
    """
    names = ["customer_id", "campaign_id", "treatment", "timestamp"]
    if tables.interactions is None or not campaigns:
        return pd.DataFrame(columns=names)
    have = tables.interactions.collect_schema().names()
    missing = [c for c in ("campaign_id", "treatment") if c not in have]
    if missing:
        raise SnapshotError(
            f"table 'interactions' lacks {missing}: learned action effects need campaign "
            "contacts with campaign_id and treatment (see docs/actions.md)"
        )
    frame = collect(
        tables.interactions.filter(
            (nw.col("event_type") == CAMPAIGN_EVENT)
            & nw.col("campaign_id").is_in(list(campaigns))
            & ~nw.col("treatment").is_null()
        ).select(names)
    )
    frame = frame.sort_values(["campaign_id", "customer_id", "timestamp"], kind="stable")
    return frame.drop_duplicates(["campaign_id", "customer_id"]).reset_index(drop=True)


def contact_cutoffs(timestamps: pd.Series) -> pd.Series:
    """The snapshot date of each contact: its day, or its week or month when there are many."""
    for freq in ("D", "W", "M"):
        cutoffs = timestamps.dt.to_period(freq).dt.start_time
        if cutoffs.nunique() <= MAX_CONTACT_CUTOFFS:
            break
    return cutoffs


def campaign_history(
    tables: Tables,
    campaigns: Collection[str],
    horizon: Horizon,
    spec: FeatureSpec,
    *,
    churn_event: str | None = None,
) -> pd.DataFrame:
    """One row per randomised contact whose outcome window lies in the data.

    The features are the snapshot at the contact's cut-off (`contact_cutoffs`), the outcome
    is ``retained`` = 1 - churned over `horizon` after it (the pipeline's churn definition),
    with ``campaign_id`` and ``treatment``; contacts of customers who had churned already
    (event churn) are left out. Indexed by customer_id.
    """
    contacts = campaign_contacts(tables, campaigns)
    if contacts.empty:
        return contacts.assign(cutoff=pd.Series(dtype="datetime64[us]"), retained=np.nan)
    contacts["cutoff"] = contact_cutoffs(contacts["timestamp"])
    complete = contacts["cutoff"].map(lambda c: window_end(c, horizon) <= tables.observed_until)
    contacts = contacts[complete.to_numpy(dtype=bool)]
    if contacts.empty:
        return contacts.assign(retained=np.nan)
    frame = build_training_frame(
        tables, sorted(contacts["cutoff"].unique()), horizon, spec, churn_event=churn_event
    ).reset_index()
    frame["cutoff"] = frame["cutoff"].astype(contacts["cutoff"].dtype)
    history = contacts.drop(columns="timestamp").merge(frame, on=["customer_id", "cutoff"])
    history = history[history["churned"].notna().to_numpy()].copy()  # not churned already
    history["retained"] = 1.0 - history["churned"].astype(float)
    history["treatment"] = history["treatment"].astype(bool)
    return history.set_index("customer_id")
