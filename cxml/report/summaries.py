"""The numbers behind the report's figures and tables, as small pandas frames.

Pure functions: tables, scores or a plan in, a summary out. Anything a reader could
mistake for a measured zero is kept apart: a KPI whose input is missing is "not available".
"""

from __future__ import annotations

import math
from numbers import Real

import narwhals as nw
import numpy as np
import pandas as pd

from cxml.actions.catalogue import NO_ACTION
from cxml.actions.plan import CONTROL
from cxml.actions.value import value_at_stake
from cxml.data import Tables
from cxml.data.engine import collect
from cxml.kpis.catalogue import BY_NAME, KPIS
from cxml.pipeline import LEVELS
from cxml.report.errors import ReportError

#: The small multiples of the KPI dashboard, in reading order (all KPIs are in its table).
DASHBOARD_KPIS = (
    "churn_rate",
    "retention_rate",
    "repeat_purchase_rate",
    "returning_customer_share",
    "average_order_value",
    "revenue_per_customer",
    "nps",
    "csat_satisfied_share",
    "ces_mean",
    "first_contact_resolution_rate",
    "mau",
    "stickiness",
)
#: KPIs that are shares of a whole: shown as percentages.
PERCENT_KPIS = frozenset(
    {
        "churn_rate",
        "retention_rate",
        "repeat_purchase_rate",
        "returning_customer_share",
        "csat_satisfied_share",
        "first_contact_resolution_rate",
        "referral_rate",
        "stickiness",
        "trial_to_paid_rate",
    }
)
NOT_AVAILABLE = "not available"
_ACRONYMS = {"nps": "NPS", "csat": "CSAT", "ces": "CES", "dau": "DAU", "wau": "WAU", "mau": "MAU"}
SCORE_NEEDS = ("churn_probability", "clv", "value_segment", "risk_segment")
PLAN_COLUMNS = ("action", "customers", "cost", "expected_value")
#: NPS answer classes: (name, lowest score, highest score, colour).
NPS_CLASSES = (
    ("detractors", 0, 6, "#d62728"),
    ("passives", 7, 8, "#f2b134"),
    ("promoters", 9, 10, "#2ca02c"),
)


