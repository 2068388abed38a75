"""`build_report` and `write_report`: which sections a report holds, that it is one
self-contained file, and that missing inputs read "not available" instead of 0."""

from __future__ import annotations

import base64
import errno
import re
import struct
from pathlib import Path

import pandas as pd
import pytest

from cxml.data import Tables
from cxml.kpis import cohort_retention, compute_kpis
from cxml.pipeline import Pipeline
from cxml.report import ReportError, build_report, write_report
from cxml.report.build import check_path, write_html
from cxml.report.figures import kpi_small_multiples
from cxml.report.html import Section
from cxml.report.sections import reliability_section
from cxml.report.summaries import (
    DASHBOARD_KPIS,
    nps_counts,
    nps_shares,
    plan_totals,
    segment_grid,
)
from tests.kpis.shop import shop

DATA_SECTIONS = ("kpis", "cohorts", "nps")
MODEL_SECTIONS = ("reliability", "gains", "clv-deciles", "importance", "segments")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
IMAGE = re.compile(
    r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]* width="(\d+)" '
    r'height="(\d+)">'
)


@pytest.fixture(scope="module")
def full(synthetic: Tables, fitted: Pipeline, scores: pd.DataFrame, plan: pd.DataFrame) -> str:
    return build_report(synthetic, pipeline=fitted, scores=scores, plan=plan, budget=3000.0)


@pytest.fixture(scope="module")
def kpis_only(cdnow: Tables) -> str:
    return build_report(cdnow)


def sections_of(html: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">', html)


def test_a_report_with_pipeline_and_plan_has_every_section_in_order(full: str) -> None:
    assert sections_of(full) == [*DATA_SECTIONS, *MODEL_SECTIONS, "plan"]


def test_a_report_without_pipeline_has_only_the_data_sections(kpis_only: str) -> None:
    assert sections_of(kpis_only) == list(DATA_SECTIONS)


def test_a_pipeline_alone_scores_at_the_data_end_for_the_segment_grid(
    synthetic: Tables, fitted: Pipeline, scores: pd.DataFrame, full: str
) -> None:
    html = build_report(synthetic, pipeline=fitted)
    assert sections_of(html) == [*DATA_SECTIONS, *MODEL_SECTIONS]
    # Same customers and expected loss as the scores passed explicitly.
    grid = re.search(r'<section id="segments">.*?</section>', html).group(0)
    assert (
        grid.split("<table")[1]
        == re.search(r'<section id="segments">.*?</section>', full).group(0).split("<table")[1]
    )


# Full: 3 data figures, 5 model figures and the plan; CDNOW has no NPS answers to show.
@pytest.mark.parametrize(("report", "figures"), [("full", 9), ("kpis_only", 2)])
def test_every_image_is_an_embedded_png_of_its_stated_size(
    report: str, figures: int, request: pytest.FixtureRequest
) -> None:
    html = request.getfixturevalue(report)
    images = IMAGE.findall(html)
    assert len(images) == html.count("<img") == figures
    for encoded, width, height in images:
        png = base64.b64decode(encoded, validate=True)
        assert png[:8] == PNG_MAGIC
        assert struct.unpack(">II", png[16:24]) == (int(width), int(height))


@pytest.mark.parametrize("report", ["full", "kpis_only"])
def test_the_file_needs_nothing_outside_itself(report: str, request: pytest.FixtureRequest) -> None:
    html = request.getfixturevalue(report)
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.IGNORECASE)
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert set(re.findall(r'\b(?:src|href)="([^":]*:?)', html)) <= {"data:", "#"} | {
        f"#{s}" for s in (*DATA_SECTIONS, *MODEL_SECTIONS, "plan")
    }


def test_kpis_without_input_read_not_available_never_zero(kpis_only: str, cdnow: Tables) -> None:
    # CDNOW has no interactions: NPS, CSAT, CES, support and referral KPIs have no input.
    row = re.search(r"<tr><td>NPS</td>.*?</tr>", kpis_only).group(0)
    assert "<td>not available</td>" in row
    assert "not available: no interactions table" in row
    nps = re.search(r'<section id="nps">.*?</section>', kpis_only).group(0)
    assert "not available: no interactions table" in nps and "<img" not in nps


def test_an_unavailable_kpi_panel_is_text_not_a_line(cdnow: Tables) -> None:
    figure = kpi_small_multiples(compute_kpis(cdnow), DASHBOARD_KPIS)
    panels = {ax.get_title(): ax for ax in figure.axes}
    assert len(panels["NPS"].lines) == 0
    assert "not available" in panels["NPS"].texts[0].get_text()
    assert len(panels["Churn rate"].lines) == 1


def test_the_nps_histogram_agrees_with_the_nps_kpi(synthetic: Tables) -> None:
    counts = nps_counts(synthetic)
    shares = nps_shares(counts)
    kpi = compute_kpis(synthetic, kpis=["nps"])
    expected = 100 * kpi["numerator"].sum() / kpi["denominator"].sum()
    assert counts.index.tolist() == list(range(11))
    assert counts.sum() == kpi["denominator"].sum()
    assert 100 * (shares["promoters"] - shares["detractors"]) == pytest.approx(expected)


