"""The recombination rules of docs/kpis.md, read from its table and checked on every KPI:
segments of a customer attribute recombine to the unsegmented KPIs, days to months."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from cxml.datasets import make_synthetic
from cxml.kpis import KPIS, compute_kpis
from tests.kpis.shop import END, START, shop
from tests.kpis.test_compute import DOCS

SCALE = {kpi.name: kpi.scale for kpi in KPIS}
#: The documented segment rule that keeps one denominator instead of summing them.
KEEP_ONE = "sum the numerators, keep one denominator"
#: The documented period rule that gives the KPI of the longer period.
LONGER = "sum both: the KPI of the longer period"


def documented_rules() -> dict[str, tuple[str, str]]:
    """KPI -> (rule over segments, rule over periods), from the recombination table."""
    text = DOCS.read_text().split("\n## Recombining segments and periods\n", 1)[-1]
    section = text.split("\n## ", 1)[0]
    rules = {}
    for kpis, segments, periods in re.findall(r"^\| (`.+?) \| (.+?) \| (.+?) \|$", section, re.M):
        for name in re.findall(r"`(\w+)`", kpis):
            assert name not in rules, f"{name} has two rules"
            rules[name] = (segments, periods)
    return rules


RULES = documented_rules()


def recombined(parts: pd.DataFrame, keep_one: set[str]) -> pd.DataFrame:
    """Numerator, denominator and value per period_start and KPI, the counts of `parts`
    summed, but for the KPIs in `keep_one` the one denominator the parts share."""
    groups = parts.groupby(["period_start", "kpi"])
    sums = groups[["numerator", "denominator"]].sum()
    kept = sums.index.get_level_values("kpi").isin(keep_one)
    shared = groups["denominator"].agg(["min", "max"])
    assert (shared.loc[kept, "min"] == shared.loc[kept, "max"]).all()
    sums.loc[kept, "denominator"] = shared.loc[kept, "min"]
    scale = sums.index.get_level_values("kpi").map(SCALE).to_numpy()
    denominator = sums["denominator"].where(sums["denominator"] > 0)
    return sums.assign(value=scale * sums["numerator"] / denominator)


def assert_same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """The available KPIs of `expected` (a compute_kpis result) equal `got`'s."""
    expected = expected[expected["available"]].set_index(["period_start", "kpi"])
    for column in ("numerator", "denominator", "value"):
        left = expected[column].to_numpy(np.float64)
        right = got.loc[expected.index, column].to_numpy(np.float64)
        assert np.allclose(left, right, equal_nan=True), column


def assert_segments_recombine(whole: pd.DataFrame, parts: pd.DataFrame) -> None:
    """The KPIs of customer-attribute segments `parts`, recombined by the documented rule,
    equal the unsegmented `whole`."""
    keep_one = {kpi for kpi, (segments, _) in RULES.items() if segments == KEEP_ONE}
    assert_same(whole, recombined(parts, keep_one))


def test_every_kpi_has_one_documented_rule() -> None:
    assert set(RULES) == {kpi.name for kpi in KPIS}
    assert {segments for segments, _ in RULES.values()} == {KEEP_ONE, "sum both"}


def test_customer_attribute_segments_recombine_to_the_unsegmented_kpis() -> None:
    # the shop has every KPI, trials included, and a "(missing)" segment (customer 5)
    whole = compute_kpis(shop(), start=START, end=END)
    assert whole["available"].all()
    assert_segments_recombine(whole, compute_kpis(shop(), by="region", start=START, end=END))


@pytest.mark.parametrize("data", ["shop", "synthetic"])
def test_days_recombine_to_the_month_where_documented(data: str) -> None:
    tables = shop() if data == "shop" else make_synthetic(500, seed=5)[0]
    claimed = [kpi for kpi, (_, periods) in RULES.items() if periods == LONGER]
    months = compute_kpis(tables, start=START, end=END, kpis=claimed)
    days = compute_kpis(tables, period="D", start=START, end=END, kpis=claimed)
    days["period_start"] = days["period_start"].dt.to_period("M").dt.start_time
    assert_same(months, recombined(days, set()))
