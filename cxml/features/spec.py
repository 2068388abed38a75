"""What a snapshot should contain (`FeatureSpec`) and how cut-offs and horizons are read."""

from __future__ import annotations

import datetime as dt
import math
import re
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator

from cxml.errors import SnapshotError
from cxml.fields import Float, Int

Group = Literal[
    "btyd", "recency", "orders", "windows", "gaps", "mix", "interactions", "cx", "attributes"
]
ALL_GROUPS: tuple[Group, ...] = (
    "btyd",
    "recency",
    "orders",
    "windows",
    "gaps",
    "mix",
    "interactions",
    "cx",
    "attributes",
)
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0}
#: Columns cxml adds beside the features: the labels of a horizon, and a training frame's
#: cut-off. A customers-table attribute may not take these names.
LABELS = ("churned", "future_transactions", "future_value")
CUTOFF = "cutoff"
DEFAULT_EVENT_TYPES = (
    "web_visit",
    "app_visit",
    "email_sent",
    "email_open",
    "email_click",
    "support_ticket",
    "referral",
    "campaign_contact",
)


class FeatureSpec(BaseModel):
    """Which feature groups to build, over which windows, in which BTYD time unit.

    Parameters
    ----------
    groups
        Feature groups of the catalogue to include (see ``cxml.features.catalogue``).
    windows
        Look-back windows in days for counts, revenue and trends.
    time_unit
        Unit of the BTYD columns ``recency`` and ``T``: ``"D"`` (days), ``"W"`` (weeks) or a
        number of days.
    event_types
        Interaction event types counted per window.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    groups: tuple[Group, ...] = ALL_GROUPS
    windows: tuple[Int, ...] = (30, 90, 180, 365)
    time_unit: Literal["D", "W"] | Float = "D"
    event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES

    @field_validator("windows")
    @classmethod
    def _positive_sorted(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(w <= 0 for w in value):
            raise ValueError("windows must be a non-empty list of positive day counts")
        return tuple(sorted(set(value)))

    @field_validator("time_unit")
    @classmethod
    def _positive_unit(cls, value: str | float) -> str | float:
        if not isinstance(value, str) and value <= 0:
            raise ValueError("time_unit must be 'D', 'W' or a positive number of days")
        return value

    @property
    def unit_days(self) -> float:
        """Length of one BTYD time unit in days."""
        return (
            TIME_UNITS[self.time_unit] if isinstance(self.time_unit, str) else float(self.time_unit)
        )


Horizon = int | float | str | dt.timedelta | pd.DateOffset
MAX_HORIZON_YEARS = 100
_HORIZON = re.compile(r"^\s*(\d+)\s*([DWMY])\s*$", re.IGNORECASE)


def _whole_days(horizon: Any) -> int | None:
    """A number of days as an int: Python or numpy integers and whole floats (90.0); None
    for anything else, booleans and fractional days included."""
    if isinstance(horizon, bool | np.bool_):
        return None
    if isinstance(horizon, Integral):
        return int(horizon)
    if isinstance(horizon, Real) and math.isfinite(horizon) and float(horizon).is_integer():
        return int(horizon)
    return None


def parse_horizon(horizon: Horizon) -> pd.DateOffset | pd.Timedelta:
    """A horizon as days (an integer, numpy's too, or a whole float such as 90.0), a
    timedelta, a DateOffset or text: '90D', '26W', '6M', '1Y'.

    Months and years are calendar offsets, so '6M' from 1998-01-01 ends at 1998-07-01.
    Booleans and fractional days are refused.
    """
    if (days := _whole_days(horizon)) is not None:
        try:
            offset: Any = pd.Timedelta(days=days)
        except (OverflowError, ValueError):  # beyond pandas' ~292 years: too long below
            offset = pd.Timedelta.max
    elif isinstance(horizon, dt.timedelta):
        offset = pd.Timedelta(horizon)
    elif isinstance(horizon, pd.offsets.BaseOffset):
        offset = horizon
    elif isinstance(horizon, str) and (m := _HORIZON.match(horizon)):
        n, unit = int(m.group(1)), m.group(2).upper()
        offset = {
            "D": pd.Timedelta(days=n),
            "W": pd.Timedelta(weeks=n),
            "M": pd.DateOffset(months=n),
            "Y": pd.DateOffset(years=n),
        }[unit]
    else:
        raise SnapshotError(
            "horizon must be a positive whole number of days or text like '90D', '26W', '6M', "
            f"'1Y'; got {horizon!r}"
        )
    start = pd.Timestamp("2000-01-01")
    try:
        end = pd.Timestamp(start + offset)
    except (OverflowError, ValueError):  # pandas' OutOfBoundsDatetime is a ValueError
        end = pd.Timestamp.max
    if end <= start:
        raise SnapshotError(f"horizon must be positive, got {horizon!r}")
    if end > start + pd.DateOffset(years=MAX_HORIZON_YEARS):
        raise SnapshotError(f"horizon must be at most {MAX_HORIZON_YEARS} years, got {horizon!r}")
    return offset


def as_cutoff(value: Any) -> dt.datetime:
    """A cut-off as a naive UTC datetime (tz-aware values are converted)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise SnapshotError(f"cut-off {value!r} is not a date: {exc}") from None
    if ts is pd.NaT:
        raise SnapshotError("cut-off is missing (NaT)")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def window_end(cutoff: Any, horizon: Horizon) -> dt.datetime:
    """Exclusive end of the label window [cutoff, cutoff + horizon), as naive UTC.

    A calendar horizon runs in the zone of a tz-aware cut-off: a month from 2024-03-01
    00:00 Berlin ends at 2024-04-01 00:00 Berlin, not a UTC month later.
    """
    as_cutoff(cutoff)  # a SnapshotError for anything that is not a date
    end = pd.Timestamp(cutoff) + parse_horizon(horizon)
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    return end.to_pydatetime()
