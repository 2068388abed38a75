"""The rows KPIs read: events before the end of the window, with `period` and `segment`.

Segments are either a customers-table attribute (joined on customer_id) or ``"channel"``:
the channel column of the row itself (a transaction's sales channel, an interaction's
channel), so that e.g. average order value can be split by where the order was placed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeAlias

import narwhals as nw
import pandas as pd
from narwhals.dtypes import DType

from cxml.data import Tables
from cxml.data.engine import collect
from cxml.errors import ParameterError
from cxml.kpis.periods import (
    Period,
    Window,
    as_moment,
    number_of,
    period_number,
    resolve_window,
    start_of,
)

#: `by` value that selects each row's own channel column instead of a customer attribute.
CHANNEL = "channel"
#: Segment label of every row when no `by` is given.
ALL = "all"
#: Segment label of rows whose attribute or channel is missing (or customers not in the
#: customers table): a label, not a null, so that such rows are counted and shown.
MISSING = "(missing)"

#: KPI name -> its counts (columns segment, period, numerator, denominator), or the reason
#: it is not available.
Measures: TypeAlias = dict[str, pd.DataFrame | str]


@dataclass(frozen=True)
class Inputs:
    """The tables, reporting period, end of the data and segmentation one computation uses."""

    tables: Tables
    period: Period
    end: dt.datetime
    by: str | None

    def rows(self, table: str, timestamp: str = "timestamp") -> nw.LazyFrame | str:
        """Rows of `table` with `timestamp` (a date column as its midnight) before the end,
        plus `period` and `segment`; or why there are none (the table or its channel column
        is missing)."""
        frame: nw.LazyFrame | None = getattr(self.tables, table)
        if frame is None:
            return f"no {table} table"
        schema = frame.collect_schema()
        columns = schema.names()
        if timestamp not in columns:
            return f"the {table} table has no {timestamp} column"
        frame = (
            frame.with_columns(as_timestamp(timestamp, schema[timestamp]))
            .filter(nw.col(timestamp) < self.end)
            .with_columns(period=period_number(timestamp, self.period))
        )
        if self.by is None:
            return frame.with_columns(segment=nw.lit(ALL, nw.String))
        if self.by == CHANNEL:
            if CHANNEL not in columns:
                return f"the {table} table has no channel column"
            return frame.with_columns(segment=_label(CHANNEL))
        if table == "customers":
            return frame.with_columns(segment=_label(self.by))
        return frame.join(self.segments(), on="customer_id", how="left").with_columns(
            nw.col("segment").fill_null(MISSING)
        )

    def segments(self) -> nw.LazyFrame:
        """customer_id and segment, from the customers table's `by` attribute."""
        assert self.tables.customers is not None and self.by is not None
        return self.tables.customers.select("customer_id", segment=_label(self.by))


def as_timestamp(column: str, dtype: DType) -> nw.Expr:
    """A timestamp or date column as a timestamp: a date is its midnight (naive UTC, as
    `Tables` stores times)."""
    expression = nw.col(column)
    return expression.cast(nw.Datetime("us")) if dtype == nw.Date else expression


def _label(column: str) -> nw.Expr:
    return nw.col(column).cast(nw.String).fill_null(MISSING)


def reporting_window(tables: Tables, period: Period, start: Any, end: Any) -> Window:
    """The whole periods between `start` (default: the start of the period of the first
    transaction) and `end` (default: `tables.observed_until`)."""
    end_moment = tables.observed_until if end is None else as_moment(end, "end")
    if start is None:
        first = collect(tables.transactions.select(nw.col("timestamp").min()))
        moment = pd.DatetimeIndex(first["timestamp"])
        start_moment = start_of(number_of(moment, period), period)[0].to_pydatetime()
    else:
        start_moment = as_moment(start, "start")
    return resolve_window(period, start_moment, end_moment)


def check_by(tables: Tables, by: str | None) -> str | None:
    """`by` if it names ``"channel"`` or a customers-table attribute."""
    if by is None or by == CHANNEL:
        return by
    if tables.customers is None:
        raise ParameterError(
            f"by={by!r} needs a customers table with that attribute; pass customers= to "
            "Tables, or use by='channel' or by=None"
        )
    attributes = [c for c in tables.customers.collect_schema().names() if c != "customer_id"]
    if by not in attributes:
        raise ParameterError(
            f"by={by!r} is not a customers-table attribute; choose one of {attributes}, "
            "'channel' or None"
        )
    return by


def measure(frame: pd.DataFrame, numerator: pd.Series, denominator: pd.Series) -> pd.DataFrame:
    """A KPI's counts: the segment and period of `frame` rows with numerator and denominator."""
    return pd.DataFrame(
        {
            "segment": frame["segment"],
            "period": frame["period"],
            "numerator": numerator.astype("float64"),
            "denominator": denominator.astype("float64"),
        }
    )
