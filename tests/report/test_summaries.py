"""The report's parts on small hand-made inputs: the summaries behind its tables, the HTML
table, the holdout sections and the feature-importance figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.evaluation.holdout import Evaluation, evaluate
from cxml.report import ReportError
from cxml.report.figures import feature_importance
from cxml.report.html import figure, table
from cxml.report.sections import gains_section, reliability_section
from cxml.report.summaries import check_plan, kpi_summary, nps_shares, segment_grid

CHURN_DEFINITION = (
    "customers with a purchase in the previous period and none in this one / "
    "customers with a purchase in the previous period"
)
NPS_DEFINITION = "100 x promoter answers (9-10) minus detractor answers (0-6) / nps answers"


def holdout(everyone_churned: bool = False) -> Evaluation:
    """One churn model and one CLV model on 20 holdout customers."""
    churned = np.ones(20) if everyone_churned else np.array([0, 1] * 10)
    value = np.arange(20.0)
    return evaluate(
        churned=churned,
        churn_scores={"churny": np.linspace(0.1, 0.9, 20)},
        value=value,
        clv_predictions={"valuey": value + 1},
    )


# --------------------------------------------------------------------------- summaries


def test_nps_classes_split_the_scores_0_to_6_7_to_8_and_9_to_10() -> None:
    """Passives from 6 counted a score of 6 twice, as detractor and passive."""
    one_answer_per_score = pd.Series(1, index=range(11))
    assert nps_shares(one_answer_per_score) == pytest.approx(
        {"detractors": 7 / 11, "passives": 2 / 11, "promoters": 2 / 11}
    )


def test_a_budget_of_zero_is_accepted_and_a_negative_one_refused() -> None:
    """A budget of 0 was refused, or a negative one accepted."""
    plan = pd.DataFrame({"action": ["a"], "customers": [1], "cost": [0.0], "expected_value": [0.0]})
    check_plan(plan, 0)
    check_plan(plan, None)
    with pytest.raises(ReportError, match=r"budget must be a number >= 0 or None, got -1\.0"):
        check_plan(plan, -1.0)


def test_kpi_summary_shows_the_last_two_periods_formatted_with_the_definition() -> None:
    """Previous was the first period, input was not sorted by period, shares lost their x 100
    and NPS its scale in the definition."""
    starts = pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01"])
    kpis = pd.DataFrame(
        [(s, "churn_rate", v, True, None) for s, v in zip(starts, [0.1, 0.2, 0.3], strict=True)]
        + [(s, "nps", v, True, None) for s, v in zip(starts, [10.0, 20.0, 30.0], strict=True)],
        columns=["period_start", "kpi", "value", "available", "reason"],
    )
    expected = pd.DataFrame(
        [
            ("Churn rate", "2023-03-01", "30.0%", "20.0%", CHURN_DEFINITION),
            ("NPS", "2023-03-01", "30.00", "20.00", NPS_DEFINITION),
        ],
        columns=["KPI", "period", "latest", "previous", "definition"],
    )
    pd.testing.assert_frame_equal(kpi_summary(kpis.iloc[::-1]), expected)


def test_the_segment_grid_lists_high_value_first_and_low_risk_first() -> None:
    """Low value came first."""
    scores = pd.DataFrame(
        {
            "churn_probability": [0.1],
            "clv": [5.0],
            "value_segment": ["high"],
            "risk_segment": ["low"],
        }
    )
    grid = segment_grid(scores)
    assert grid["value_segment"].tolist() == ["high"] * 3 + ["medium"] * 3 + ["low"] * 3
    assert grid["risk_segment"].tolist() == ["low", "medium", "high"] * 3
    assert grid["customers"].tolist() == [1] + [0] * 8


# --------------------------------------------------------------------------- html and sections


def test_table_cells_are_escaped() -> None:
    """Cell text went into the page as HTML."""
    html = table(pd.DataFrame({"m": ["<b>&"]}))
    assert "<td>&lt;b&gt;&amp;</td>" in html and "<b>" not in html


def test_a_metric_without_a_value_is_a_blank_cell_not_nan() -> None:
    """Everyone churned: no ROC AUC, which read "nan" in the table."""
    body = reliability_section(holdout(everyone_churned=True)).body
    assert "<tr><td>churny</td><td>model</td><td></td>" in body  # roc_auc comes first
    assert "<td>nan</td>" not in body


def test_the_churn_metrics_table_lists_the_churn_models_only() -> None:
    """The CLV models were listed among the churn models."""
    body = reliability_section(holdout()).body
    assert "<td>churny</td>" in body and "valuey" not in body


def test_the_gains_section_shows_the_gains_figure() -> None:
    """It showed the reliability curve under the caption "Cumulative gains"."""
    evaluation = holdout()
    body = gains_section(evaluation).body
    assert figure(evaluation.figures["cumulative_gains"], "Cumulative gains") in body
    assert figure(evaluation.figures["reliability_curve"], "Cumulative gains") not in body


# --------------------------------------------------------------------------- figures


def test_feature_importance_shows_the_largest_features_largest_on_top() -> None:
    """The smallest features were shown instead."""
    fig = feature_importance(pd.Series({"a_b": 5.0, "c": 1.0, "d": 3.0}), top=2)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["d", "a b"]  # bottom to top
    assert [bar.get_width() for bar in ax.patches] == pytest.approx([3 / 9, 5 / 9])
