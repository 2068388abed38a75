"""The report in a real headless Chromium: no console errors, every image loads, nothing is
fetched but the file itself, and a full-page screenshot for a human to look at.

The screenshot is kept in the test's tmp_path and copied to output/report_screenshot.png.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from cxml.data import Tables
from cxml.pipeline import Pipeline
from cxml.report import write_report
from tests.conftest import ROOT
from tests.report.browser import Chromium, Rendered, render

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCREENSHOT = ROOT / "output" / "report_screenshot.png"


def assert_renders_cleanly(rendered: Rendered, path: Path) -> None:
    assert rendered.errors == []
    assert rendered.requests == [path.as_uri()]
    assert rendered.images, "the page shows no image"
    for image in rendered.images:
        assert image["complete"] and image["naturalWidth"] > 0, image


@pytest.fixture(scope="module")
def full_report(
    synthetic: Tables,
    fitted: Pipeline,
    scores: pd.DataFrame,
    plan: pd.DataFrame,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    return write_report(synthetic, path, pipeline=fitted, scores=scores, plan=plan, budget=3000.0)


def test_the_full_report_renders_without_errors_and_every_plot_loads(
    browser: Chromium, full_report: Path, tmp_path: Path
) -> None:
    rendered = render(browser, full_report.as_uri())
    assert_renders_cleanly(rendered, full_report)
    assert len(rendered.images) == full_report.read_text().count("<img")
    assert rendered.screenshot[:8] == PNG_MAGIC
    screenshot = tmp_path / "report_screenshot.png"
    screenshot.write_bytes(rendered.screenshot)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copyfile(screenshot, SCREENSHOT)


def test_a_kpi_only_report_renders_without_errors(
    browser: Chromium, cdnow: Tables, tmp_path: Path
) -> None:
    path = write_report(cdnow, tmp_path / "cdnow.html")
    assert_renders_cleanly(render(browser, path.as_uri()), path)


def test_the_browser_check_catches_a_broken_image_and_a_console_error(
    browser: Chromium, tmp_path: Path
) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><img src="data:image/png;base64,AAAA" alt="broken">'
        "<script>console.error('boom')</script>"
    )
    rendered = render(browser, page.as_uri())
    assert rendered.errors == ["boom"]
    assert rendered.images[0]["naturalWidth"] == 0
