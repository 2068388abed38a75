"""Labels for a horizon after a cut-off, and training frames stacked over several cut-offs."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import narwhals as nw
import pandas as pd

from cxml.data import Tables
from cxml.data.engine import collect
from cxml.data.sums import exact_sum
from cxml.dates import shown
from cxml.errors import SnapshotError
from cxml.features import sources
from cxml.features.snapshot import Output, as_output, snapshot_frame, to_pandas
from cxml.features.spec import FeatureSpec, Horizon, as_cutoff, window_end

DAYS_PER_YEAR = 365.25


def _check_window(tables: Tables, cutoff: dt.datetime, end: dt.datetime) -> None:
    if end > tables.observed_until:
        raise SnapshotError(
            f"label window [{shown(cutoff)}, {shown(end)}) runs past the end of the data "
            f"(observed until {shown(tables.observed_until)}, exclusive); use an earlier "
            "cut-off or a shorter horizon"
        )


def build_labels(
    tables: Tables,
    cutoff: Any,
    horizon: Horizon,
    *,
    churn_event: str | None = None,
    discount_rate: float = 0.0,
    output: Output = "pandas",
) -> Any:
    """Outcomes in [cutoff, cutoff + horizon) for every customer first seen before `cutoff`.

    Columns: ``churned`` (no purchase in the window; or, with `churn_event`, such an
    interaction event in the window, e.g. ``"cancellation"`` for contractual businesses;
    missing for customers who had one before `cutoff` and bought nothing since: they have
    churned already),
    ``future_transactions`` (purchase days in the window, as BTYD counts them) and
    ``future_value`` (purchase value in the window, each purchase discounted to the cut-off
    at the annual `discount_rate`: ``amount / (1 + rate) ** (days after cut-off / 365.25)``).
    Indexed by ``customer_id``; `output` as in :func:`build_snapshot`.
    """
    start, end = as_cutoff(cutoff), window_end(cutoff, horizon)
    _check_window(tables, start, end)
    population = sources.population(tables, start)
    labelled = with_labels(tables, population, start, end, churn_event, discount_rate)
    return as_output(
        labelled, output, lambda f: collect(f.sort("customer_id")).set_index("customer_id")
    )


def with_labels(
    tables: Tables,
    frame: nw.LazyFrame,
    start: dt.datetime,
    end: dt.datetime,
    churn_event: str | None,
    discount_rate: float = 0.0,
) -> nw.LazyFrame:
    """`frame` (one row per customer_id) with the label columns appended, lazily."""
    if not (isinstance(discount_rate, int | float) and -1 < discount_rate < math.inf):
        raise SnapshotError(f"discount_rate must be a number > -1, got {discount_rate!r}")
    columns = frame.collect_schema().names()
    future = tables.transactions.filter(
        (nw.col("timestamp") >= start) & (nw.col("timestamp") < end) & ~nw.col("is_return")
    )
    value = nw.col("amount")
    if discount_rate:
        years = (sources.days_since_epoch("timestamp") - sources.to_days(start)) / DAYS_PER_YEAR
        value = value * (-math.log1p(discount_rate) * years).exp()
    outcome = (
        future.with_columns(day=sources.days_since_epoch("timestamp").floor(), value=value)
        .group_by("customer_id")
        .agg(
            nw.col("day").n_unique().alias("future_transactions"),
            exact_sum(nw.col("value")).alias("future_value"),
        )
    )
    frame = frame.join(outcome, on="customer_id", how="left")
    frame = frame.with_columns(nw.col("future_transactions", "future_value").fill_null(0))
    if churn_event is None:
        return frame.select(
            *columns,
            (nw.col("future_transactions") == 0).alias("churned"),
            "future_transactions",
            "future_value",
        )
    if tables.interactions is None:
        raise SnapshotError(f"churn_event={churn_event!r} needs an interactions table")
    cancelled = (
        tables.interactions.filter(
            (nw.col("event_type") == churn_event)
            & (nw.col("timestamp") >= start)
            & (nw.col("timestamp") < end)
        )
        .select("customer_id")
        .unique()
        .with_columns(churned=nw.lit(True))
    )
    # A customer who has churned already is not at risk: no churn label (null).
    gone = sources.churned_before(tables, start, churn_event).with_columns(_gone=nw.lit(True))
    churned = nw.when(nw.col("_gone").is_null()).then(nw.col("churned").fill_null(False))
    return (
        frame.join(cancelled, on="customer_id", how="left")
        .join(gone, on="customer_id", how="left")
        .select(*columns, churned.alias("churned"), "future_transactions", "future_value")
    )


def build_training_frame(
    tables: Tables,
    cutoffs: Iterable[Any],
    horizon: Horizon,
    spec: FeatureSpec | None = None,
    *,
    churn_event: str | None = None,
    discount_rate: float = 0.0,
    output: Output = "pandas",
) -> Any:
    """Snapshots and labels at each cut-off, stacked, with a ``cutoff`` column.

    Refuses any cut-off whose label window runs past the end of the data. Labels as in
    :func:`build_labels`; `output` as in :func:`build_snapshot` (the lazy forms stack the
    cut-offs in one plan).
    """
    windows = sorted((as_cutoff(c), window_end(c, horizon)) for c in cutoffs)
    if not windows:
        raise SnapshotError("build_training_frame needs at least one cut-off")
    starts, ends = [start for start, _ in windows], [end for _, end in windows]
    for start, end in windows:
        _check_window(tables, start, end)
    if output != "pandas":
        lazy = [
            with_labels(
                tables,
                snapshot_frame(tables, s, spec or FeatureSpec()),
                s,
                e,
                churn_event,
                discount_rate,
            ).select(nw.lit(s).alias("cutoff"), nw.all())
            for s, e in zip(starts, ends, strict=True)
        ]
        return as_output(nw.concat(lazy), output, to_pandas)
    parts = []
    for start, end in zip(starts, ends, strict=True):
        # One query per cut-off: features and labels share the customer population.
        snapshot = snapshot_frame(tables, start, spec or FeatureSpec())
        part = to_pandas(with_labels(tables, snapshot, start, end, churn_event, discount_rate))
        part.insert(0, "cutoff", pd.Timestamp(start))
        parts.append(part)
    frame = pd.concat(parts)
    if frame.empty:
        raise SnapshotError(
            f"no customer is seen before any of the cut-offs {[shown(s) for s in starts]}"
        )
    return frame
