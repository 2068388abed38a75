"""Source frames the catalogue aggregates, as lazy narwhals frames (engine-agnostic).

Times become `t`, days since 1970-01-01 UTC as a float, so every window is a numeric
comparison against the cut-off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import narwhals as nw

from cxml.data import Tables
from cxml.data.sums import exact_sum, on_grid

EPOCH = dt.datetime(1970, 1, 1)
_US_PER_DAY = 86_400_000_000
_LEAP_DAYS_BEFORE_1970 = 1969 // 4 - 1969 // 100 + 1969 // 400


def days_since_epoch(column: str) -> nw.Expr:
    """A timestamp column as fractional days since 1970-01-01.

    Built from calendar fields, which every engine extracts (narwhals has no duration
    arithmetic on Spark): whole days by the Gregorian calendar plus the microseconds of the
    day, as one 64-bit count divided once, so every engine rounds alike.
    """
    ts = nw.col(column).dt
    year = ts.year().cast(nw.Int64)
    before = year - 1
    leap_days = before // 4 - before // 100 + before // 400 - _LEAP_DAYS_BEFORE_1970
    days = 365 * (year - 1970) + leap_days + ts.ordinal_day().cast(nw.Int64) - 1
    seconds = (ts.hour().cast(nw.Int64) * 60 + ts.minute()) * 60 + ts.second()
    micros = days * _US_PER_DAY + seconds * 1_000_000 + ts.microsecond()
    return micros / _US_PER_DAY


def to_days(moment: dt.datetime) -> float:
    """A datetime as fractional days since 1970-01-01."""
    return (moment - EPOCH) / dt.timedelta(days=1)


def lines(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Transaction lines strictly before the cut-off, with `t`; amounts on the grid the
    sums count in (`cxml.data.sums`), so an order's value is the same alone or summed."""
    return tables.transactions.filter(nw.col("timestamp") < cutoff).with_columns(
        t=days_since_epoch("timestamp"), amount=on_grid(nw.col("amount"))
    )


def orders(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Purchases (not returns) per order: customer_id, t (first line), value. A line without
    an order_id is an order of its own."""
    purchases = lines(tables, cutoff).filter(~nw.col("is_return"))
    return orders_of(purchases, ("customer_id",), "t")


def orders_of(purchases: nw.LazyFrame, keys: Sequence[str], first: str) -> nw.LazyFrame:
    """Purchase lines as orders: `keys`, `first` (its minimum over the order's lines) and
    value (their amount). The lines sharing `keys` and an order_id are one order; a line
    without an order_id, or every line without an order_id column, is an order of its own.
    The one rule for orders, shared by the feature catalogue and the KPIs."""
    value = nw.col("amount").alias("value")
    if "order_id" not in purchases.collect_schema().names():
        return purchases.select(*keys, first, value)
    grouped = (
        purchases.filter(~nw.col("order_id").is_null())
        .group_by(*keys, "order_id")
        .agg(nw.col(first).min(), exact_sum(nw.col("amount")).alias("value"))
        .select(*keys, first, "value")
    )
    single = purchases.filter(nw.col("order_id").is_null()).select(*keys, first, value)
    return nw.concat([grouped, single])


def days(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Purchase days: customer_id, day, amount (day total), gap to the previous day."""
    daily = (
        lines(tables, cutoff)
        .filter(~nw.col("is_return"))
        .with_columns(day=nw.col("t").floor())
        .group_by("customer_id", "day")
        .agg(exact_sum(nw.col("amount")).alias("amount"))
    )
    return daily.with_columns(gap=nw.col("day").diff().over("customer_id", order_by="day"))


def events(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Interactions strictly before the cut-off, with `t`."""
    assert tables.interactions is not None
    return tables.interactions.filter(nw.col("timestamp") < cutoff).with_columns(
        t=days_since_epoch("timestamp")
    )


def latest(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Each customer's latest answer per survey type (ties at one time are averaged)."""
    surveys = events(tables, cutoff).filter(nw.col("event_type").is_in(["nps", "csat", "ces"]))
    return surveys.filter(nw.col("t") == nw.col("t").max().over("customer_id", "event_type"))


def churned_by(last_event: nw.Expr, last_purchase: nw.Expr) -> nw.Expr:
    """Whether a customer has churned by a churn event (contractual churn): they had one
    (`last_event`, its time) and bought nothing after it (`last_purchase`, null if never).
    A purchase after a cancellation is a new subscription."""
    return ~last_event.is_null() & (last_purchase.is_null() | (last_event >= last_purchase))


def churned_before(tables: Tables, cutoff: dt.datetime, event: str) -> nw.LazyFrame:
    """The customer_id of every customer who has churned by `event` before the cut-off."""
    last_event = (
        events(tables, cutoff)
        .filter(nw.col("event_type") == event)
        .group_by("customer_id")
        .agg(nw.col("t").max().alias("_event_t"))
    )
    last_purchase = orders(tables, cutoff).group_by("customer_id").agg(nw.col("t").max())
    return (
        last_event.join(last_purchase, on="customer_id", how="left")
        .filter(churned_by(nw.col("_event_t"), nw.col("t")))
        .select("customer_id")
    )


#: The signup time in days that `customers` adds to the customers table.
SIGNUP_T = "t_signup"


def customers(tables: Tables, cutoff: dt.datetime) -> nw.LazyFrame:
    """Customers signed up before the cut-off (or without a signup date), with `SIGNUP_T`."""
    assert tables.customers is not None
    frame = tables.customers
    if "signup_date" in frame.collect_schema().names():
        frame = frame.filter(nw.col("signup_date").is_null() | (nw.col("signup_date") < cutoff))
        frame = frame.with_columns(days_since_epoch("signup_date").alias(SIGNUP_T))
    return frame


def population(tables: Tables, cutoff: dt.datetime, undated: bool = False) -> nw.LazyFrame:
    """Customers first seen before the cut-off: a purchase, an interaction or a signup.

    With `undated`, rows of the customers table without a signup date (every row, when it
    has no such column) count as seen: right for scoring the present, where every customer
    gets a row, but not for past cut-offs, when they may not have been customers yet.
    """
    ids = [lines(tables, cutoff).select("customer_id")]
    if tables.interactions is not None:
        ids.append(events(tables, cutoff).select("customer_id"))
    if tables.customers is not None:
        if "signup_date" in tables.customers.collect_schema().names():
            signed = nw.col("signup_date") < cutoff
            if undated:
                signed = signed | nw.col("signup_date").is_null()
            ids.append(tables.customers.filter(signed).select("customer_id"))
        elif undated:
            ids.append(tables.customers.select("customer_id"))
    return nw.concat(ids).group_by("customer_id").agg()


SOURCES = {
    "lines": lines,
    "orders": orders,
    "days": days,
    "events": events,
    "latest": latest,
    "customers": customers,
}
