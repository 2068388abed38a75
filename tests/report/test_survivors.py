"""Report behaviour a second mutation audit found untested: scores passed with a pipeline
are the ones the segment grid shows."""

from __future__ import annotations

import re

import pandas as pd

from cxml.data import Tables
from cxml.pipeline import Pipeline
from cxml.report import build_report


def test_scores_given_with_a_pipeline_are_the_ones_the_segments_show(
    synthetic: Tables, fitted: Pipeline, scores: pd.DataFrame
) -> None:
    """`cxml report --as-of` passes the model's scores at that date; the report re-scored
    every customer at the end of the data instead."""
    given = scores.head(100)
    html = build_report(synthetic, pipeline=fitted, scores=given)
    grid = re.search(r'<section id="segments">.*?</section>', html, re.S).group(0)
    counts = re.findall(r"<tr><td>\w+</td><td>\w+</td><td>([\d,]+)</td>", grid)
    assert len(counts) == 9
    assert sum(int(count.replace(",", "")) for count in counts) == len(given)
