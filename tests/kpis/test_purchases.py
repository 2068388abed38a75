"""Retention and purchase KPIs on the hand-worked shop (tests/kpis/shop.py).

Purchase orders per month (returns excluded, the April order after the end not read):
  Dec 2022: customer 5 E1 15
  Jan 2023: 1 A1 10+20=30, 1 A2 30, 2 B1 100, 5 E2 45   -> buyers {1,2,5}, 4 orders, 205
  Feb 2023: 1 A3 40, 3 C1 25, 3 C2 35                   -> buyers {1,3},   3 orders, 100
  Mar 2023: 1 A4 50, 2 B2 60, 4 D1 80                   -> buyers {1,2,4}, 3 orders, 190
"""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.kpis import compute_kpis
from cxml.kpis.catalogue import names
from tests.kpis.shop import (
    END,
    MONTHS,
    NO_ORDER_IDS,
    START,
    TRANSACTIONS,
    counts,
    orders_by_pandas,
    shop,
    values,
)


@pytest.fixture(scope="module")
def monthly() -> pd.DataFrame:
    return compute_kpis(shop(), start=START, end=END)


def test_churn_rate_is_the_share_of_last_periods_buyers_who_did_not_buy(monthly) -> None:
    # Jan: Dec buyers {5}, 5 buys again -> 0/1; Feb: Jan {1,2,5}, only 1 again -> 2/3;
    # Mar: Feb {1,3}, only 1 again -> 1/2
    assert values(monthly, "churn_rate") == pytest.approx(
        {"2023-01": 0.0, "2023-02": 2 / 3, "2023-03": 1 / 2}
    )
    assert counts(monthly, "churn_rate")["2023-02"] == (2, 3)


def test_retention_rate_is_the_share_of_last_periods_buyers_who_bought_again(monthly) -> None:
    # Jan 1/1, Feb 1/3, Mar 1/2 (see churn)
    assert values(monthly, "retention_rate") == pytest.approx(
        {"2023-01": 1.0, "2023-02": 1 / 3, "2023-03": 1 / 2}
    )


def test_repeat_purchase_rate_counts_buyers_with_two_orders_in_the_period(monthly) -> None:
    # Jan: 1 has A1, A2 -> 1/3; Feb: 3 has C1, C2 -> 1/2; Mar: nobody -> 0/3
    assert values(monthly, "repeat_purchase_rate") == pytest.approx(
        {"2023-01": 1 / 3, "2023-02": 1 / 2, "2023-03": 0.0}
    )


def test_returning_share_counts_buyers_who_bought_in_an_earlier_period(monthly) -> None:
    # Jan: 5 (Dec) of {1,2,5} -> 1/3; Feb: 1 of {1,3} -> 1/2; Mar: 1 and 2 of {1,2,4} -> 2/3
    assert values(monthly, "returning_customer_share") == pytest.approx(
        {"2023-01": 1 / 3, "2023-02": 1 / 2, "2023-03": 2 / 3}
    )


def test_purchase_frequency_is_orders_per_buyer(monthly) -> None:
    # Jan 4/3, Feb 3/2, Mar 3/3
    assert values(monthly, "purchase_frequency") == pytest.approx(
        {"2023-01": 4 / 3, "2023-02": 3 / 2, "2023-03": 1.0}
    )


def test_average_order_value_groups_lines_by_order_id(monthly) -> None:
    # Jan 205/4, Feb 100/3, Mar 190/3 (the March return of 60 is not subtracted)
    assert values(monthly, "average_order_value") == pytest.approx(
        {"2023-01": 51.25, "2023-02": 100 / 3, "2023-03": 190 / 3}
    )


def test_average_order_value_counts_lines_without_order_id() -> None:
    result = compute_kpis(
        shop(TRANSACTIONS.drop(columns="order_id")),
        start=START,
        end=END,
        kpis=["average_order_value"],
    )
    # Jan lines 10, 20, 30, 100, 45 -> 205/5; Feb 40, 25, 35 -> 100/3; Mar 50, 60, 80 -> 190/3
    assert values(result, "average_order_value") == pytest.approx(
        {"2023-01": 41.0, "2023-02": 100 / 3, "2023-03": 190 / 3}
    )


