"""The cohort retention matrix: acquisition cohort x periods since acquisition."""

from __future__ import annotations

from typing import Any, Literal

import narwhals as nw
import pandas as pd

from cxml.data import Tables
from cxml.data.engine import collect
from cxml.errors import ParameterError
from cxml.kpis.inputs import Inputs, reporting_window
from cxml.kpis.periods import check_period, start_of
from cxml.kpis.purchases import customer_periods

Acquisition = Literal["first_purchase", "signup"]


def cohort_retention(
    tables: Tables,
    *,
    period: str = "M",
    acquisition: Acquisition = "first_purchase",
    start: Any = None,
    end: Any = None,
) -> pd.DataFrame:
    """Share of each acquisition cohort with a purchase k periods after acquisition.

    A cohort is the customers acquired in one period: by their first purchase (default) or
    their ``signup_date`` (customers table). Cell (cohort, k) = customers of the cohort with
    a purchase in period cohort + k, divided by the cohort's size; k = 0 is the acquisition
    period itself (always 1 for first-purchase cohorts). Only cohorts that start in whole
    periods between `start` and `end` are shown, and only cells whose period is over by
    `end`; a cell without purchases is a real 0.

    Returns
    -------
    pandas.DataFrame
        Columns ``cohort_start, periods_since, cohort_size, active, retention``, one row per
        observed cell; ``pivot(index="cohort_start", columns="periods_since",
        values="retention")`` gives the matrix.
    """
    if acquisition not in ("first_purchase", "signup"):
        raise ParameterError(
            f"acquisition must be 'first_purchase' or 'signup', got {acquisition!r}"
        )
    window = reporting_window(tables, check_period(period), start, end)
    inputs = Inputs(tables, window.period, window.end, None)
    active = customer_periods(inputs)
    assert not isinstance(active, str)  # transactions are always present
    active = active.select("customer_id", "period")
    if acquisition == "first_purchase":
        cohorts = active.group_by("customer_id").agg(cohort=nw.col("period").min())
    else:
        cohorts = _signup_cohorts(inputs)
    sizes = collect(cohorts.group_by("cohort").agg(cohort_size=nw.len()))
    cells = collect(
        active.join(cohorts, on="customer_id", how="inner")
        .with_columns(periods_since=nw.col("period") - nw.col("cohort"))
        .filter(nw.col("periods_since") >= 0)
        .group_by("cohort", "periods_since")
        .agg(active=nw.len())
    )
    grid = pd.DataFrame(
        [(cohort, k) for cohort in window.numbers for k in range(window.last - cohort + 1)],
        columns=["cohort", "periods_since"],
    )
    matrix = grid.merge(sizes, on="cohort", how="inner").merge(
        cells, on=["cohort", "periods_since"], how="left"
    )
    matrix["active"] = matrix["active"].fillna(0).astype("int64")
    matrix["cohort_size"] = matrix["cohort_size"].astype("int64")
    matrix["retention"] = matrix["active"] / matrix["cohort_size"]
    matrix.insert(0, "cohort_start", start_of(matrix.pop("cohort").to_numpy(), window.period))
    matrix["periods_since"] = matrix["periods_since"].astype("int64")
    return matrix.sort_values(["cohort_start", "periods_since"], ignore_index=True)


def _signup_cohorts(inputs: Inputs) -> nw.LazyFrame:
    """customer_id and cohort (signup period) of customers signed up before the end."""
    customers = inputs.tables.customers
    if customers is None or "signup_date" not in customers.collect_schema().names():
        raise ParameterError(
            "acquisition='signup' needs a customers table with signup_date; use "
            "acquisition='first_purchase'"
        )
    rows = inputs.rows("customers", timestamp="signup_date")
    assert not isinstance(rows, str)
    return rows.select("customer_id", cohort=nw.col("period"))
