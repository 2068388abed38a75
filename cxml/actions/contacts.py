"""Past contacts read from the interactions table: cool-down recency and campaign history."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd

from cxml.actions.catalogue import contact_column
from cxml.data import Tables
from cxml.data.engine import collect, read_source, to_lazy
from cxml.errors import SnapshotError
from cxml.features import FeatureSpec, build_training_frame
from cxml.features.sources import churned_by, days_since_epoch, events, orders_of, to_days
from cxml.features.spec import LABELS, Horizon, as_cutoff, parse_horizon

#: At most this many distinct snapshot dates for a campaign history; beyond it contact days
#: are floored to weeks, then months (an earlier snapshot never sees post-contact events).
MAX_CONTACT_CUTOFFS = 24
CAMPAIGN_EVENT = "campaign_contact"
#: A contact is one customer in one campaign.
CONTACT_KEYS = ("campaign_id", "customer_id")


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


def outcome_ends(timestamps: pd.Series, horizon: Horizon) -> pd.Series:
    """Exclusive end of each contact's outcome window [contact, contact + horizon)."""
    return timestamps + parse_horizon(horizon)


def _purchases(tables: Tables) -> nw.LazyFrame:
    """Purchase lines (not returns) with the columns an outcome needs."""
    names = tables.transactions.collect_schema().names()
    kept = ["customer_id", "timestamp", "amount", *(["order_id"] if "order_id" in names else [])]
    return tables.transactions.filter(~nw.col("is_return")).select(kept)


def _churned_before_contact(churn_events: nw.LazyFrame, purchases: nw.LazyFrame) -> nw.LazyFrame:
    """The contacts whose customer had churned by the churn event before the contact
    (`churned_by` at the contact's ``_start``, as `churned_before` at a cut-off), with
    ``_gone`` true. Both frames are contacts joined to the customer's events or purchases."""
    keys = list(CONTACT_KEYS)
    before = nw.col("timestamp") < nw.col("_start")
    last_event = (
        churn_events.filter(before)
        .group_by(*keys)
        .agg(days_since_epoch("timestamp").max().alias("_event_t"))
    )
    lines = purchases.filter(before).with_columns(t=days_since_epoch("timestamp"))
    last_purchase = orders_of(lines, keys, "t").group_by(*keys).agg(nw.col("t").max())
    return (
        last_event.join(last_purchase, on=keys, how="left")
        .filter(churned_by(nw.col("_event_t"), nw.col("t")))
        .select(*keys, nw.lit(True).alias("_gone"))
    )


def contact_outcomes(
    tables: Tables, contacts: pd.DataFrame, churn_event: str | None = None
) -> pd.DataFrame:
    """The labels of each contact over its own window [``timestamp``, ``end``), computed by
    the engine: campaign_id, customer_id and the label columns as `with_labels` defines them
    at a cut-off (``churned`` missing for a customer who had churned by `churn_event`
    before the contact)."""
    keys = list(CONTACT_KEYS)
    windows = contacts[[*keys, "timestamp", "end"]].rename(
        columns={"timestamp": "_start", "end": "_end"}
    )
    lazy = to_lazy(read_source(windows, "contacts", tables.connection))
    purchases = lazy.join(_purchases(tables), on="customer_id")
    during = (nw.col("timestamp") >= nw.col("_start")) & (nw.col("timestamp") < nw.col("_end"))
    outcome = (
        purchases.filter(during)
        .with_columns(day=days_since_epoch("timestamp").floor())
        .group_by(*keys)
        .agg(
            nw.col("day").n_unique().alias("future_transactions"),
            nw.col("amount").sum().alias("future_value"),
        )
    )
    frame = lazy.select(*keys).join(outcome, on=keys, how="left")
    frame = frame.with_columns(nw.col("future_transactions", "future_value").fill_null(0))
    churned = nw.col("future_transactions") == 0
    if churn_event is not None:
        if tables.interactions is None:
            raise SnapshotError(f"churn_event={churn_event!r} needs an interactions table")
        churn_events = lazy.join(
            tables.interactions.filter(nw.col("event_type") == churn_event).select(
                "customer_id", "timestamp"
            ),
            on="customer_id",
        )
        cancelled = churn_events.filter(during).select(*keys).unique()
        gone = _churned_before_contact(churn_events, purchases)
        frame = frame.join(
            cancelled.with_columns(_cancelled=nw.lit(True)), on=keys, how="left"
        ).join(gone, on=keys, how="left")
        churned = nw.when(nw.col("_gone").is_null()).then(nw.col("_cancelled").fill_null(False))
    return collect(frame.select(*keys, churned.alias(LABELS[0]), *LABELS[1:]))


def campaign_history(
    tables: Tables,
    campaigns: Collection[str],
    horizon: Horizon,
    spec: FeatureSpec,
    *,
    churn_event: str | None = None,
) -> pd.DataFrame:
    """One row per randomised contact whose outcome window lies in the data.

    The features are the snapshot at the contact's cut-off (`contact_cutoffs`, never after
    the contact), the outcome is ``retained`` = 1 - churned over [contact, contact +
    `horizon`) (the pipeline's churn definition; see `contact_outcomes`), with
    ``campaign_id`` and ``treatment``; contacts of customers who had churned already (event
    churn) are left out. Indexed by customer_id.
    """
    contacts = campaign_contacts(tables, campaigns)
    if contacts.empty:
        return contacts.assign(cutoff=pd.Series(dtype="datetime64[us]"), retained=np.nan)
    contacts["end"] = outcome_ends(contacts["timestamp"], horizon)
    contacts = contacts[(contacts["end"] <= tables.observed_until).to_numpy(dtype=bool)]
    if contacts.empty:
        return contacts.drop(columns="end").assign(
            cutoff=pd.Series(dtype="datetime64[us]"), retained=np.nan
        )
    contacts["cutoff"] = contact_cutoffs(contacts["timestamp"])
    features = build_training_frame(tables, sorted(contacts["cutoff"].unique()), horizon, spec)
    features = features.drop(columns=list(LABELS)).reset_index()
    features["cutoff"] = features["cutoff"].astype(contacts["cutoff"].dtype)
    history = (
        contacts[["customer_id", "campaign_id", "treatment", "cutoff"]]
        .merge(features, on=["customer_id", "cutoff"])
        .merge(contact_outcomes(tables, contacts, churn_event), on=list(CONTACT_KEYS))
    )
    history = history[history["churned"].notna().to_numpy()].copy()  # not churned already
    history["retained"] = 1.0 - history["churned"].astype(float)
    history["treatment"] = history["treatment"].astype(bool)
    return history.set_index("customer_id")
