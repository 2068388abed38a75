"""CLV metrics: ranking (normalized Gini, Spearman), decile calibration and money errors.

Functions take the actual future value and a prediction per customer (arrays or Series
of equal length, aligned by position, not index) and return floats or tidy DataFrames.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import spearmanr
from sklearn.metrics import mean_absolute_error, root_mean_squared_error

from cxml.errors import ParameterError

# Shared input checks live with the churn metrics; both layers validate the same way.
from cxml.evaluation.churn import _same_length, _top_order, _vector

#: Groups of the decile table, decile MAPE and the CLV-by-decile figure.
DECILES = 10


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _vector(y_true, "y_true")
    f = _vector(y_pred, "y_pred")
    _same_length(y_true=y, y_pred=f)
    return y, f


def _gini(actual: np.ndarray, score: np.ndarray) -> float:
    """Area between the Lorenz curve of `actual` (ordered by descending `score`) and the diagonal.

    Customers with tied scores form one segment of the curve, drawn straight: this is the
    average over every order of the ties, so the result does not depend on row order and a
    constant score gets exactly 0. Without ties it equals the usual Kaggle/insurance Gini.
    """
    order = np.argsort(-score, kind="stable")
    sorted_score = score[order]
    # Last position of every run of equal scores: where the curve has a knot.
    ends = np.flatnonzero(np.r_[sorted_score[1:] != sorted_score[:-1], True])
    population = np.r_[0, ends + 1] / len(actual)
    captured = np.r_[0.0, np.cumsum(actual[order])[ends]] / actual.sum()
    area = np.sum(np.diff(population) * (captured[1:] + captured[:-1]) / 2)
    return float(area - 0.5)


def normalized_gini(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Gini of the predictions over the Gini of the truth, in [-1, 1].

    1 means the predictions order customers exactly as their actual value does, 0 no
    better than random, -1 exactly reversed. Only the order of `y_pred` matters, so any
    strictly increasing transform leaves it unchanged; ties are handled as in a straight
    Lorenz segment (the average over all tie orders). NaN when the truth has no spread
    (all values equal) or sums to zero.
    """
    y, f = _pair(y_true, y_pred)
    total = y.sum()
    if total == 0 or np.all(y == y[0]):
        return math.nan
    best = _gini(y, y)
    return _gini(y, f) / best if best != 0 else math.nan


def decile_table(y_true: ArrayLike, y_pred: ArrayLike, n: int = DECILES) -> pd.DataFrame:
    """Customers split into `n` equal-count groups by predicted value, with means and sums.

    Group 1 holds the highest predictions; when the count does not divide evenly the first
    groups get one customer more. Customers with tied predictions may fall on both sides of
    a group boundary: each then counts with the mean actual value of its ties, the average
    over every order of the ties (as lift and the Gini do), so row order changes nothing.

    Returns
    -------
    DataFrame
        One row per group: ``decile``, ``n``, ``mean_predicted``, ``mean_actual``,
        ``sum_predicted``, ``sum_actual``.
    """
    y, f = _pair(y_true, y_pred)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ParameterError(f"n must be a positive integer, got {n!r}")
    if len(y) < n:
        raise ParameterError(f"{n} groups need at least {n} customers, got {len(y)}")
    order = _top_order(f)
    f, y = f[order], y[order]
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    sizes = np.diff(np.r_[starts, len(f)])
    y = np.repeat(np.add.reduceat(y, starts) / sizes, sizes)
    groups = np.array_split(np.arange(len(f)), n)
    return pd.DataFrame(
        {
            "decile": np.arange(1, n + 1),
            "n": [len(g) for g in groups],
            "mean_predicted": [f[g].mean() for g in groups],
            "mean_actual": [y[g].mean() for g in groups],
            "sum_predicted": [f[g].sum() for g in groups],
            "sum_actual": [y[g].sum() for g in groups],
        }
    )


