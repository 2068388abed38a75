"""The report's own figures: KPI small multiples, cohort heatmap, NPS distribution, feature
importance, the value x risk grid and the action plan.

Like :mod:`cxml.evaluation.plots` (whose holdout figures the report reuses), each function
builds a standalone :class:`~matplotlib.figure.Figure` without pyplot's global state.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from cxml.pipeline import LEVELS
from cxml.report.summaries import (
    NOT_AVAILABLE,
    NPS_CLASSES,
    PERCENT_KPIS,
    kpi_label,
    nps_shares,
)

PANEL_COLUMNS = 4
#: Most cohort rows and tick labels drawn; more are thinned out, never cropped.
MAX_TICKS = 24
#: Largest cohort matrix whose cells are written as numbers.
MAX_ANNOTATED = 24


def kpi_small_multiples(kpis: pd.DataFrame, names: tuple[str, ...]) -> Figure:
    """One small line chart per KPI over the periods; a KPI without input says so."""
    rows = math.ceil(len(names) / PANEL_COLUMNS)
    fig = Figure(figsize=(12, 2.6 * rows))
    axes = fig.subplots(rows, PANEL_COLUMNS, squeeze=False).ravel()
    # Fixed margins: a constrained layout of a dozen panels doubled the drawing time.
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.05, top=0.95, wspace=0.32, hspace=0.4)
    for ax, name in zip(axes, names, strict=False):
        _kpi_panel(ax, name, kpis[kpis["kpi"] == name].sort_values("period_start"))
    for ax in axes[len(names) :]:
        ax.set_axis_off()
    return fig


def _kpi_panel(ax: Axes, name: str, series: pd.DataFrame) -> None:
    ax.set_title(kpi_label(name), fontsize=10)
    if series.empty or not series["available"].all():
        reason = "" if series.empty else str(series["reason"].iloc[0])
        _empty_panel(ax, f"{NOT_AVAILABLE}\n{reason}")
        return
    if series["value"].isna().all():
        _empty_panel(ax, "undefined in every period")
        return
    dates = series["period_start"].to_numpy()
    ax.plot(dates, series["value"].to_numpy(dtype=float), marker="o", markersize=3)
    locator = AutoDateLocator(maxticks=6)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if name in PERCENT_KPIS:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)


def _empty_panel(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color="grey", wrap=True, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def cohort_heatmap(matrix: pd.DataFrame, period: str) -> Figure:
    """Retention share per acquisition cohort (rows) and periods since acquisition."""
    grid = matrix.pivot(index="cohort_start", columns="periods_since", values="retention")
    n_rows, n_columns = grid.shape
    fig = Figure(figsize=(11, min(2.5 + 0.25 * n_rows, 10)), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(shown, ax=ax, format=PercentFormatter(1.0), label="retained")
    rows = _thinned(n_rows)
    date_format = "%Y-%m" if period == "M" else "%Y-%m-%d"
    ax.set_yticks(rows, [f"{grid.index[i]:{date_format}}" for i in rows], fontsize=8)
    columns = _thinned(n_columns)
    ax.set_xticks(columns, [str(grid.columns[i]) for i in columns], fontsize=8)
    if max(n_rows, n_columns) <= MAX_ANNOTATED:
        _annotate(ax, grid)
    ax.set(
        xlabel=f"Periods ({period}) since acquisition",
        ylabel="Acquisition cohort",
        title="Cohort retention",
    )
    return fig


def _thinned(n: int) -> list[int]:
    return list(range(0, n, max(1, math.ceil(n / MAX_TICKS))))


def _annotate(ax: Axes, grid: pd.DataFrame) -> None:
    for (row, column), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if not math.isnan(value):
            colour = "white" if value > 0.6 else "black"
            ax.text(
                column,
                row,
                f"{100 * value:.0f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color=colour,
            )


def nps_histogram(counts: pd.Series) -> Figure:
    """Answers per NPS score 0..10, coloured detractor / passive / promoter."""
    shares = nps_shares(counts)
    nps = 100 * (shares["promoters"] - shares["detractors"])
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.subplots()
    for name, low, high, colour in NPS_CLASSES:
        part = counts.loc[low:high]
        label = f"{name} {100 * shares[name]:.1f}%"
        ax.bar(part.index.to_numpy(), part.to_numpy(), color=colour, label=label)
    ax.set_xticks(range(11))
    ax.set(
        xlabel="Score (0 = not at all likely to recommend, 10 = extremely likely)",
        ylabel="Answers",
        title=f"NPS {nps:+.1f} from {int(counts.sum()):,} answers",
    )
    ax.legend(loc="upper left")
    return fig


def feature_importance(importances: pd.Series, top: int = 15) -> Figure:
    """The `top` features by share of total gain, largest at the top."""
    shares = (importances / importances.sum()).sort_values(ascending=False).head(top)[::-1]
    fig = Figure(figsize=(8, 0.3 * len(shares) + 1.2), layout="constrained")
    ax = fig.subplots()
    ax.barh([name.replace("_", " ") for name in shares.index], shares.to_numpy())
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.tick_params(axis="y", labelsize=8)
    ax.set(xlabel="Share of total gain", title=f"Churn model: top {len(shares)} features")
    return fig


def segment_grid(grid: pd.DataFrame) -> Figure:
    """The value x risk grid coloured by expected loss, each cell with its customers."""
    loss = grid.pivot(index="value_segment", columns="risk_segment", values="expected_loss")
    count = grid.pivot(index="value_segment", columns="risk_segment", values="customers")
    loss, count = (f.loc[list(LEVELS[::-1]), list(LEVELS)] for f in (loss, count))
    fig = Figure(figsize=(6.5, 4.8), layout="constrained")
    ax = fig.subplots()
    shown = ax.imshow(loss.to_numpy(dtype=float), cmap="OrRd")
    fig.colorbar(shown, ax=ax, label="expected loss")
    for (row, column), value in np.ndenumerate(loss.to_numpy(dtype=float)):
        customers = int(count.iloc[row, column])
        ax.text(
            column,
            row,
            f"{customers:,} customers\n{value:,.0f} expected loss",
            ha="center",
            va="center",
            fontsize=8,
        )
    ax.set_xticks(range(len(LEVELS)), list(LEVELS))
    ax.set_yticks(range(len(LEVELS)), list(LEVELS[::-1]))
    ax.set(xlabel="Churn risk segment", ylabel="Value segment", title="Value x risk")
    return fig


def action_plan(plan: pd.DataFrame) -> Figure:
    """Cost and expected value per action (horizontal bars), customers in the labels."""
    labels = [f"{a} ({int(c):,})" for a, c in zip(plan["action"], plan["customers"], strict=True)]
    y = np.arange(len(plan))
    fig = Figure(figsize=(8, 0.5 * len(plan) + 1.5), layout="constrained")
    ax = fig.subplots()
    height = 0.4
    ax.barh(
        y + height / 2,
        plan["expected_value"].to_numpy(dtype=float),
        height,
        label="expected value",
        color="#2ca02c",
    )
    ax.barh(
        y - height / 2, plan["cost"].to_numpy(dtype=float), height, label="cost", color="#d62728"
    )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set(xlabel="Amount", title="Action plan: cost and expected value (customers)")
    ax.legend(loc="best")
    return fig
