"""The report's sections: each turns one summary into a titled block of HTML.

Every section says how to read it in one or two sentences; docs/report.md says more.
"""

from __future__ import annotations

import pandas as pd

from cxml.evaluation.holdout import Evaluation
from cxml.pipeline import Pipeline
from cxml.report import figures
from cxml.report.html import Section, figure, notice, paragraph, table
from cxml.report.summaries import (
    DASHBOARD_KPIS,
    NOT_AVAILABLE,
    kpi_summary,
    plan_totals,
    segment_grid,
)

CHURN_METRICS = ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile")
CLV_METRICS = ("normalized_gini", "spearman", "decile_mape", "mae", "aggregate_error")
NO_HOLDOUT = (
    f"{NOT_AVAILABLE}: the pipeline was fitted without a holdout cut-off, so no unseen "
    "outcomes were scored. Fit it with holdout= (or training.holdout in the config)."
)


def kpi_section(kpis: pd.DataFrame, period: str) -> Section:
    """Small multiples of the main KPIs over time and the latest value of every KPI."""
    how = (
        f"One panel per KPI, one point per whole period ({period}). A KPI whose input is "
        "missing reads 'not available', never 0; 'undefined' means nothing to divide by in "
        "that period. The table gives every KPI's latest value and its definition."
    )
    body = (
        paragraph(how)
        + figure(figures.kpi_small_multiples(kpis, DASHBOARD_KPIS), "KPI dashboard over time")
        + table(kpi_summary(kpis), "glossary")
    )
    return Section("kpis", "KPI dashboard", body)


def cohort_section(matrix: pd.DataFrame, period: str) -> Section:
    """The cohort retention heatmap, or why there is none."""
    title = "Cohort retention"
    if matrix.empty:
        return Section("cohorts", title, notice("No acquisition cohort starts in a whole period."))
    how = (
        "Each row is the customers whose first purchase fell in one period; each cell the "
        "share of them buying again k periods later. Read down a column to compare cohorts "
        "at the same age: darker is better retained."
    )
    body = paragraph(how) + figure(figures.cohort_heatmap(matrix, period), title)
    return Section("cohorts", title, body)


def nps_section(counts: pd.Series | str) -> Section:
    """The distribution of NPS answers, or why it is not available."""
    title = "NPS distribution"
    if isinstance(counts, str):
        return Section("nps", title, notice(f"{NOT_AVAILABLE}: {counts}."))
    how = (
        "Every NPS answer in the data by score. NPS = % promoters (9-10) - % detractors "
        "(0-6); passives (7-8) count in the total only. A polarised shape and a flat one "
        "can share the same NPS."
    )
    return Section("nps", title, paragraph(how) + figure(figures.nps_histogram(counts), title))


def _holdout_figure(evaluation: Evaluation | None, name: str, caption: str) -> str:
    if evaluation is None:
        return notice(NO_HOLDOUT)
    if name not in evaluation.figures:
        return notice(f"{NOT_AVAILABLE}: the holdout evaluation has no {name} figure.")
    return figure(evaluation.figures[name], caption)


def _metrics(evaluation: Evaluation | None, task: str, metrics: tuple[str, ...]) -> str:
    if evaluation is None:
        return ""
    wide = evaluation.wide()
    rows = wide[wide["task"] == task]
    shown = rows[["model", "role", *[m for m in metrics if m in rows.columns]]]
    return table(shown.round(4).astype(object).where(shown.notna(), ""))


def reliability_section(evaluation: Evaluation | None) -> Section:
    """Observed churn against predicted probability on the holdout, with the metrics."""
    how = (
        "Holdout customers grouped by predicted churn probability: on the diagonal, the "
        "predicted rate is the observed one. Points below it mean the model over-states "
        "risk. The baselines are drawn beside the model."
    )
    figure_ = _holdout_figure(evaluation, "reliability_curve", "Churn reliability curve")
    body = paragraph(how) + figure_ + _metrics(evaluation, "churn", CHURN_METRICS)
    return Section("reliability", "Churn reliability (calibration)", body)


