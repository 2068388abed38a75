"""Purchase KPIs: churn and retention, repeat and returning customers, frequency, order value.

All are counted on customer-periods: one row per customer (and segment) with a purchase in a
period. Returns are not purchases; an order is the purchase lines sharing an order_id (each
line without one is an order of its own), dated by its first line: the feature catalogue's
rule, shared through `cxml.features.sources.orders_of`.
"""

from __future__ import annotations

import narwhals as nw

from cxml.data.engine import collect
from cxml.data.sums import exact_sum, exact_total
from cxml.features.sources import orders_of
from cxml.kpis.catalogue import names
from cxml.kpis.inputs import Inputs, Measures, measure


def orders(inputs: Inputs) -> nw.LazyFrame | str:
    """Purchase orders before the end: customer_id, segment, period, value."""
    lines = inputs.rows("transactions")
    if isinstance(lines, str):
        return lines
    purchases = lines.filter(~nw.col("is_return"))
    return orders_of(purchases, ("customer_id", "segment"), "period")


def customer_periods(inputs: Inputs) -> nw.LazyFrame | str:
    """One row per customer, segment and period with a purchase: n_orders, revenue."""
    frame = orders(inputs)
    if isinstance(frame, str):
        return frame
    return frame.group_by("customer_id", "segment", "period").agg(
        n_orders=nw.len(), revenue=exact_sum(nw.col("value"))
    )


def purchase_kpis(inputs: Inputs) -> Measures:
    """The retention and purchase families."""
    frame = customer_periods(inputs)
    if isinstance(frame, str):
        return dict.fromkeys(names("retention", "purchases"), frame)
    customer = ("customer_id", "segment")
    frame = frame.with_columns(
        previous=nw.col("period").shift(1).over(*customer, order_by="period"),
        first=nw.col("period").min().over(*customer),
    )
    counts = collect(
        frame.group_by("segment", "period").agg(
            buyers=nw.len(),
            repeaters=nw.when(nw.col("n_orders") >= 2).then(1).count(),
            returning=nw.when(nw.col("period") > nw.col("first")).then(1).count(),
            retained=nw.when(nw.col("previous") == nw.col("period") - 1).then(1).count(),
            orders=nw.col("n_orders").sum(),
            revenue=exact_total(nw.col("revenue")),
        )
    )
    # Churn compares a period with the one before: bring last period's buyers forward.
    before = counts[["segment", "period", "buyers"]].assign(period=counts["period"] + 1)
    paired = before.merge(
        counts[["segment", "period", "retained"]], on=["segment", "period"], how="left"
    ).fillna({"retained": 0})

    return {
        "churn_rate": measure(paired, paired["buyers"] - paired["retained"], paired["buyers"]),
        "retention_rate": measure(paired, paired["retained"], paired["buyers"]),
        "repeat_purchase_rate": measure(counts, counts["repeaters"], counts["buyers"]),
        "returning_customer_share": measure(counts, counts["returning"], counts["buyers"]),
        "purchase_frequency": measure(counts, counts["orders"], counts["buyers"]),
        "average_order_value": measure(counts, counts["revenue"], counts["orders"]),
        "revenue_per_customer": measure(counts, counts["revenue"], counts["buyers"]),
    }
