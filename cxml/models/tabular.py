"""Input handling shared by the LightGBM estimators: feature frames and the time split."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data


def feature_frame(
    estimator: BaseEstimator, X: Any, *, reset: bool, time_column: str
) -> tuple[pd.DataFrame, pd.Series | None]:
    """X as a LightGBM-ready DataFrame plus its time column (None when absent).

    Text columns become categoricals; with ``reset`` their categories are recorded on the
    estimator (``categories_``), otherwise the recorded ones are imposed so that codes
    mean the same at fit and predict time. Arrays get columns ``x0, x1, ...``.
    """
    time = None
    if isinstance(X, pd.DataFrame):
        if time_column in X.columns:
            time = X[time_column]
            X = X.drop(columns=time_column)
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        frame = X.copy(deep=False)  # copy-on-write: converted columns never reach X
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            raise ValueError(
                f"Found array with shape {frame.shape}; at least 1 sample and "
                "1 feature are required."
            )
        for col in frame.columns:
            if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                frame[col] = frame[col].astype("category")
    else:
        array = validate_data(
            estimator, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64
        )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if reset:
        estimator.categories_ = {
            c: frame[c].cat.categories
            for c in frame.columns
            if isinstance(frame[c].dtype, pd.CategoricalDtype)
        }
    else:
        for col, cats in estimator.categories_.items():
            values = frame[col].astype(object)  # levels unseen at fit become missing
            frame[col] = pd.Categorical(values.where(values.isin(cats)), categories=cats)
    frame.columns = [str(c) for c in frame.columns]
    return frame, time


def lightgbm_matrix(frame: pd.DataFrame) -> np.ndarray:
    """A feature frame as the float64 matrix LightGBM's own pandas conversion would make.

    Categoricals become their codes (NaN when missing), so a frame from `feature_frame`
    predicts the same from this matrix as from itself. Converting once lets every pass and
    every booster of a model share the matrix instead of converting the frame per call.
    """
    matrix = np.empty(frame.shape, order="F")  # column-major: each column a contiguous copy
    for j, (_, column) in enumerate(frame.items()):
        if isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()
            matrix[:, j] = np.where(codes < 0, np.nan, codes)
        else:
            matrix[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
    return matrix


def validation_mask(n: int, time: pd.Series | None, fraction: float) -> tuple[np.ndarray, Any]:
    """Rows of the latest cut-off (and that cut-off), else the last `fraction` of rows.

    Never a random split: validation must come after training in time. With at most one
    cut-off the rows are taken in the order given.
    """
    if time is not None and time.nunique() > 1:
        latest = time.max()
        return (time == latest).to_numpy(), latest
    mask = np.zeros(n, dtype=bool)
    n_val = max(1, round(n * fraction))
    mask[n - n_val :] = True
    if mask.all():
        mask[: n // 2] = False
    return mask, None


#: Constraints of the settings every cxml LightGBM estimator shares, for
#: scikit-learn's parameter validation.
LIGHTGBM_CONSTRAINTS: dict[str, list[Any]] = {
    "n_estimators": [Interval(Integral, 1, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "num_leaves": [Interval(Integral, 2, None, closed="left")],
    "min_child_samples": [Interval(Integral, 1, None, closed="left")],
    "reg_lambda": [Interval(Real, 0, None, closed="left")],
    "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
    "early_stopping_rounds": [Interval(Integral, 1, None, closed="left")],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "time_column": [str],
    "random_state": ["random_state"],
    "n_jobs": [Integral, None],
}

#: Hyper-parameters every cxml LightGBM estimator exposes under the same names.
LIGHTGBM_PARAMS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "reg_lambda",
    "colsample_bytree",
    "random_state",
    "n_jobs",
)


def early_stopped(
    estimator: BaseEstimator,
    booster: type[lgb.LGBMModel],
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    *,
    refit: bool = False,
    **params: Any,
) -> lgb.LGBMModel:
    """A LightGBM model with `estimator`'s hyper-parameters, early-stopped on `valid`.

    With `refit`, the model is then trained again on `train` and `valid` together with the
    number of rounds early stopping chose, so that the latest cut-off is learnt from too.
    """
    settings = {name: getattr(estimator, name) for name in LIGHTGBM_PARAMS}
    model = booster(**settings, verbose=-1, **params)
    model.fit(
        *train,
        eval_X=(valid[0],),
        eval_y=(valid[1],),
        callbacks=[lgb.early_stopping(estimator.early_stopping_rounds, verbose=False)],
    )
    if not refit:
        return model
    settings["n_estimators"] = model.best_iteration_ or estimator.n_estimators
    both = pd.concat([train[0], valid[0]]), np.concatenate([train[1], valid[1]])
    return booster(**settings, verbose=-1, **params).fit(*both)
