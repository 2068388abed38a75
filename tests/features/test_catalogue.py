"""The catalogue, its documentation and the snapshot's columns agree."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from cxml.data import Tables
from cxml.features import FeatureSpec, build_snapshot, catalogue
from cxml.features.catalogue import plan

DOC = Path(__file__).parents[2] / "docs" / "features.md"


def test_every_public_feature_is_documented():
    spec = FeatureSpec(windows=(30,), event_types=("web_visit",))
    documented = DOC.read_text()
    for feature in catalogue(spec):
        if feature.name.startswith("_"):
            continue
        name = feature.name.replace("web_visit", "{event}").replace("30d", "{w}d")
        assert f"`{name}`" in documented, name


def test_feature_names_are_unique():
    names = [f.name for f in catalogue()]
    assert len(names) == len(set(names))


def test_snapshot_columns_follow_the_plan_and_groups():
    tx = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "amount": [5.0, 6.0],
            "timestamp": pd.to_datetime(["2021-01-01", "2021-01-02"]),
        }
    )
    tables = Tables(tx)
    spec = FeatureSpec(groups=("btyd", "windows"), windows=(7,))
    snap = build_snapshot(tables, "2021-02-01", spec)
    assert list(snap.columns) == [
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "n_orders_7d",
        "revenue_7d",
        "orders_trend_7d",
    ]
    todo = plan(spec, {"transactions": ["customer_id", "timestamp", "amount", "is_return"]})
    assert todo.outputs == list(snap.columns)


def test_unknown_group_is_refused():
    with pytest.raises(ValueError, match="groups"):
        FeatureSpec(groups=("btyd", "astrology"))
