"""Survey and support KPIs on the hand-worked shop, and when they are not available.

Answers per month (before the end; customer 4's April nps is after it):
  nps:  Jan 10 (promoter), 6 (detractor), 9 (promoter), 7 (passive);
        Mar 8 (passive), 3 (detractor)
  csat: Feb 5, 3; Mar 4        ces: Mar 2, 5
  support tickets: Feb 4 h resolved, 10 h not resolved, 7 h unknown resolution
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cxml.kpis import compute_kpis
from tests.kpis.shop import END, INTERACTIONS, START, shop, values

SURVEYS = [
    "nps",
    "csat_satisfied_share",
    "csat_mean",
    "ces_mean",
    "first_contact_resolution_rate",
    "average_resolution_hours",
]


@pytest.fixture(scope="module")
def monthly() -> pd.DataFrame:
    return compute_kpis(shop(), start=START, end=END, kpis=SURVEYS)


def nan_as_none(found: dict[str, float]) -> dict[str, float | None]:
    return {k: None if math.isnan(v) else v for k, v in found.items()}


def test_nps_is_promoter_share_minus_detractor_share_in_points(monthly) -> None:
    # Jan 100 * (2 - 1) / 4; Feb no answers -> undefined; Mar 100 * (0 - 1) / 2
    assert nan_as_none(values(monthly, "nps")) == pytest.approx(
        {"2023-01": 25.0, "2023-02": None, "2023-03": -50.0}
    )


def test_csat_share_counts_answers_of_four_and_five(monthly) -> None:
    # Feb 5 yes, 3 no -> 1/2; Mar 4 -> 1/1
    assert nan_as_none(values(monthly, "csat_satisfied_share")) == pytest.approx(
        {"2023-01": None, "2023-02": 0.5, "2023-03": 1.0}
    )


def test_csat_mean_is_the_mean_answer(monthly) -> None:
    # Feb (5 + 3) / 2; Mar 4 / 1
    assert nan_as_none(values(monthly, "csat_mean")) == pytest.approx(
        {"2023-01": None, "2023-02": 4.0, "2023-03": 4.0}
    )


def test_ces_mean_is_the_mean_answer(monthly) -> None:
    # Mar (2 + 5) / 2
    assert values(monthly, "ces_mean")["2023-03"] == pytest.approx(3.5)


def test_first_contact_resolution_ignores_tickets_of_unknown_resolution(monthly) -> None:
    # Feb: resolved, not resolved, unknown -> 1/2
    assert values(monthly, "first_contact_resolution_rate")["2023-02"] == pytest.approx(0.5)


def test_average_resolution_time_is_the_mean_ticket_value_in_hours(monthly) -> None:
    # Feb (4 + 10 + 7) / 3
    assert values(monthly, "average_resolution_hours")["2023-02"] == pytest.approx(7.0)


def test_a_period_without_answers_is_undefined_but_the_kpi_is_available(monthly) -> None:
    feb = monthly[(monthly["kpi"] == "nps") & (monthly["period_start"] == "2023-02-01")]
    assert feb["available"].item() and feb["denominator"].item() == 0
    assert math.isnan(feb["value"].item())


def unavailable(result: pd.DataFrame) -> dict[str, str]:
    """KPI -> reason, for KPIs whose every row is not available (with null numbers)."""
    out = {}
    for kpi, rows in result.groupby("kpi"):
        if not rows["available"].any():
            assert rows[["value", "numerator", "denominator"]].isna().all().all(), kpi
            out[kpi] = rows["reason"].iloc[0]
    return out


def test_without_an_interactions_table_survey_kpis_are_not_available_never_0() -> None:
    result = compute_kpis(shop(interactions=None), start=START, end=END, kpis=SURVEYS)
    assert unavailable(result) == dict.fromkeys(SURVEYS, "no interactions table")


def test_without_nps_events_only_nps_is_not_available() -> None:
    no_nps = INTERACTIONS[INTERACTIONS["event_type"] != "nps"]
    result = compute_kpis(shop(interactions=no_nps), start=START, end=END, kpis=SURVEYS)
    assert unavailable(result) == {"nps": "no nps answers with a value before the end"}


def test_without_resolved_first_contact_fcr_is_not_available() -> None:
    bare = INTERACTIONS.drop(columns="resolved_first_contact")
    result = compute_kpis(shop(interactions=bare), start=START, end=END, kpis=SURVEYS)
    assert list(unavailable(result)) == ["first_contact_resolution_rate"]


def test_without_a_value_column_no_score_or_time_is_available() -> None:
    bare = INTERACTIONS.drop(columns="value")
    result = compute_kpis(shop(interactions=bare), start=START, end=END, kpis=SURVEYS)
    assert set(unavailable(result)) == set(SURVEYS) - {"first_contact_resolution_rate"}


def test_by_channel_without_an_interaction_channel_is_not_available() -> None:
    result = compute_kpis(shop(), by="channel", start=START, end=END, kpis=["nps"])
    assert unavailable(result) == {"nps": "the interactions table has no channel column"}
