"""`compute_kpis`: every KPI of the catalogue per period and segment, as one tidy table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxml.data import Tables
from cxml.errors import ParameterError
from cxml.kpis.catalogue import BY_NAME, KPIS, Family
from cxml.kpis.engagement import engagement_kpis
from cxml.kpis.experience import survey_and_support_kpis
from cxml.kpis.inputs import ALL, Inputs, Measures, check_by, reporting_window
from cxml.kpis.periods import Window, check_period, days_in, start_of
from cxml.kpis.purchases import purchase_kpis
from cxml.kpis.trials import trial_kpis

#: Which function measures each family (families sharing one pass over the data share one).
_MEASURED_BY: dict[Family, Callable[[Inputs], Measures]] = {
    "retention": purchase_kpis,
    "purchases": purchase_kpis,
    "surveys": survey_and_support_kpis,
    "support": survey_and_support_kpis,
    "referrals": engagement_kpis,
    "engagement": engagement_kpis,
    "trials": trial_kpis,
}
COLUMNS = (
    "period_start",
    "segment",
    "kpi",
    "value",
    "numerator",
    "denominator",
    "available",
    "reason",
)


def compute_kpis(
    tables: Tables,
    *,
    period: str = "M",
    by: str | None = None,
    start: Any = None,
    end: Any = None,
    kpis: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Customer-experience KPIs per period (and segment), as a tidy table.

    Parameters
    ----------
    tables
        Validated customer histories.
    period
        ``"D"`` (calendar day), ``"W"`` (ISO week, from Monday) or ``"M"`` (calendar month).
    by
        A customers-table attribute to segment by, ``"channel"`` for each row's own channel
        column, or None (one segment, ``"all"``).
    start, end
        Whole periods starting at or after `start` and over by `end` are reported; events at
        or after `end` are never read. Defaults: the period of the first transaction, and
        ``tables.observed_until``. A later `end` is taken as given (the data then cover
        periods without events): if the data stop earlier, those periods show every
        customer churned and nobody active.
    kpis
        Names from `cxml.kpis.KPIS` to compute; default all.

    Returns
    -------
    pandas.DataFrame
        One row per KPI, segment and period: ``period_start, segment, kpi, value, numerator,
        denominator, available, reason``, where ``value = scale * numerator / denominator``
        (null when the denominator is 0). A KPI whose input is missing (no interactions table,
        no nps answers, no trial fields, no channel column) has ``available=False``, the
        ``reason``, and null value, numerator and denominator: never 0.
    """
    names = _check_kpis(kpis)
    window = reporting_window(tables, check_period(period), start, end)
    inputs = Inputs(tables, window.period, window.end, check_by(tables, by))
    measures: Measures = {}
    for function in dict.fromkeys(_MEASURED_BY[BY_NAME[name].family] for name in names):
        measures.update(function(inputs))
    segments = sorted(
        {s for m in measures.values() if not isinstance(m, str) for s in m["segment"]}
    )
    # Segments come from what was counted; with nothing counted anywhere, one row per period.
    parts = [_tidy(name, measures[name], segments or [ALL], window) for name in names]
    return pd.concat(parts, ignore_index=True)


def _tidy(
    name: str, measured: pd.DataFrame | str, segments: list[str], window: Window
) -> pd.DataFrame:
    """One KPI on the full grid of reported periods x segments."""
    grid = pd.MultiIndex.from_product([segments, window.numbers], names=["segment", "period"])
    frame = grid.to_frame(index=False)
    kpi = BY_NAME[name]
    if isinstance(measured, str):
        frame["numerator"] = np.nan
        frame["denominator"] = np.nan
        frame["value"] = np.nan
        frame["available"] = False
        frame["reason"] = measured
    else:
        frame = frame.merge(measured, on=["segment", "period"], how="left")
        # A period with no rows for this KPI had nothing to count: zero counts, real zeros.
        empty = days_in(frame["period"].to_numpy(), window.period) if kpi.per_day else 0
        frame["denominator"] = frame["denominator"].fillna(pd.Series(empty, index=frame.index))
        frame["numerator"] = frame["numerator"].fillna(0.0)
        ratio = frame["numerator"] / frame["denominator"].where(frame["denominator"] > 0)
        frame["value"] = kpi.scale * ratio
        frame["available"] = True
        frame["reason"] = None
    frame["period_start"] = start_of(frame["period"].to_numpy(), window.period)
    frame["kpi"] = name
    frame["reason"] = frame["reason"].astype(object)
    return frame[list(COLUMNS)]


def _check_kpis(kpis: Sequence[str] | None) -> list[str]:
    if kpis is None:
        return [kpi.name for kpi in KPIS]
    if isinstance(kpis, str):
        kpis = [kpis]
    unknown = [name for name in kpis if name not in BY_NAME]
    if unknown:
        raise ParameterError(f"unknown KPI(s) {unknown}; choose from {list(BY_NAME)}")
    return list(dict.fromkeys(kpis))
