"""`build_report` and `write_report`: the whole HTML report from tables, a fitted pipeline,
its scores and an action plan."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

import pandas as pd

from cxml.data import Tables
from cxml.kpis import cohort_retention, compute_kpis
from cxml.paths import check_writable
from cxml.pipeline import Pipeline
from cxml.report import sections
from cxml.report.errors import ReportError
from cxml.report.html import Section, page
from cxml.report.summaries import check_plan, check_scores, nps_counts

TITLE = "cxml report"


def build_report(
    tables: Tables,
    *,
    pipeline: Pipeline | None = None,
    scores: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
    budget: float | None = None,
    period: str = "M",
    title: str = TITLE,
) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    tables
        The customer histories: KPI dashboard, cohort retention and NPS distribution.
    pipeline
        A fitted `Pipeline`: adds the holdout sections (reliability, gains, CLV deciles)
        and the churn feature importance.
    scores
        `Pipeline.score` output for the value x risk grid; by default, when a pipeline is
        given, its scores at the end of the data.
    plan, budget
        An action plan (columns ``action, customers, cost, expected_value``, one row per
        action) and the budget it was planned under (None: unconstrained).
    period
        KPI and cohort period: ``"D"``, ``"W"`` or ``"M"``.
    title
        The page title.
    """
    _check_inputs(pipeline, scores, plan, budget)
    kpis = compute_kpis(tables, period=period)
    parts = [
        sections.kpi_section(kpis, period),
        sections.cohort_section(cohort_retention(tables, period=period), period),
        sections.nps_section(nps_counts(tables)),
    ]
    parts += _model_part(tables, pipeline, scores)
    if plan is not None:
        parts.append(sections.plan_section(plan, budget))
    return page(title, _meta(tables, period), parts)


def _model_part(
    tables: Tables, pipeline: Pipeline | None, scores: pd.DataFrame | None
) -> list[Section]:
    parts = []
    if pipeline is not None:
        parts = sections.model_sections(pipeline)
        if scores is None:
            scores = pipeline.score(tables, tables.observed_until)
    if scores is not None:
        parts.append(sections.segment_section(scores))
    return parts


def _check_inputs(
    pipeline: Pipeline | None,
    scores: pd.DataFrame | None,
    plan: pd.DataFrame | None,
    budget: float | None,
) -> None:
    """Refuse unusable inputs before any KPI is computed or figure drawn."""
    if pipeline is not None and not hasattr(pipeline, "churn_model_"):
        raise ReportError("the pipeline is not fitted: call fit(tables) first")
    if scores is not None:
        check_scores(scores)
    if plan is not None:
        check_plan(plan, budget)


def _meta(tables: Tables, period: str) -> str:
    now = dt.datetime.now(dt.UTC)
    return (
        f"Data until {tables.observed_until:%Y-%m-%d} (exclusive); KPIs per period {period}. "
        f"Generated {now:%Y-%m-%d %H:%M} UTC by cxml."
    )


def write_report(
    tables: Tables,
    path: str | Path,
    *,
    pipeline: Pipeline | None = None,
    scores: pd.DataFrame | None = None,
    plan: pd.DataFrame | None = None,
    budget: float | None = None,
    period: str = "M",
    title: str = TITLE,
) -> Path:
    """Build the report and write it to `path` (``.html``) atomically; returns the path.

    A temporary file is renamed over `path`, so a failure never leaves a partial report.
    """
    path = Path(path)
    check_path(path)
    html = build_report(
        tables,
        pipeline=pipeline,
        scores=scores,
        plan=plan,
        budget=budget,
        period=period,
        title=title,
    )
    write_html(html, path)
    return path


def check_path(path: Path) -> None:
    """Refuse, before any work, a report file name that does not end in ``.html`` or that
    cannot be written (`check_writable`)."""
    if path.suffix.lower() != ".html":
        raise ReportError(f"report {str(path)!r}: use a file name ending in .html")
    check_writable(path, "report", error=ReportError)


def write_html(html: str, path: Path) -> None:
    """Write the document atomically: a temporary file in the same folder, then rename."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial.write_text(html, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise ReportError(
            f"report {str(path)!r} cannot be written: {exc.strerror or exc}"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
