"""The tidy KPI table: shape, KPI selection, segments and argument errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxml.errors import ParameterError
from cxml.kpis import KPIS, catalogue, compute_kpis
from cxml.kpis.compute import COLUMNS
from tests.kpis.shop import END, START, shop

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"


def test_one_row_per_kpi_segment_and_period_with_the_documented_columns() -> None:
    result = compute_kpis(shop(), by="region", start=START, end=END)
    assert tuple(result.columns) == COLUMNS
    assert len(result) == len(KPIS) * 3 * 3  # KPIs x {north, south, (missing)} x 3 months
    assert not result.duplicated(["period_start", "segment", "kpi"]).any()
    assert result["kpi"].unique().tolist() == [kpi.name for kpi in KPIS]


def test_available_kpis_have_no_reason_and_value_is_scale_times_the_ratio() -> None:
    result = compute_kpis(shop(), start=START, end=END)
    available = result[result["available"]]
    assert available["reason"].isna().all()
    defined = available[available["denominator"] > 0]
    scale = defined["kpi"].map({k.name: k.scale for k in KPIS})
    ratio = scale * defined["numerator"] / defined["denominator"]
    assert (defined["value"] - ratio).abs().max() < 1e-12


def test_a_subset_of_kpis() -> None:
    result = compute_kpis(shop(), start=START, end=END, kpis=["nps", "churn_rate"])
    assert result["kpi"].unique().tolist() == ["nps", "churn_rate"]


def test_an_unknown_kpi_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="unknown KPI"):
        compute_kpis(shop(), kpis=["net_promoter"])


def test_segmenting_by_an_unknown_attribute_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="'tier' is not a customers-table attribute"):
        compute_kpis(shop(), by="tier")


def test_segmenting_without_a_customers_table_is_a_parameter_error() -> None:
    with pytest.raises(ParameterError, match="needs a customers table"):
        compute_kpis(shop(customers=None), by="region")


def test_every_kpi_is_documented() -> None:
    documented = set(re.findall(r"^### `(\w+)`", DOCS.read_text(), flags=re.MULTILINE))
    assert documented == {kpi.name for kpi in KPIS}


def test_the_catalogue_describes_every_kpi() -> None:
    table = catalogue()
    assert table["name"].tolist() == [kpi.name for kpi in KPIS]
    text = table[["numerator", "denominator", "needs"]]
    assert (text.map(len) > 0).all().all()
