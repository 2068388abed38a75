"""The snapshot reproduces the BTYD summary lifetimes ships for the CDNOW sample."""

from __future__ import annotations

import pandas as pd
import pytest

from cxml.datasets import load_cdnow
from cxml.datasets.cdnow import lifetimes_data_dir
from cxml.features import FeatureSpec, build_snapshot


@pytest.fixture(scope="module")
def snapshot() -> pd.DataFrame:
    return build_snapshot(
        load_cdnow(sample=True), "1997-10-01", FeatureSpec(groups=("btyd",), time_unit="W")
    )


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return pd.read_csv(lifetimes_data_dir() / "cdnow_customers_summary.csv", index_col="ID")


def test_population_is_the_2357_sample_customers(snapshot, published):
    assert len(snapshot) == 2357
    assert list(snapshot.index) == list(published.index)


def test_frequency_totals_match_the_paper(snapshot):
    assert snapshot["frequency"].sum() == 2457
    assert (snapshot["frequency"] == 0).sum() == 1411


@pytest.mark.parametrize("column", ["frequency", "recency", "T"])
def test_btyd_columns_equal_the_published_summary(snapshot, published, column):
    # The published file rounds to two decimals.
    assert (snapshot[column] - published[column]).abs().max() <= 0.01


def test_monetary_value_of_repeaters(snapshot):
    repeaters = snapshot[snapshot["frequency"] > 0]
    assert len(repeaters) == 946
    assert repeaters["monetary_value"].mean() == pytest.approx(35.08, abs=0.005)


def test_master_file_has_all_customers():
    tables = load_cdnow()
    transactions = tables.to_pandas("transactions")
    assert len(transactions) == 69_659
    assert transactions["customer_id"].nunique() == 23_570
    assert transactions["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert transactions["timestamp"].max() == pd.Timestamp("1998-06-30")