def test_revenue_per_customer_is_purchase_value_per_buyer(monthly) -> None:
    # Jan 205/3, Feb 100/2, Mar 190/3
    assert values(monthly, "revenue_per_customer") == pytest.approx(
        {"2023-01": 205 / 3, "2023-02": 50.0, "2023-03": 190 / 3}
    )


def test_segments_by_a_customer_attribute(monthly) -> None:
    result = compute_kpis(
        shop(), by="region", start=START, end=END, kpis=["churn_rate", "average_order_value"]
    )
    assert set(result["segment"]) == {"north", "south", "(missing)"}
    # north = {1, 2}: Jan buyers {1,2}, Feb {1} -> Feb churn 1/2
    assert values(result, "churn_rate", "north")["2023-02"] == pytest.approx(1 / 2)
    # south = {3, 4}: Feb {3}, Mar {4} -> Mar churn 1/1
    assert values(result, "churn_rate", "south")["2023-03"] == pytest.approx(1.0)
    # customer 5 is not in the customers table: Dec {5}, Jan {5} -> Jan churn 0/1
    assert values(result, "churn_rate", "(missing)")["2023-01"] == pytest.approx(0.0)
    # north Jan orders A1 30, A2 30, B1 100 -> 160/3
    assert values(result, "average_order_value", "north")["2023-01"] == pytest.approx(160 / 3)


def test_segments_by_channel_use_each_orders_own_channel() -> None:
    result = compute_kpis(shop(), by="channel", start=START, end=END, kpis=["average_order_value"])
    # Jan: web A1 30 -> 30/1; app A2 30 -> 30/1; store B1 100 + E2 45 -> 145/2
    jan = {s: values(result, "average_order_value", s)["2023-01"] for s in ("web", "app", "store")}
    assert jan == pytest.approx({"web": 30.0, "app": 30.0, "store": 72.5})


def test_orders_at_or_after_the_end_are_never_read() -> None:
    # end on 2023-04-03: March is the last whole month; D2 (999 on April 2) must not change it
    result = compute_kpis(shop(), start=START, end="2023-04-03", kpis=["revenue_per_customer"])
    assert values(result, "revenue_per_customer")["2023-03"] == pytest.approx(190 / 3)


def test_an_order_is_dated_by_its_first_line() -> None:
    lines = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "timestamp": pd.to_datetime(["2023-01-31 23:00", "2023-02-01 01:00"]),
            "order_id": ["X", "X"],
            "amount": [10.0, 5.0],
        }
    )
    result = compute_kpis(shop(lines, None, None), end="2023-03-01", kpis=["average_order_value"])
    # one order of 10 + 5, placed in January; none in February
    assert counts(result, "average_order_value") == {"2023-01": (15, 1), "2023-02": (0, 0)}


def purchase_counts_by_pandas(orders: pd.DataFrame, month: pd.Period) -> dict[str, tuple]:
    """KPI -> (numerator, denominator) of the retention and purchase KPIs in `month`, by brute
    force over the orders of `orders_by_pandas`."""
    this = orders[orders["month"] == month]
    now = set(this["customer_id"])
    before = set(orders.loc[orders["month"] == month - 1, "customer_id"])
    earlier = set(orders.loc[orders["month"] < month, "customer_id"])
    repeaters = (this.groupby("customer_id").size() >= 2).sum()
    revenue = this["value"].sum()
    return {
        "churn_rate": (len(before - now), len(before)),
        "retention_rate": (len(before & now), len(before)),
        "repeat_purchase_rate": (repeaters, len(now)),
        "returning_customer_share": (len(now & earlier), len(now)),
        "purchase_frequency": (len(this), len(now)),
        "average_order_value": (revenue, len(this)),
        "revenue_per_customer": (revenue, len(now)),
    }


def test_each_line_without_an_order_id_is_an_order_of_its_own() -> None:
    kpis = names("retention", "purchases")
    result = compute_kpis(shop(NO_ORDER_IDS), start=START, end=END, kpis=kpis)
    orders = orders_by_pandas(NO_ORDER_IDS)
    for month in MONTHS:
        expected = purchase_counts_by_pandas(orders, pd.Period(month, "M"))
        assert {kpi: counts(result, kpi)[month] for kpi in kpis} == expected, month
