"""Churn metrics: discrimination, probability quality, calibration and top-decile targeting.

Every function takes plain arrays or Series of equal length, aligned by position (not
index), and returns floats or a tidy DataFrame, so a model, a baseline and a rule of thumb
are all scored the same way.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

from cxml.errors import ParameterError

BinStrategy = Literal["uniform", "quantile"]

#: Probabilities are clipped to [LOG_LOSS_EPS, 1 - LOG_LOSS_EPS] before the log loss so one
#: confidently wrong prediction costs at most -log(1e-15) ≈ 34.5 instead of infinity.
LOG_LOSS_EPS = 1e-15


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    """`values` as a finite, non-empty 1-D float array, or a ParameterError naming `name`."""
    if isinstance(values, pd.Series | pd.Index):
        try:
            values = values.to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise ParameterError(f"{name} must be numeric, got dtype {values.dtype}") from error
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ParameterError(f"{name} must be a 1-D array of numbers: {error}") from error
    if array.ndim != 1:
        hint = (
            "; for predict_proba output pass the positive-class column, e.g. proba[:, 1]"
            if array.ndim == 2
            else ""
        )
        raise ParameterError(f"{name} must be 1-D, got shape {array.shape}{hint}")
    if array.size == 0:
        raise ParameterError(f"{name} is empty; metrics need at least one customer")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ParameterError(
            f"{name} has {bad.size} NaN or infinite value(s), first at position(s) "
            f"{bad[:5].tolist()}; drop or impute those rows before scoring"
        )
    return array


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ParameterError(f"inputs must have one value per customer, but {described}")
    return next(iter(lengths.values()))


def _labels(y_true: ArrayLike) -> np.ndarray:
    y = _vector(y_true, "y_true")
    if not np.isin(y, (0.0, 1.0)).all():
        found = np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()
        raise ParameterError(f"y_true must hold 0/1 (or bool) churn labels, found {found}")
    return y


def _probabilities(p_pred: ArrayLike, name: str = "p_pred") -> np.ndarray:
    p = _vector(p_pred, name)
    outside = np.flatnonzero((p < 0.0) | (p > 1.0))
    if outside.size:
        raise ParameterError(
            f"{name} must be probabilities in [0, 1]; {outside.size} value(s) outside, e.g. "
            f"{p[outside[:3]].tolist()}; pass predict_proba output, not scores or logits"
        )
    return p


def _check_bins(n_bins: int) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ParameterError(f"n_bins must be a positive integer, got {n_bins!r}")


def _top_order(score: np.ndarray) -> np.ndarray:
    """Positions ordered by descending score; ties keep their input order."""
    return np.argsort(-score, kind="stable")


def _tie_knots(values: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Customers taken (0 and the end of each run of tied scores, by descending score) and
    the sum of `values` over them: the knots of a gains or Lorenz curve."""
    order = _top_order(score)
    ranked = score[order]
    ends = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True]) + 1
    return np.r_[0, ends], np.r_[0.0, np.cumsum(values[order])[ends - 1]]


def _expected_caught(y: np.ndarray, score: np.ndarray, taken: ArrayLike) -> np.ndarray:
    """Expected churners among the top `taken` customers by score, tied scores in random order.

    Everyone scored above the cut is taken; of the customers tied at the cut, the share
    still needed is taken, and it catches that share of their churners on average. This is
    the straight line between the knots of :func:`_tie_knots`.
    """
    knots, caught = _tie_knots(y, score)
    return np.interp(taken, knots, caught)


def calibration_table(
    y_true: ArrayLike,
    p_pred: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> pd.DataFrame:
    """Predicted probability against observed churn rate, bin by bin.

    ``strategy="uniform"`` cuts [0, 1] into `n_bins` equal-width bins: bin ``b`` holds
    ``b / n_bins <= p < (b + 1) / n_bins`` and ``p = 1`` falls in the last bin.
    ``"quantile"`` uses the empirical quantiles of `p_pred` as edges (equal-mass bins; tied
    probabilities stay in one bin, so some bins may be empty).

    Returns
    -------
    DataFrame
        One row per bin: ``bin``, ``lower``, ``upper``, ``n``, ``mean_predicted``,
        ``observed_rate`` (the latter two NaN for empty bins).
    """
    y = _labels(y_true)
    p = _probabilities(p_pred)
    _same_length(y_true=y, p_pred=p)
    _check_bins(n_bins)
    if strategy == "uniform":
        edges = np.arange(n_bins + 1) / n_bins
    elif strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1))
    else:
        raise ParameterError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    bins = np.searchsorted(edges[1:-1], p, side="right")
    counts = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(bins, weights=p, minlength=n_bins) / counts
        observed_rate = np.bincount(bins, weights=y, minlength=n_bins) / counts
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "n": counts,
            "mean_predicted": mean_predicted,
            "observed_rate": observed_rate,
        }
    )


