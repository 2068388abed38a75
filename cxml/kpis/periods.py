"""Reporting periods: calendar days, ISO weeks (Monday first) and calendar months.

A period is numbered by an integer (days, weeks or months since 1970-01), computed the same
way in the engine (`period_number`) and in pandas (`number_of`), so "the previous period" is
always ``number - 1`` whatever the calendar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import narwhals as nw
import numpy as np
import pandas as pd

from cxml.errors import ParameterError
from cxml.features.sources import days_since_epoch

Period: TypeAlias = Literal["D", "W", "M"]
PERIODS: dict[str, str] = {"D": "calendar day", "W": "ISO week, Monday to Sunday", "M": "month"}

_EPOCH = pd.Timestamp("1970-01-01")
#: 1970-01-01 was a Thursday: shifting by three days puts week boundaries on Mondays.
_MONDAY_SHIFT = 3


def check_period(period: Any) -> Period:
    """`period` if it is one of ``"D"``, ``"W"``, ``"M"``."""
    if period not in PERIODS:
        raise ParameterError(f"period must be one of {sorted(PERIODS)}, got {period!r}")
    return period


def period_number(column: str, period: Period) -> nw.Expr:
    """The period number of a timestamp column, as an engine expression."""
    if period == "M":
        moment = nw.col(column)
        return (moment.dt.year() - 1970) * 12 + moment.dt.month() - 1
    days = days_since_epoch(column).floor()
    if period == "W":
        days = ((days + _MONDAY_SHIFT) / 7).floor()
    return days.cast(nw.Int64)


def number_of(moments: pd.DatetimeIndex, period: Period) -> np.ndarray:
    """The period numbers of timestamps, in pandas."""
    if period == "M":
        return ((moments.year - 1970) * 12 + moments.month - 1).to_numpy(np.int64)
    days = (moments.floor("D") - _EPOCH).days.to_numpy(np.int64)
    return days if period == "D" else (days + _MONDAY_SHIFT) // 7


def start_of(numbers: np.ndarray, period: Period) -> pd.DatetimeIndex:
    """The first instant of each numbered period."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if period == "M":
        # numpy counts months from 1970-01, as `number_of` does.
        return pd.DatetimeIndex(numbers.astype("datetime64[M]").astype("datetime64[us]"))
    days = numbers if period == "D" else numbers * 7 - _MONDAY_SHIFT
    return pd.DatetimeIndex(days.astype("datetime64[D]").astype("datetime64[us]"))


def days_in(numbers: np.ndarray, period: Period) -> np.ndarray:
    """How many days each numbered period has."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if period == "D":
        return np.ones(len(numbers), dtype=np.int64)
    if period == "W":
        return np.full(len(numbers), 7, dtype=np.int64)
    return (start_of(numbers + 1, period) - start_of(numbers, period)).days.to_numpy(np.int64)


@dataclass(frozen=True)
class Window:
    """The reported periods ``first..last`` (inclusive) and the end of the data read.

    Only whole periods are reported: a period that is not over by `end` would show a churn
    spike or a low revenue that is an artefact of the cut. Events at or after `end` are never
    read; history before the first period is (a churn rate needs the previous period).
    """

    period: Period
    first: int
    last: int
    end: dt.datetime

    @property
    def numbers(self) -> np.ndarray:
        return np.arange(self.first, self.last + 1, dtype=np.int64)


def as_moment(value: Any, name: str) -> dt.datetime:
    """A date or datetime (text allowed) as a naive UTC datetime."""
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} {value!r} is not a date: {exc}") from None
    if moment is pd.NaT:
        raise ParameterError(f"{name} is missing (NaT)")
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return moment.to_pydatetime()


def resolve_window(period: Period, start: dt.datetime, end: dt.datetime) -> Window:
    """The whole periods starting at or after `start` and over by `end`."""
    first = int(number_of(pd.DatetimeIndex([start]), period)[0])
    if start_of(np.array([first]), period)[0] < pd.Timestamp(start):
        first += 1
    last = int(number_of(pd.DatetimeIndex([end]), period)[0]) - 1
    if first > last:
        raise ParameterError(
            f"no whole {PERIODS[period]} lies between start {start:%Y-%m-%d %H:%M} and end "
            f"{end:%Y-%m-%d %H:%M}; widen the range or choose a shorter period"
        )
    return Window(period, first, last, end)
