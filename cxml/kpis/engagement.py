"""Activity KPIs: DAU, WAU, MAU, stickiness (DAU / MAU) and the referral rate.

A customer is active on a day with a purchase or a customer-initiated interaction (see
`CUSTOMER_INITIATED`). For each day d, DAU(d) counts customers active on d, WAU(d) those
active in the 7 days ending on d and MAU(d) those active in the 30 days ending on d; a
period's value is the mean over its days. The referral rate is the share of the period's
active customers who made a referral in it.

An active day d keeps its customer counted in a w-day window on days d .. d + w - 1, or
until the customer's next active day if that comes sooner (so nothing is counted twice).
One engine query reduces the active days to counts per (segment, day, gap to the next active
day, whether the customer referred in the period); pandas turns those few rows (at most
segments x days x 33 x 2) into daily counts.
"""

from __future__ import annotations

import narwhals as nw
import numpy as np
import pandas as pd

from cxml.data.engine import collect
from cxml.features.sources import days_since_epoch
from cxml.kpis.catalogue import CUSTOMER_INITIATED, names
from cxml.kpis.inputs import Inputs, Measures, measure
from cxml.kpis.periods import days_in, number_of

#: Trailing windows in days; 1 is DAU.
WINDOWS: dict[str, int] = {"dau": 1, "wau": 7, "mau": 30}
_WIDEST = max(WINDOWS.values())
#: Gaps to the next active day are capped here: beyond every window and every period.
_CAP = 32
_EPOCH = pd.Timestamp("1970-01-01")


def active_rows(inputs: Inputs) -> nw.LazyFrame | str:
    """Activity before the end: customer_id, segment, period, timestamp and `referral`
    (the row is a referral event); or why there is none."""
    columns = ("customer_id", "segment", "period", "timestamp", "referral")
    parts = []
    purchases = inputs.rows("transactions")
    if not isinstance(purchases, str):
        parts.append(
            purchases.filter(~nw.col("is_return"))
            .with_columns(referral=nw.lit(False, nw.Boolean))
            .select(*columns)
        )
    interactions = inputs.rows("interactions")
    if not isinstance(interactions, str):
        parts.append(
            interactions.filter(nw.col("event_type").is_in(CUSTOMER_INITIATED))
            .with_columns(referral=nw.col("event_type") == "referral")
            .select(*columns)
        )
    if not parts:
        return purchases
    return nw.concat(parts)


def engagement_kpis(inputs: Inputs) -> Measures:
    """DAU, WAU, MAU, stickiness and referral rate per period."""
    activity = active_rows(inputs)
    kpis = [*names("engagement"), "referral_rate"]
    if isinstance(activity, str):
        return dict.fromkeys(kpis, activity)
    customer = ("customer_id", "segment")
    days = (
        activity.with_columns(day=days_since_epoch("timestamp").floor().cast(nw.Int64))
        .group_by(*customer, "period", "day")
        .agg(referral=nw.col("referral").max())
    )
    gap = nw.col("day").shift(-1).over(*customer, order_by="day") - nw.col("day")
    spans = collect(
        days.with_columns(
            gap=nw.when(gap < _CAP).then(gap).otherwise(_CAP),
            referrer=nw.col("referral").max().over(*customer, "period"),
        )
        .group_by("segment", "period", "day", "gap", "referrer")
        .agg(n=nw.len())
    )
    # A customer's last active day in a period is the one whose next active day (capped
    # beyond any period's length) falls in a later period: counting those counts each
    # active customer of the period once, without a distinct count per period.
    later = _EPOCH + pd.to_timedelta(spans["day"] + spans["gap"], unit="D")
    spans["last"] = number_of(pd.DatetimeIndex(later), inputs.period) != spans["period"]
    measures = _window_counts(spans, inputs)
    measures["referral_rate"] = _referral_rate(spans, inputs)
    return measures


def _window_counts(spans: pd.DataFrame, inputs: Inputs) -> Measures:
    """DAU, WAU, MAU and stickiness from the span counts."""
    if spans.empty:
        nothing = measure(spans, spans["n"], spans["n"])
        return dict.fromkeys([*WINDOWS, "stickiness"], nothing)
    last_day = (pd.Timestamp(inputs.end).floor("D") - _EPOCH).days
    daily = pd.concat(
        [_daily(segment, rows, last_day) for segment, rows in spans.groupby("segment")],
        ignore_index=True,
    )
    moments = pd.DatetimeIndex(_EPOCH + pd.to_timedelta(daily["day"], unit="D"))
    daily["period"] = number_of(moments, inputs.period)
    sums = daily.groupby(["segment", "period"], as_index=False)[list(WINDOWS)].sum()
    n_days = pd.Series(days_in(sums["period"].to_numpy(), inputs.period), index=sums.index)
    measures: Measures = {kpi: measure(sums, sums[kpi], n_days) for kpi in WINDOWS}
    measures["stickiness"] = measure(sums, sums["dau"], sums["mau"])
    return measures


def _daily(segment: str, spans: pd.DataFrame, last_day: int) -> pd.DataFrame:
    """Customers counted on each day up to `last_day` in each window: started spans minus
    ended ones, accumulated."""
    first_day = int(spans["day"].min())
    size = last_day - first_day + 1 + _WIDEST
    start = (spans["day"] - first_day).to_numpy(np.int64)
    n = spans["n"].to_numpy(np.float64)
    counts = {}
    for kpi, width in WINDOWS.items():
        stop = start + np.minimum(spans["gap"].to_numpy(np.int64), width)
        change = np.bincount(start, n, size) - np.bincount(stop, n, size)
        counts[kpi] = np.cumsum(change)[: size - _WIDEST]
    return pd.DataFrame({"segment": segment, "day": np.arange(first_day, last_day + 1), **counts})


def _referral_rate(spans: pd.DataFrame, inputs: Inputs) -> pd.DataFrame | str:
    """Customers with a referral among active customers, per segment and period."""
    interactions = inputs.rows("interactions")
    if isinstance(interactions, str):
        return interactions
    last = spans[spans["last"]]
    counted = last.assign(active=last["n"], referrers=last["n"].where(last["referrer"], 0))
    counts = counted.groupby(["segment", "period"], as_index=False)[["active", "referrers"]].sum()
    if counts["referrers"].sum() == 0:
        return "no referral events before the end"
    return measure(counts, counts["referrers"], counts["active"])
