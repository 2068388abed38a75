"""The KPI catalogue: every KPI cxml reports, its family, formula and input, in one place.

Every KPI is a ratio: ``value = scale * numerator / denominator`` for one period (and
segment), null when the denominator is 0. Keeping numerator and denominator lets a reader
re-aggregate instead of averaging ratios: sum both over segments or periods, then divide,
except over segments for `per_day` KPIs (sum the numerators, keep one denominator: the days).
`docs/kpis.md` explains each definition, and recombination, at length.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import pandas as pd

Family = Literal[
    "retention", "purchases", "surveys", "support", "referrals", "engagement", "trials"
]


@dataclass(frozen=True)
class Kpi:
    """One KPI: ``value = scale * numerator / denominator``.

    `per_day` KPIs average a daily count over the period: their denominator is the number of
    days in the period, so a period without activity is a real 0, not an undefined ratio.
    """

    name: str
    family: Family
    numerator: str
    denominator: str
    needs: str
    scale: float = 1.0
    per_day: bool = False


_BUYERS = "customers with a purchase in the period"
_ACTIVE = "customers active in the period (a purchase or a customer-initiated interaction)"

KPIS: tuple[Kpi, ...] = (
    Kpi(
        "churn_rate",
        "retention",
        "customers with a purchase in the previous period and none in this one",
        "customers with a purchase in the previous period",
        "transactions",
    ),
    Kpi(
        "retention_rate",
        "retention",
        "customers with a purchase in both the previous period and this one",
        "customers with a purchase in the previous period",
        "transactions",
    ),
    Kpi(
        "repeat_purchase_rate",
        "purchases",
        "customers with two or more orders in the period",
        _BUYERS,
        "transactions",
    ),
    Kpi(
        "returning_customer_share",
        "purchases",
        "customers with a purchase in the period and one in an earlier period",
        _BUYERS,
        "transactions",
    ),
    Kpi("purchase_frequency", "purchases", "orders in the period", _BUYERS, "transactions"),
    Kpi(
        "average_order_value",
        "purchases",
        "purchase value in the period",
        "orders in the period",
        "transactions",
    ),
    Kpi(
        "revenue_per_customer",
        "purchases",
        "purchase value in the period",
        _BUYERS,
        "transactions",
    ),
    Kpi(
        "nps",
        "surveys",
        "promoter answers (9-10) minus detractor answers (0-6)",
        "nps answers",
        "interactions: nps events with a value",
        scale=100.0,
    ),
    Kpi(
        "csat_satisfied_share",
        "surveys",
        "csat answers of 4 or 5",
        "csat answers",
        "interactions: csat events with a value",
    ),
    Kpi(
        "csat_mean",
        "surveys",
        "sum of csat answers",
        "csat answers",
        "interactions: csat events with a value",
    ),
    Kpi(
        "ces_mean",
        "surveys",
        "sum of ces answers (1-7, higher = more effort)",
        "ces answers",
        "interactions: ces events with a value",
    ),
    Kpi(
        "first_contact_resolution_rate",
        "support",
        "support tickets resolved at first contact",
        "support tickets with a known resolved_first_contact",
        "interactions: support_ticket events with resolved_first_contact",
    ),
    Kpi(
        "average_resolution_hours",
        "support",
        "sum of support ticket resolution times in hours",
        "support tickets with a resolution time",
        "interactions: support_ticket events with a value",
    ),
    Kpi(
        "referral_rate",
        "referrals",
        "customers with a referral event in the period",
        _ACTIVE,
        "interactions: referral events",
    ),
    Kpi(
        "dau",
        "engagement",
        "sum over the period's days of customers active that day",
        "days in the period",
        "transactions (and interactions when present)",
        per_day=True,
    ),
    Kpi(
        "wau",
        "engagement",
        "sum over the period's days of customers active in the 7 days ending that day",
        "days in the period",
        "transactions (and interactions when present)",
        per_day=True,
    ),
    Kpi(
        "mau",
        "engagement",
        "sum over the period's days of customers active in the 30 days ending that day",
        "days in the period",
        "transactions (and interactions when present)",
        per_day=True,
    ),
    Kpi(
        "stickiness",
        "engagement",
        "sum of daily active customers (DAU numerator)",
        "sum of 30-day active customers (MAU numerator)",
        "transactions (and interactions when present)",
    ),
    Kpi(
        "trial_to_paid_rate",
        "trials",
        "trials started in the period that converted to paid before the end",
        "trials started in the period",
        "customers: trial_start and paid_start or converted",
    ),
)

BY_NAME: dict[str, Kpi] = {kpi.name: kpi for kpi in KPIS}


def catalogue() -> pd.DataFrame:
    """Every KPI with its family, numerator, denominator, input and scale: the glossary a
    report or notebook shows next to the numbers."""
    return pd.DataFrame([asdict(kpi) for kpi in KPIS])


def names(*families: Family) -> list[str]:
    """The KPIs of some families, in catalogue order."""
    return [kpi.name for kpi in KPIS if kpi.family in families]


#: Interaction types the customer initiates: they count as activity (DAU, referral rate).
#: E-mails sent, campaign contacts and cancellations are not engagement.
CUSTOMER_INITIATED: tuple[str, ...] = (
    "web_visit",
    "app_visit",
    "email_open",
    "email_click",
    "support_ticket",
    "nps",
    "csat",
    "ces",
    "referral",
)
