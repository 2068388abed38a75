"""A small fixed shop, January to March 2023, whose KPIs are worked out by hand in the tests.

Customers 1-4 are in the customers table (regions north, north, south, south); customer 5 is
not (segment "(missing)"). Customer 5 also bought in December 2022, before the reported
months; customer 4's April order lies after the end and must never be read.
"""

from __future__ import annotations

import pandas as pd

from cxml.data import Tables

START, END = "2023-01-01", "2023-04-01"
MONTHS = ("2023-01", "2023-02", "2023-03")

TRANSACTIONS = pd.DataFrame(
    [
        # customer, timestamp, order, amount, channel, is_return
        (1, "2023-01-05 10:00", "A1", 10.0, "web", False),
        (1, "2023-01-05 10:00", "A1", 20.0, "web", False),
        (1, "2023-01-20 09:00", "A2", 30.0, "app", False),
        (1, "2023-02-10 12:00", "A3", 40.0, "web", False),
        (1, "2023-03-15 12:00", "A4", 50.0, "web", False),
        (2, "2023-01-10 08:00", "B1", 100.0, "store", False),
        (2, "2023-03-01 00:00", "B2", 60.0, "web", False),
        (2, "2023-03-05 15:00", "B2", 60.0, "web", True),
        (3, "2023-02-14 18:00", "C1", 25.0, "web", False),
        (3, "2023-02-28 23:59:59", "C2", 35.0, "web", False),
        (4, "2023-03-31 23:00", "D1", 80.0, "app", False),
        (4, "2023-04-02 10:00", "D2", 999.0, "app", False),
        (5, "2022-12-20 10:00", "E1", 15.0, "store", False),
        (5, "2023-01-03 10:00", "E2", 45.0, "store", False),
    ],
    columns=["customer_id", "timestamp", "order_id", "amount", "channel", "is_return"],
).assign(timestamp=lambda f: pd.to_datetime(f["timestamp"], format="ISO8601"))

#: The shop with the order ids of A1 (two lines), A3, A4 (customer 1) and C1 (customer 3) missing:
#: each of those lines is an order of its own. Lumped into one order per customer, customer 1's
#: would be a single January order, and customer 1 no buyer in February or March.
NO_ORDER_IDS = TRANSACTIONS.assign(
    order_id=TRANSACTIONS["order_id"].mask(TRANSACTIONS["order_id"].isin(["A1", "A3", "A4", "C1"]))
)

INTERACTIONS = pd.DataFrame(
    [
        # customer, timestamp, event_type, value, resolved_first_contact
        (1, "2023-01-07", "nps", 10.0, None),
        (1, "2023-01-08", "web_visit", None, None),
        (1, "2023-01-09", "web_visit", None, None),
        (1, "2023-02-02", "csat", 5.0, None),
        (1, "2023-02-03", "support_ticket", 4.0, True),
        (1, "2023-02-04", "referral", None, None),
        (2, "2023-01-15", "nps", 6.0, None),
        (2, "2023-02-10", "csat", 3.0, None),
        (2, "2023-02-11", "support_ticket", 10.0, False),
        (2, "2023-03-03", "ces", 2.0, None),
        (2, "2023-03-04", "email_sent", None, None),
        (3, "2023-01-20", "nps", 9.0, None),
        (3, "2023-02-15", "support_ticket", 7.0, None),
        (3, "2023-03-10", "ces", 5.0, None),
        (3, "2023-03-11", "referral", None, None),
        (1, "2023-03-16", "nps", 8.0, None),
        (4, "2023-03-20", "nps", 3.0, None),
        (4, "2023-03-21", "csat", 4.0, None),
        (4, "2023-04-03", "nps", 0.0, None),
        (5, "2023-01-25", "nps", 7.0, None),
        (5, "2023-02-20", "campaign_contact", None, None),
        (5, "2023-03-05", "app_visit", None, None),
    ],
    columns=["customer_id", "timestamp", "event_type", "value", "resolved_first_contact"],
).assign(
    timestamp=lambda f: pd.to_datetime(f["timestamp"], format="ISO8601"),
    resolved_first_contact=lambda f: f["resolved_first_contact"].astype("boolean"),
)

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "signup_date": pd.to_datetime(["2022-12-15", "2023-01-02", "2023-01-25", "2023-03-01"]),
        "region": ["north", "north", "south", "south"],
        "trial_start": pd.to_datetime(["2023-01-03", "2023-01-10", "2023-02-01", None]),
        "paid_start": pd.to_datetime(["2023-01-17", None, "2023-04-15", None]),
    }
)


def shop(
    transactions: pd.DataFrame = TRANSACTIONS,
    interactions: pd.DataFrame | None = INTERACTIONS,
    customers: pd.DataFrame | None = CUSTOMERS,
) -> Tables:
    """The shop as validated `Tables`."""
    return Tables(transactions, interactions, customers)


def values(result: pd.DataFrame, kpi: str, segment: str = "all") -> dict[str, float]:
    """Month (YYYY-MM) -> value of one KPI and segment."""
    rows = result[(result["kpi"] == kpi) & (result["segment"] == segment)]
    return dict(zip(rows["period_start"].dt.strftime("%Y-%m"), rows["value"], strict=True))


def counts(result: pd.DataFrame, kpi: str, segment: str = "all") -> dict[str, tuple]:
    """Month -> (numerator, denominator) of one KPI and segment."""
    rows = result[(result["kpi"] == kpi) & (result["segment"] == segment)]
    pairs = zip(rows["numerator"], rows["denominator"], strict=True)
    return dict(zip(rows["period_start"].dt.strftime("%Y-%m"), pairs, strict=True))


def orders_by_pandas(transactions: pd.DataFrame, end: str = END) -> pd.DataFrame:
    """Purchase orders before `end` by brute force: customer_id, month (a pandas Period),
    value. Lines sharing a customer and an order_id are one order, dated by its first line;
    each line without an order_id is an order of its own."""
    purchases = transactions[~transactions["is_return"] & (transactions["timestamp"] < end)]
    own = "line " + pd.Series(purchases.index.astype(str), index=purchases.index)
    order = purchases["order_id"].astype(object).where(purchases["order_id"].notna(), own)
    grouped = purchases.groupby(["customer_id", order.rename("order")])
    orders = grouped.agg(first=("timestamp", "min"), value=("amount", "sum")).reset_index()
    return orders.assign(month=orders["first"].dt.to_period("M"))[["customer_id", "month", "value"]]
