"""Shared data for the report tests: small synthetic and CDNOW tables, one fitted pipeline,
an action plan, and one headless Chromium for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from cxml.data import Tables
from cxml.datasets import load_cdnow, make_synthetic
from cxml.pipeline import Pipeline
from tests.report.browser import Chromium, find_or_install_chromium

#: 2022-01 to 2024-01 data: label windows of 3 months end before the holdout cut-off,
#: whose own window ends before the data does.
CUTOFFS = ("2022-10-01", "2023-01-01")
HOLDOUT = "2023-07-01"


@pytest.fixture(scope="session")
def synthetic() -> Tables:
    tables, _ = make_synthetic(1500)
    return tables


@pytest.fixture(scope="session")
def cdnow() -> Tables:
    return load_cdnow()


@pytest.fixture(scope="session")
def fitted(synthetic: Tables) -> Pipeline:
    return Pipeline(CUTOFFS, "3M", holdout=HOLDOUT).fit(synthetic)


@pytest.fixture(scope="session")
def scores(fitted: Pipeline, synthetic: Tables) -> pd.DataFrame:
    return fitted.score(synthetic, synthetic.observed_until)


@pytest.fixture(scope="session")
def plan() -> pd.DataFrame:
    """What the action planner returns: one row per action, "no action" included."""
    return pd.DataFrame(
        {
            "action": ["no action", "email voucher", "call"],
            "customers": [900, 450, 150],
            "cost": [0.0, 450.0, 2250.0],
            "expected_value": [0.0, 1300.0, 4100.0],
        }
    )


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    binary = find_or_install_chromium()
    if binary is None:
        pytest.skip(
            "Chromium is not installed and `apt-get install -y chromium` failed or could not "
            "run (needs root and apt)"
        )
    return binary


@pytest.fixture(scope="session")
def browser(chromium_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chromium = Chromium(chromium_binary, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()
