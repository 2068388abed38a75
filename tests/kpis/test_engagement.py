"""DAU, WAU, MAU, stickiness and referral rate, worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.data import Tables
from cxml.kpis import compute_kpis
from tests.kpis.shop import END, INTERACTIONS, START, shop, values

ENGAGEMENT = ["dau", "wau", "mau", "stickiness"]


@pytest.fixture(scope="module")
def weekly() -> pd.DataFrame:
    """Weeks of Mon 2023-01-02 and Mon 2023-01-09 for three customers:
    1 buys on Mon Jan 2 and visits on Wed Jan 4 (twice); 2 visits on Jan 4; 3 bought on
    Dec 20 (before the weeks: it still counts in the 30-day window). An e-mail sent to 2 on
    Jan 3 is not activity."""
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 3],
            "timestamp": pd.to_datetime(["2023-01-02 09:00", "2022-12-20 12:00"]),
            "amount": [10.0, 20.0],
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2],
            "timestamp": pd.to_datetime(
                ["2023-01-04 08:00", "2023-01-04 20:00", "2023-01-04 12:00", "2023-01-03 12:00"]
            ),
            "event_type": ["web_visit", "app_visit", "web_visit", "email_sent"],
        }
    )
    tables = Tables(transactions, interactions, pd.DataFrame({"customer_id": [1, 2, 3]}))
    return compute_kpis(tables, period="W", start="2023-01-02", end="2023-01-16", kpis=ENGAGEMENT)


def weeks(result: pd.DataFrame, kpi: str) -> list[float]:
    return result.loc[result["kpi"] == kpi].sort_values("period_start")["value"].tolist()


def test_dau_is_the_mean_daily_active_count(weekly) -> None:
    # week 1: Jan 2 {1}, Jan 4 {1, 2} -> (1 + 2) / 7; week 2: nobody -> 0 / 7 (a real 0)
    assert weeks(weekly, "dau") == pytest.approx([3 / 7, 0.0])


def test_wau_counts_customers_active_in_the_7_days_ending_each_day(weekly) -> None:
    # 1 is counted Jan 2..10 (last active Jan 4 + 6), 2 Jan 4..10:
    # week 1 (Jan 2-8): 7 + 5 = 12 -> 12/7; week 2 (Jan 9-15): 2 + 2 = 4 -> 4/7
    assert weeks(weekly, "wau") == pytest.approx([12 / 7, 4 / 7])


def test_mau_counts_customers_active_in_the_30_days_ending_each_day(weekly) -> None:
    # 1 is counted Jan 2..Feb 2, 2 Jan 4..Feb 2, 3 Dec 20..Jan 18:
    # week 1: 7 + 5 + 7 = 19 -> 19/7; week 2: 7 + 7 + 7 = 21 -> 3
    assert weeks(weekly, "mau") == pytest.approx([19 / 7, 3.0])


def test_stickiness_is_dau_over_mau(weekly) -> None:
    # week 1: (3/7) / (19/7) = 3/19; week 2: 0 / 3
    assert weeks(weekly, "stickiness") == pytest.approx([3 / 19, 0.0])


def test_daily_period_gives_the_classic_daily_counts() -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 2, 2],
            "timestamp": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-01-05"]),
            "amount": [1.0, 1.0, 1.0],
        }
    )
    result = compute_kpis(Tables(transactions), period="D", end="2023-01-06", kpis=["dau", "wau"])
    # Jan 1: {1,2}; Jan 2-4: nobody that day; Jan 5: {2}. WAU: both until Jan 5 (2 again)
    assert weeks(result, "dau") == [2, 0, 0, 0, 1]
    assert weeks(result, "wau") == [2, 2, 2, 2, 2]


def test_referral_rate_is_the_share_of_active_customers_who_referred(monthly_referrals) -> None:
    # active = a purchase or a customer-initiated interaction (not email_sent/campaign_contact)
    # Jan: {1, 2, 5} bought, 1, 2, 3, 5 answered nps -> 4 active, no referral -> 0/4
    # Feb: {1, 3} bought, 1, 2 answered csat, 3 raised a ticket -> 3 active; 1 referred -> 1/3
    # Mar: {1, 2, 4} bought, 3 answered ces, 5 visited the app -> 5 active; 3 referred -> 1/5
    assert values(monthly_referrals, "referral_rate") == pytest.approx(
        {"2023-01": 0.0, "2023-02": 1 / 3, "2023-03": 1 / 5}
    )


@pytest.fixture(scope="module")
def monthly_referrals() -> pd.DataFrame:
    return compute_kpis(shop(), start=START, end=END, kpis=["referral_rate", "dau"])


def test_shop_dau_counts_each_customer_day_once(monthly_referrals) -> None:
    # Jan active days: 1 on 5 (two lines), 7, 8, 9, 20; 2 on 10, 15; 3 on 20; 5 on 3, 25
    # -> 10/31
    assert values(monthly_referrals, "dau")["2023-01"] == pytest.approx(10 / 31)


def test_a_customer_active_on_the_1st_and_again_31_days_later_counts_in_both_months() -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "timestamp": pd.to_datetime(["2023-01-01", "2023-02-01"]),
            "amount": [1.0, 1.0],
        }
    )
    interactions = pd.DataFrame(
        {
            "customer_id": [2, 1],
            "timestamp": pd.to_datetime(["2023-01-15", "2023-02-01"]),
            "event_type": ["referral", "referral"],
        }
    )
    tables = Tables(transactions, interactions, pd.DataFrame({"customer_id": [1, 2]}))
    result = compute_kpis(tables, end="2023-03-01", kpis=["referral_rate"])
    # Jan: active {1, 2}, referrer 2 -> 1/2; Feb: active {1}, referrer 1 -> 1/1
    assert values(result, "referral_rate") == {"2023-01": 0.5, "2023-02": 1.0}


def test_without_referral_events_the_referral_rate_is_not_available() -> None:
    no_referrals = INTERACTIONS[INTERACTIONS["event_type"] != "referral"]
    result = compute_kpis(shop(interactions=no_referrals), start=START, end=END)
    rows = result[result["kpi"] == "referral_rate"]
    assert not rows["available"].any() and rows["value"].isna().all()
    assert set(rows["reason"]) == {"no referral events before the end"}


def test_without_interactions_engagement_counts_purchases_only() -> None:
    result = compute_kpis(
        shop(interactions=None), start=START, end=END, kpis=["dau", "referral_rate"]
    )
    # Jan purchase days: 1 on 5, 20; 2 on 10; 5 on 3 -> 4/31
    assert values(result, "dau")["2023-01"] == pytest.approx(4 / 31)
    assert set(result.loc[result["kpi"] == "referral_rate", "reason"]) == {"no interactions table"}


def test_mau_window_is_30_days_including_the_day_itself() -> None:
    """A purchase counts in the MAU of the 29 following days, not the 30th."""
    transactions = pd.DataFrame(
        {"customer_id": [1], "timestamp": pd.to_datetime(["2023-01-01"]), "amount": [1.0]}
    )
    result = compute_kpis(Tables(transactions), period="D", end="2023-02-02", kpis=["mau"])
    mau = weeks(result, "mau")
    assert mau[:30] == [1] * 30 and mau[30:] == [0, 0]  # Jan 1-30 active; Jan 31, Feb 1 not
