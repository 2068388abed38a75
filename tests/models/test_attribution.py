"""Path attributions: one leaf pass gives LightGBM's raw score exactly and the top drivers."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from cxml.models import attribution
from cxml.models.attribution import LeafTable, scores_and_attributions
from cxml.models.tabular import lightgbm_matrix


@pytest.fixture(scope="module")
def model_and_frame() -> tuple[lgb.LGBMClassifier, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.exponential(size=n),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n)),
            "d": rng.normal(size=n),
        }
    )
    X.loc[X.index[::11], "b"] = np.nan
    logit = X["a"] + np.log1p(X["b"].fillna(0)) - (X["c"] == "z") + 0.1 * X["d"]
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=15, verbose=-1, n_jobs=1)
    return model.fit(X, y), X


def _leaf_rows(model: lgb.LGBMClassifier, X: pd.DataFrame, table: LeafTable) -> np.ndarray:
    return model.booster_.predict(lightgbm_matrix(X), pred_leaf=True) + table.offsets


def _all_attributions(table: LeafTable, rows: np.ndarray) -> np.ndarray:
    n, t = rows.shape
    hits = sparse.csr_matrix(
        (np.ones(n * t), rows.ravel(), np.arange(0, n * t + 1, t)),
        shape=(n, table.attributions.shape[0]),
    )
    return (hits @ table.attributions).toarray()


@pytest.mark.parametrize("n_jobs", [1, 2, None])
def test_leaf_outputs_sum_to_lightgbm_raw_score_bit_for_bit(model_and_frame, monkeypatch, n_jobs):
    model, X = model_and_frame
    monkeypatch.setattr(attribution, "CHUNK_ROWS", 1500)  # several chunks, in order
    raw, positions, _ = scores_and_attributions(model, X, 30, k=2, n_jobs=n_jobs)
    np.testing.assert_array_equal(raw, model.predict(X, raw_score=True, num_iteration=30))
    assert positions.shape == (len(X), 2)


def test_attributions_and_bias_sum_to_the_raw_score(model_and_frame):
    model, X = model_and_frame
    table = LeafTable.of(model, 40)
    full = _all_attributions(table, _leaf_rows(model, X, table))
    raw = model.predict(X, raw_score=True)
    np.testing.assert_allclose(full.sum(axis=1) + table.bias, raw, rtol=1e-9, atol=1e-9)


def test_top_attributions_are_the_largest_strongest_first(model_and_frame):
    model, X = model_and_frame
    table = LeafTable.of(model, 40)
    rows = _leaf_rows(model, X, table)
    positions, values = table.top(rows, 3)
    full = _all_attributions(table, rows)
    np.testing.assert_array_equal(values, -np.sort(-full, axis=1)[:, :3])
    np.testing.assert_array_equal(np.take_along_axis(full, positions, axis=1), values)
