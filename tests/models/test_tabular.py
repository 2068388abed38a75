"""Shared LightGBM input handling: the one matrix every booster of a model predicts from."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd

from cxml.models.tabular import lightgbm_matrix, validation_mask


def test_matrix_predicts_exactly_as_the_frame_with_categories_missing_values_and_flags():
    rng = np.random.default_rng(1)
    n = 3000
    X = pd.DataFrame(
        {
            "amount": rng.gamma(2.0, 10.0, n),
            "region": pd.Categorical(rng.choice(["north", "south", "east"], n)),
            "consent": rng.random(n) < 0.5,
            "visits": rng.poisson(3, n).astype(float),
        }
    )
    y = X["amount"] / 20 + X["consent"] + (X["region"] == "east") + rng.normal(size=n)
    model = lgb.LGBMRegressor(n_estimators=30, verbose=-1).fit(X, y)
    new = X.head(200).copy()
    new.loc[new.index[::5], "region"] = None
    new.loc[new.index[::3], "amount"] = np.nan
    matrix = lightgbm_matrix(new)
    assert matrix.shape == new.shape and matrix.dtype == np.float64
    np.testing.assert_array_equal(model.booster_.predict(matrix), model.predict(new))


def test_validation_without_time_is_the_last_rows_in_the_order_given():
    """Guards against validating on the first rows (earlier data) instead of the last."""
    mask, cutoff = validation_mask(10, None, 0.2)
    assert cutoff is None
    np.testing.assert_array_equal(mask, [False] * 8 + [True] * 2)
    one_cutoff = pd.Series([5] * 10)  # a single cut-off gives no time order either
    np.testing.assert_array_equal(validation_mask(10, one_cutoff, 0.3)[0], [False] * 7 + [True] * 3)
