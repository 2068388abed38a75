"""`evaluate`: every churn and CLV model and baseline scored on one holdout, with figures."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from cxml.errors import ParameterError
from cxml.evaluation.churn import _same_length, _vector, churn_metrics
from cxml.evaluation.clv import DECILES, clv_metrics

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TABLE_COLUMNS = ("task", "model", "role", "metric", "value")


@dataclass(frozen=True)
class BTYDCheck:
    """Inputs of the BTYD holdout chart: calibration repeat purchases, actual and predicted
    holdout transactions, per customer (customers without purchases left out)."""

    calibration_frequency: ArrayLike
    actual_transactions: ArrayLike
    predicted_transactions: ArrayLike


@dataclass(frozen=True)
class Evaluation:
    """A tidy metric table and the figures that go with it."""

    table: pd.DataFrame
    figures: dict[str, Figure] = field(default_factory=dict)

    def metric(self, model: str, metric: str) -> float:
        """One figure of the table, e.g. ``metric("churn_model", "roc_auc")``."""
        rows = self.table[(self.table["model"] == model) & (self.table["metric"] == metric)]
        if len(rows) > 1:
            raise ParameterError(
                f"metric {metric!r} of model {model!r} is ambiguous: the tasks "
                f"{sorted(rows['task'])} each have a model of that name"
            )
        if rows.empty:
            raise ParameterError(f"no metric {metric!r} for a model {model!r} in this evaluation")
        return float(rows["value"].iloc[0])

    def wide(self) -> pd.DataFrame:
        """One row per (task, model, role), one column per metric."""
        keys = ["task", "model", "role"]
        # Every metric stays a column, even one NaN for every model (a one-class holdout).
        wide = self.table.set_index([*keys, "metric"])["value"].unstack("metric")
        rows = pd.MultiIndex.from_frame(self.table[keys].drop_duplicates())
        return wide.reindex(index=rows, columns=self.table["metric"].unique()).reset_index()


def _interval_metrics(y: np.ndarray, interval: ArrayLike, name: str) -> dict[str, float]:
    bounds = np.asarray(interval, dtype="float64")
    if bounds.shape != (len(y), 2) or not np.all(np.isfinite(bounds)):
        raise ParameterError(
            f"clv_intervals[{name!r}] must be finite (lower, upper) pairs, shape ({len(y)}, 2), "
            f"got shape {bounds.shape}"
        )
    if np.any(bounds[:, 0] > bounds[:, 1]):
        raise ParameterError(f"clv_intervals[{name!r}] has a lower end above its upper end")
    inside = (y >= bounds[:, 0]) & (y <= bounds[:, 1])
    return {
        "interval_coverage": float(inside.mean()),
        "interval_mean_width": float((bounds[:, 1] - bounds[:, 0]).mean()),
    }


def _rows(task: str, name: str, role: str, metrics: Mapping[str, float]) -> list[tuple]:
    return [(task, name, role, metric, float(value)) for metric, value in metrics.items()]


def evaluate(
    *,
    churned: ArrayLike | None = None,
    churn_scores: Mapping[str, ArrayLike] | None = None,
    value: ArrayLike | None = None,
    clv_predictions: Mapping[str, ArrayLike] | None = None,
    clv_intervals: Mapping[str, ArrayLike] | None = None,
    baselines: Collection[str] = (),
    btyd_check: BTYDCheck | None = None,
    figures: bool = True,
) -> Evaluation:
    """Score every churn and CLV model and baseline on the same holdout customers.

    Parameters
    ----------
    churned
        Holdout churn labels (1 = churned), one per customer.
    churn_scores
        Model or baseline name -> predicted churn probabilities, aligned with `churned`.
    value
        Holdout future value, one per customer.
    clv_predictions
        Name -> predicted value, aligned with `value`.
    clv_intervals
        Name -> (lower, upper) prediction intervals, shape (n, 2), for some CLV names;
        adds ``interval_coverage`` and ``interval_mean_width``.
    baselines
        Names (among the above) that are baselines rather than models.
    btyd_check
        Inputs of the "actual vs predicted holdout transactions by calibration frequency"
        chart.
    figures
        Draw the figures (reliability curve, cumulative gains, CLV by predicted decile of
        the first CLV model that is not a baseline, and the BTYD check).

    Returns
    -------
    Evaluation
        ``table`` with columns task ("churn" | "clv"), model, role ("model" |
        "baseline"), metric, value — see :func:`churn_metrics` and :func:`clv_metrics`
        for the metrics — and ``figures`` by name.
    """
    churn_scores = dict(churn_scores or {})
    clv_predictions = dict(clv_predictions or {})
    clv_intervals = dict(clv_intervals or {})
    # Intervals belong to CLV predictions only: one named after a churn model would be dropped.
    unknown = (set(baselines) - set(churn_scores) - set(clv_predictions)) | (
        set(clv_intervals) - set(clv_predictions)
    )
    if unknown:
        raise ParameterError(f"names without predictions: {sorted(unknown)}")
    if (churned is None) != (not churn_scores) or (value is None) != (not clv_predictions):
        raise ParameterError(
            "give churned with churn_scores, and value with clv_predictions (both or neither)"
        )
    rows: list[tuple] = []
    for name, scores in churn_scores.items():
        role = "baseline" if name in baselines else "model"
        rows += _rows("churn", name, role, churn_metrics(churned, scores))
    y = _vector(value, "value") if value is not None else None
    for name, predicted in clv_predictions.items():
        role = "baseline" if name in baselines else "model"
        metrics = clv_metrics(y, predicted)
        if name in clv_intervals:
            metrics |= _interval_metrics(y, clv_intervals[name], name)
        rows += _rows("clv", name, role, metrics)
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    drawn = (
        _figures(churned, churn_scores, y, clv_predictions, baselines, btyd_check)
        if figures
        else {}
    )
    return Evaluation(table, drawn)


def _figures(
    churned: ArrayLike | None,
    churn_scores: Mapping[str, ArrayLike],
    value: np.ndarray | None,
    clv_predictions: Mapping[str, ArrayLike],
    baselines: Collection[str],
    btyd_check: BTYDCheck | None,
) -> dict[str, Figure]:
    from cxml.evaluation import plots

    drawn: dict[str, Figure] = {}
    if churn_scores:
        drawn["reliability_curve"] = plots.reliability_curve(churned, churn_scores)
        drawn["cumulative_gains"] = plots.cumulative_gains(churned, churn_scores)
    models = [name for name in clv_predictions if name not in baselines]
    if value is not None and models and len(value) >= DECILES:  # else decile MAPE is NaN
        predicted = _vector(clv_predictions[models[0]], models[0])
        _same_length(value=value, predicted=predicted)
        drawn["clv_by_decile"] = plots.clv_by_decile(value, predicted, DECILES)
    if btyd_check is not None:
        drawn["holdout_transactions_by_frequency"] = plots.holdout_transactions_by_frequency(
            btyd_check.calibration_frequency,
            btyd_check.actual_transactions,
            btyd_check.predicted_transactions,
        )
    return drawn