def expected_calibration_error(
    y_true: ArrayLike,
    p_pred: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> float:
    """Expected calibration error, ``sum_b |B_b| / n * |observed_rate_b - mean_predicted_b|``.

    The default equal-width bins follow the usual definition (Naeini et al. 2015; Guo et
    al. 2017), so values compare with published ones. When predictions crowd into a few
    bins (rare churn), ``strategy="quantile"`` gives every bin the same weight of evidence.
    Bins are as in :func:`calibration_table`; empty bins contribute nothing.
    """
    table = calibration_table(y_true, p_pred, n_bins=n_bins, strategy=strategy)
    filled = table[table["n"] > 0]
    gap = (filled["observed_rate"] - filled["mean_predicted"]).abs()
    return float((filled["n"] * gap).sum() / filled["n"].sum())


def lift_and_capture(
    y_true: ArrayLike, score: ArrayLike, *, fraction: float = 0.1
) -> tuple[float, float]:
    """Lift and capture rate among the top `fraction` of customers by `score`.

    The top ``k = ceil(fraction * n)`` customers (at least one) by descending score are
    taken. When tied scores straddle the cut, the result is the average over every order of
    the ties (as for :func:`cxml.evaluation.clv.normalized_gini`): all customers scored
    above the cut count, plus the needed share of the tied ones times their churn rate. So
    row order never matters and a constant score gets lift 1. Lift is the churn rate of the
    targeted customers over the overall churn rate; capture is their share of all churners.
    Both are NaN when nobody churned.
    """
    y = _labels(y_true)
    s = _vector(score, "score")
    n = _same_length(y_true=y, score=s)
    if not 0.0 < fraction <= 1.0:
        raise ParameterError(f"fraction must be in (0, 1], got {fraction!r}")
    positives = y.sum()
    if positives == 0:
        return math.nan, math.nan
    # Round before ceil so fraction * n = 10.000000000000002 still means 10 customers; a
    # fraction too small for one customer still targets one.
    k = max(1, math.ceil(round(fraction * n, 9)))
    caught = float(_expected_caught(y, s, k))
    return float((caught / k) / (positives / n)), float(caught / positives)


def gains_curve(y_true: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative gains: share of customers targeted against share of churners caught.

    Customers are taken in descending score order; customers with tied scores form one
    straight segment, the average over every order of the ties (see
    :func:`lift_and_capture`). Both returned arrays start at 0 and end at 1, with ``n + 1``
    points; the churner share is NaN throughout when nobody churned.
    """
    y = _labels(y_true)
    s = _vector(score, "score")
    n = _same_length(y_true=y, score=s)
    caught = _expected_caught(y, s, np.arange(n + 1))
    targeted = np.arange(n + 1) / n
    total = y.sum()
    captured = caught / total if total > 0 else np.full(n + 1, np.nan)
    return targeted, captured


def churn_metrics(
    y_true: ArrayLike,
    p_pred: ArrayLike,
    *,
    n_bins: int = 10,
    strategy: BinStrategy = "uniform",
) -> dict[str, float]:
    """Every churn metric for one set of predicted churn probabilities.

    Parameters
    ----------
    y_true
        1 (or True) for customers who churned, 0 otherwise.
    p_pred
        Predicted churn probabilities in [0, 1].
    n_bins, strategy
        Bins of the expected calibration error, see :func:`expected_calibration_error`.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc`` (average precision), ``log_loss`` (probabilities clipped to
        ``[1e-15, 1 - 1e-15]``), ``brier``, ``ece``, ``lift_top_decile``,
        ``capture_top_decile`` (see :func:`lift_and_capture`), ``base_rate`` and ``n``.
        With a single class, ``roc_auc`` is NaN; ``pr_auc``, lift and capture are NaN when
        nobody churned. Nothing warns or raises for these cases.

    Raises
    ------
    ParameterError
        If the inputs differ in length, are empty, hold NaN, labels other than 0/1, or
        probabilities outside [0, 1].
    """
    y = _labels(y_true)
    p = _probabilities(p_pred)
    n = _same_length(y_true=y, p_pred=p)
    positives = int(y.sum())
    both_classes = 0 < positives < n
    clipped = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    lift, capture = lift_and_capture(y, p, fraction=0.1)
    return {
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else math.nan,
        "pr_auc": float(average_precision_score(y, p)) if positives > 0 else math.nan,
        "log_loss": float(log_loss(y, clipped, labels=[0.0, 1.0])),
        "brier": float(brier_score_loss(y, p, pos_label=1.0)),
        "ece": expected_calibration_error(y, p, n_bins=n_bins, strategy=strategy),
        "lift_top_decile": lift,
        "capture_top_decile": capture,
        "base_rate": positives / n,
        "n": n,
    }