def decile_mape(y_true: ArrayLike, y_pred: ArrayLike, n: int = DECILES) -> float:
    """Mean absolute percentage error of mean predicted vs mean actual value per decile.

    A fraction (0.12 = 12 %). Deciles are those of :func:`decile_table`. Deciles whose
    actual mean is zero have no percentage error and are skipped; NaN if all are.
    """
    table = decile_table(y_true, y_pred, n)
    scored = table[table["mean_actual"] != 0]
    if scored.empty:
        return math.nan
    errors = (scored["mean_predicted"] - scored["mean_actual"]).abs() / scored["mean_actual"].abs()
    return float(errors.mean())


def holdout_by_frequency(
    calibration_frequency: ArrayLike,
    actual_holdout: ArrayLike,
    predicted_holdout: ArrayLike,
    *,
    max_frequency: int = 7,
) -> pd.DataFrame:
    """Mean actual and predicted holdout transactions by calibration-period frequency.

    The classic BTYD check (Fader, Hardie & Lee 2005): customers are grouped by their
    repeat purchases in the calibration period, 0, 1, ..., with everyone at or above
    `max_frequency` pooled in the last group.

    Returns
    -------
    DataFrame
        One row per group ``0 .. max_frequency``: ``frequency``, ``label`` (``"7+"`` for
        the pooled group), ``n``, ``mean_actual``, ``mean_predicted`` (NaN when empty).
    """
    freq = _vector(calibration_frequency, "calibration_frequency")
    actual = _vector(actual_holdout, "actual_holdout")
    predicted = _vector(predicted_holdout, "predicted_holdout")
    _same_length(calibration_frequency=freq, actual_holdout=actual, predicted_holdout=predicted)
    if isinstance(max_frequency, bool) or not isinstance(max_frequency, int | np.integer):
        raise ParameterError(f"max_frequency must be an integer, got {max_frequency!r}")
    if max_frequency < 1:
        raise ParameterError(f"max_frequency must be at least 1, got {max_frequency}")
    if np.any(freq < 0) or np.any(freq != np.floor(freq)):
        raise ParameterError(
            "calibration_frequency must hold non-negative whole numbers of repeat purchases"
        )
    group = np.minimum(freq, max_frequency).astype(int)
    size = max_frequency + 1
    counts = np.bincount(group, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_actual = np.bincount(group, weights=actual, minlength=size) / counts
        mean_predicted = np.bincount(group, weights=predicted, minlength=size) / counts
    labels = [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"]
    return pd.DataFrame(
        {
            "frequency": np.arange(size),
            "label": labels,
            "n": counts,
            "mean_actual": mean_actual,
            "mean_predicted": mean_predicted,
        }
    )


def clv_metrics(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Every CLV metric for one set of predicted future values.

    Returns
    -------
    dict
        ``normalized_gini`` (:func:`normalized_gini`), ``spearman`` (rank correlation;
        NaN if either side is constant), ``decile_mape`` (:func:`decile_mape`; NaN below
        10 customers), ``mae``, ``rmse``, ``aggregate_error`` (``(sum_pred - sum_actual) /
        sum_actual``, NaN when the actual sum is 0), ``sum_pred``, ``sum_actual``, ``n``.

    Raises
    ------
    ParameterError
        If the inputs differ in length, are empty or hold NaN/infinite values.
    """
    y, f = _pair(y_true, y_pred)
    n = len(y)
    sum_pred, sum_actual = float(f.sum()), float(y.sum())
    constant = np.all(y == y[0]) or np.all(f == f[0])
    return {
        "normalized_gini": normalized_gini(y, f),
        "spearman": math.nan if constant else float(spearmanr(y, f).statistic),
        "decile_mape": decile_mape(y, f) if n >= DECILES else math.nan,
        "mae": float(mean_absolute_error(y, f)),
        "rmse": float(root_mean_squared_error(y, f)),
        "aggregate_error": (sum_pred - sum_actual) / sum_actual if sum_actual != 0 else math.nan,
        "sum_pred": sum_pred,
        "sum_actual": sum_actual,
        "n": n,
    }
