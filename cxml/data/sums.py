"""Sums, means and standard deviations that do not depend on the order of addition.

Engines add floating-point values in parallel, in an order that changes from run to run,
so two builds of one snapshot could differ in the last bit, and LightGBM, which bins on
exact values, would then fit another model. These aggregates round each value to a fixed
decimal grid and add whole numbers, which is exact in any order: the same data give the
same bits, on DuckDB, Spark and pandas alike. A sum of amounts in cents is the decimal sum,
e.g. 41.44 and not 41.439999999999998.
"""

from __future__ import annotations

import narwhals as nw

#: Sums and means count in millionths: a value is rounded by at most 5e-7.
SUM_SCALE = 10**6
#: Standard deviations square their values, so they count in thousandths: exact while the
#: sum of squares stays below 2**63 millionths (e.g. a column of gaps in days adding up
#: to less than 3 million days).
STD_SCALE = 10**3


def _whole(value: nw.Expr, scale: int) -> nw.Expr:
    """`value` in whole units of 1/scale, as whole floats."""
    return (value * scale).round(0)


def _units(value: nw.Expr, scale: int) -> nw.Expr:
    """`value` in whole units of 1/scale, as 64-bit integers."""
    return _whole(value, scale).cast(nw.Int64)


def on_grid(value: nw.Expr) -> nw.Expr:
    """`value` rounded to millionths, as the sums count it; still a float."""
    return _whole(value, SUM_SCALE) / SUM_SCALE


def exact_sum(value: nw.Expr) -> nw.Expr:
    """The sum of `value` (0 without values), in millionths, for a customer's rows.

    The millionths are whole floats, which the engines add fast and exactly while the sum
    stays below 2**53 millionths (about 9e9); the result is then the float nearest the
    decimal sum. Larger sums, e.g. over a whole table, take `exact_total`.
    """
    return _whole(value, SUM_SCALE).sum() / SUM_SCALE


def exact_total(value: nw.Expr) -> nw.Expr:
    """`exact_sum` for sums of any size: whole units and millionths are added apart, as
    64-bit integers, which cannot overflow below 9.2e18 (of fewer than 9.2e12 values)."""
    whole = value.floor()
    units = whole.cast(nw.Int64).sum().cast(nw.Float64)
    millionths = _units(value - whole, SUM_SCALE).sum().cast(nw.Float64)
    return (units * SUM_SCALE + millionths) / SUM_SCALE


def exact_mean(value: nw.Expr) -> nw.Expr:
    """The mean of the non-null values of `value` (null without values)."""
    return nw.when(value.count() > 0).then(exact_sum(value) / value.count())


def exact_std(value: nw.Expr) -> nw.Expr:
    """The standard deviation of `value` with ddof=1 (null with fewer than two values)."""
    units = _units(value, STD_SCALE)
    n = value.count().cast(nw.Float64)
    total = units.sum().cast(nw.Float64)
    squares = (units * units).sum().cast(nw.Float64)
    # n * sum(x^2) - sum(x)^2 >= 0; both terms are exact integers in common ranges.
    spread = n * squares - total * total
    variance = nw.when(spread > 0).then(spread).otherwise(0.0) / (n * (n - 1.0))
    return nw.when(n > 1).then(variance.sqrt() / STD_SCALE)