def gains_section(evaluation: Evaluation | None) -> Section:
    """The share of churners caught by targeting the riskiest customers first."""
    how = (
        "Targeting customers by descending churn score, the share of all holdout churners "
        "reached. The higher above the diagonal (random targeting), the better."
    )
    figure_ = _holdout_figure(evaluation, "cumulative_gains", "Cumulative gains")
    return Section("gains", "Cumulative gains", paragraph(how) + figure_)


def clv_decile_section(evaluation: Evaluation | None) -> Section:
    """Mean predicted against mean actual holdout value per predicted-value decile."""
    how = (
        "Holdout customers ranked by predicted value, in ten equal groups (1 = highest). "
        "Paired bars close together mean a well-sized prediction; a falling staircase means "
        "a good ranking."
    )
    figure_ = _holdout_figure(evaluation, "clv_by_decile", "CLV by predicted decile")
    body = paragraph(how) + figure_ + _metrics(evaluation, "clv", CLV_METRICS)
    return Section("clv-deciles", "CLV by predicted decile", body)


def importance_section(pipeline: Pipeline) -> Section:
    """The churn model's features by share of total split gain."""
    how = (
        "How much each feature contributed to the churn model's splits (total gain). It "
        "shows what the model relies on, not the direction or a causal effect."
    )
    importances = pipeline.churn_model_.feature_importances_
    fig = figures.feature_importance(importances)
    return Section(
        "importance",
        "Feature importance (churn)",
        paragraph(how) + figure(fig, "Churn model feature importance"),
    )


def segment_section(scores: pd.DataFrame) -> Section:
    """Customers and expected loss in each value x risk segment."""
    grid = segment_grid(scores)
    how = (
        "Customers by value segment (CLV tertiles) and churn risk segment. Expected loss = "
        "sum of churn probability x the value of keeping the customer (CLV / (1 - churn "
        "probability)): the value expected to be lost without action. The top-right cells "
        "(high value, high risk) are where retention pays most."
    )
    shown = grid.assign(
        customers=grid["customers"].map("{:,}".format),
        expected_loss=grid["expected_loss"].map("{:,.0f}".format),
    )
    shown.columns = ["value segment", "risk segment", "customers", "expected loss"]
    body = paragraph(how) + figure(figures.segment_grid(grid), "Value x risk grid") + table(shown)
    return Section("segments", "Value x risk segments", body)


def plan_section(plan: pd.DataFrame, budget: float | None) -> Section:
    """Customers, cost and expected value per action, and the totals against the budget."""
    totals = plan_totals(plan, budget)
    budget_text = "no budget" if budget is None else f"budget {budget:,.0f}"
    left = totals["budget_left"]
    summary = (
        f"{totals['customers']:,.0f} customers contacted for {totals['cost']:,.0f} "
        f"({budget_text}"
        + ("" if left is None else f", {left:,.0f} left")
        + f"); expected incremental value {totals['expected_value']:,.0f}."
    )
    shown = plan[["action", "customers", "cost", "expected_value"]].assign(
        customers=plan["customers"].map("{:,.0f}".format),
        cost=plan["cost"].map("{:,.2f}".format),
        expected_value=plan["expected_value"].map("{:,.2f}".format),
    )
    body = (
        paragraph(summary)
        + figure(figures.action_plan(plan), "Action plan")
        + table(shown.rename(columns={"expected_value": "expected value"}))
    )
    return Section("plan", "Action plan", body)


def model_sections(pipeline: Pipeline) -> list[Section]:
    """The holdout and model sections of a fitted pipeline."""
    evaluation = pipeline.evaluation_
    return [
        reliability_section(evaluation),
        gains_section(evaluation),
        clv_decile_section(evaluation),
        importance_section(pipeline),
    ]