def kpi_label(name: str) -> str:
    """A KPI's display name: ``csat_satisfied_share`` -> ``CSAT satisfied share``."""
    words = [_ACRONYMS.get(word, word) for word in name.split("_")]
    first = words[0] if words[0].isupper() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def format_kpi(name: str, value: float) -> str:
    """A KPI value as text: percentages for shares, "undefined" for an empty denominator."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "undefined"
    if name in PERCENT_KPIS:
        return f"{100 * value:.1f}%"
    return f"{value:,.2f}"


def kpi_summary(kpis: pd.DataFrame) -> pd.DataFrame:
    """Every KPI's latest and previous period value, and what it divides by what.

    `kpis` is one segment of `compute_kpis` output. A KPI without input reads "not
    available" with the reason, never a number.
    """
    rows = []
    for kpi in KPIS:
        series = kpis[kpis["kpi"] == kpi.name].sort_values("period_start")
        if series.empty:
            continue
        rows.append(_summary_row(kpi.name, series))
    return pd.DataFrame(rows, columns=["KPI", "period", "latest", "previous", "definition"])


def _summary_row(name: str, series: pd.DataFrame) -> tuple[str, str, str, str, str]:
    kpi = BY_NAME[name]
    last = series.iloc[-1]
    period = f"{last['period_start']:%Y-%m-%d}"
    if not bool(last["available"]):
        return kpi_label(name), period, NOT_AVAILABLE, "", f"{NOT_AVAILABLE}: {last['reason']}"
    previous = format_kpi(name, series["value"].iloc[-2]) if len(series) > 1 else ""
    definition = f"{kpi.numerator} / {kpi.denominator}"
    if kpi.scale != 1:
        definition = f"{kpi.scale:g} x {definition}"
    return kpi_label(name), period, format_kpi(name, last["value"]), previous, definition


def nps_counts(tables: Tables) -> pd.Series | str:
    """Answers per whole NPS score 0..10 (index), or why there are none.

    Scores are binned down to whole points; the data contract keeps them within 0..10.
    """
    if tables.interactions is None:
        return "no interactions table"
    if "value" not in tables.interactions.collect_schema().names():
        return "the interactions table has no value column"
    answers = tables.interactions.filter(
        (nw.col("event_type") == "nps") & ~nw.col("value").is_null()
    )
    counts = collect(answers.group_by("value").agg(nw.len().alias("answers")))
    if counts.empty:
        return "no nps answers with a value"
    scores = np.floor(counts["value"].to_numpy(dtype=float)).astype(int)
    binned = pd.Series(counts["answers"].to_numpy(), index=scores).groupby(level=0).sum()
    return binned.reindex(range(11), fill_value=0).rename_axis("score").astype("int64")


def nps_shares(counts: pd.Series) -> dict[str, float]:
    """Share of detractors, passives and promoters among the answers."""
    total = counts.sum()
    return {name: counts.loc[low:high].sum() / total for name, low, high, _ in NPS_CLASSES}


def check_scores(scores: pd.DataFrame) -> None:
    """Scores need churn probability, CLV and both segments (`Pipeline.score` output)."""
    missing = [c for c in SCORE_NEEDS if c not in scores.columns]
    if missing:
        raise ReportError(
            f"scores lack the columns {missing}; pass the output of Pipeline.score or "
            "cxml.tracking.score"
        )


def segment_grid(scores: pd.DataFrame) -> pd.DataFrame:
    """Customers and expected loss per value x risk cell.

    A customer's expected loss is churn probability x the value of keeping them, CLV / (1 -
    churn probability) as the actions module defines it (`value_at_stake`): CLV already
    counts the chance of churn, so p x CLV would understate the loss of risky customers.

    Returns all nine cells, value segment high first then risk segment low first; an empty
    cell has 0 customers (a real count, not a missing input).
    """
    churn = scores["churn_probability"].to_numpy(dtype=float)
    loss = churn * value_at_stake(churn, scores["clv"].to_numpy(dtype=float))
    frame = scores.assign(expected_loss=loss)
    cells = frame.groupby(["value_segment", "risk_segment"]).agg(
        customers=("clv", "size"), expected_loss=("expected_loss", "sum")
    )
    order = pd.MultiIndex.from_product(
        [LEVELS[::-1], LEVELS], names=["value_segment", "risk_segment"]
    )
    return cells.reindex(order, fill_value=0).reset_index()


def check_plan(plan: pd.DataFrame, budget: float | None) -> None:
    """A plan has one row per action with customers, cost and expected value."""
    if not isinstance(plan, pd.DataFrame):
        raise ReportError(f"plan must be a pandas DataFrame, got {type(plan).__name__}")
    missing = [c for c in PLAN_COLUMNS if c not in plan.columns]
    if missing:
        raise ReportError(
            f"plan lacks the columns {missing}; it needs {list(PLAN_COLUMNS)} (one row per action)"
        )
    if budget is not None and not (isinstance(budget, Real) and budget >= 0):
        raise ReportError(f"budget must be a number >= 0 or None, got {budget!r}")


def plan_totals(plan: pd.DataFrame, budget: float | None) -> dict[str, float | None]:
    """Customers contacted, total cost, total expected value and the budget left.

    `plan` is `ActionPlan.summary`: its no-action and control rows are nobody contacted.
    """
    cost = float(plan["cost"].sum())
    contacted = ~plan["action"].isin([NO_ACTION, CONTROL])
    return {
        "customers": float(plan.loc[contacted, "customers"].sum()),
        "cost": cost,
        "expected_value": float(plan["expected_value"].sum()),
        "budget_left": None if budget is None else float(budget) - cost,
    }