def test_the_segment_grid_holds_every_customer_and_their_expected_loss(
    scores: pd.DataFrame,
) -> None:
    grid = segment_grid(scores)
    assert len(grid) == 9 and grid["customers"].sum() == len(scores)
    cell = scores[(scores["value_segment"] == "high") & (scores["risk_segment"] == "high")]
    row = grid[(grid["value_segment"] == "high") & (grid["risk_segment"] == "high")].iloc[0]
    assert row["customers"] == len(cell)
    p, clv = cell["churn_probability"], cell["clv"]
    expected = (p * clv.clip(lower=0) / (1 - p).clip(lower=0.05)).sum()
    assert row["expected_loss"] == pytest.approx(expected)


def test_the_plan_section_shows_totals_against_the_budget(full: str) -> None:
    plan = re.search(r'<section id="plan">.*?</section>', full).group(0)
    assert "1,500 customers contacted for 2,700 (budget 3,000, 300 left)" in plan
    assert "expected incremental value 5,400" in plan
    assert plan.count("<tr>") == 4  # header and three actions


def test_no_action_and_control_customers_are_not_counted_as_contacted() -> None:
    """`ActionPlan.summary` has a no_action row and a control row beside the actions."""
    summary = pd.DataFrame(
        {
            "action": ["no_action", "mail", "call", "control"],
            "customers": [7, 2, 1, 3],
            "cost": [0.0, 20.0, 15.0, 0.0],
            "expected_value": [0.0, 10.0, 6.0, 0.0],
        }
    )
    totals = plan_totals(summary, 50.0)
    assert totals == {"customers": 3.0, "cost": 35.0, "expected_value": 16.0, "budget_left": 15.0}


def test_a_pipeline_without_holdout_says_why_there_are_no_holdout_figures() -> None:
    section = reliability_section(None)
    assert "not available" in section.body and "holdout" in section.body
    assert "<img" not in section.body


def test_a_plan_without_the_expected_columns_is_refused(synthetic: Tables) -> None:
    plan = pd.DataFrame({"action": ["call"], "customers": [3], "cost": [9.0]})
    with pytest.raises(ReportError, match=r"plan lacks the columns \['expected_value'\]"):
        build_report(synthetic, plan=plan)


def test_an_unfitted_pipeline_is_refused(synthetic: Tables) -> None:
    with pytest.raises(ReportError, match="not fitted"):
        build_report(synthetic, pipeline=Pipeline(["2023-01-01"]))


def test_scores_without_segments_are_refused(synthetic: Tables, scores: pd.DataFrame) -> None:
    with pytest.raises(ReportError, match=r"scores lack the columns \['risk_segment'\]"):
        build_report(synthetic, scores=scores.drop(columns="risk_segment"))


def test_write_report_refuses_a_name_that_is_not_html(cdnow: Tables, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"ending in \.html"):
        write_report(cdnow, tmp_path / "report.pdf")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_report_path_leaves_no_file(cdnow: Tables, tmp_path: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ReportError, match="cannot be written"):
        write_report(cdnow, blocker / "report.html")
    assert list(tmp_path.iterdir()) == [blocker]


def test_write_report_writes_the_document(cdnow: Tables, tmp_path: Path) -> None:
    path = write_report(cdnow, tmp_path / "out" / "report.html", period="W", title="Weekly")
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<title>Weekly</title>" in html
    assert "KPIs per period W" in html
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]


def test_a_report_name_ending_in_upper_case_html_is_accepted(tmp_path: Path) -> None:
    """ "report.HTML" was refused as not ending in .html."""
    check_path(tmp_path / "report.HTML")


def test_a_failed_write_keeps_the_previous_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writing straight to the path left a half-written report in place of the old one."""
    path = tmp_path / "report.html"
    path.write_text("old")
    write_text = Path.write_text

    def disk_full_midway(self: Path, text: str, *args: object, **kwargs: object) -> int:
        write_text(self, text[:3], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", disk_full_midway)
    with pytest.raises(ReportError, match="cannot be written: No space left on device"):
        write_html("<html>new</html>", path)
    monkeypatch.undo()
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


def test_a_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The temporary file stayed behind when the rename failed."""
    (tmp_path / "report.html").mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(ReportError, match="cannot be written"):
        write_html("<html></html>", tmp_path / "report.html")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_the_cohorts_are_per_report_period(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cohort heatmap was monthly whatever the period asked for."""
    shown = []

    def cohort_section(matrix: pd.DataFrame, period: str) -> Section:
        shown.append((matrix, period))
        return Section("cohorts", "Cohort retention", "")

    monkeypatch.setattr("cxml.report.sections.cohort_section", cohort_section)
    tables = shop(customers=None)
    build_report(tables, period="W")
    weekly = cohort_retention(tables, period="W")
    assert len(weekly) > len(cohort_retention(tables, period="M"))
    assert [period for _, period in shown] == ["W"]
    pd.testing.assert_frame_equal(shown[0][0], weekly)
