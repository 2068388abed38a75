"""Evaluation figures: reliability, cumulative gains, CLV by decile and the BTYD holdout check.

Each function builds a standalone :class:`matplotlib.figure.Figure` without touching
pyplot's global state, so it works headless and from several threads. Save it with
``fig.savefig(path)`` or log it as an artefact.
"""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from cxml.errors import ParameterError
from cxml.evaluation.churn import (
    BinStrategy,
    calibration_table,
    expected_calibration_error,
    gains_curve,
)
from cxml.evaluation.clv import decile_table, holdout_by_frequency

FIGSIZE = (6.4, 4.8)


def _named(predictions: Mapping[str, ArrayLike], what: str) -> Mapping[str, ArrayLike]:
    if not isinstance(predictions, Mapping) or not predictions:
        raise ParameterError(
            f"{what} must be a non-empty mapping of model name to values, "
            f"e.g. {{'lightgbm': p}}; got {type(predictions).__name__}"
        )
    return predictions


def reliability_curve(
    y_true: ArrayLike,
    predictions: Mapping[str, ArrayLike],
    n_bins: int = 10,
    *,
    strategy: BinStrategy = "uniform",
) -> Figure:
    """Observed churn rate against mean predicted probability per bin, one line per model.

    Bins are those of :func:`cxml.evaluation.churn.calibration_table`; empty bins are left
    out. The legend gives each model's expected calibration error. The dashed diagonal is
    perfect calibration.
    """
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    for name, p_pred in _named(predictions, "predictions").items():
        table = calibration_table(y_true, p_pred, n_bins=n_bins, strategy=strategy)
        table = table[table["n"] > 0]
        ece = expected_calibration_error(y_true, p_pred, n_bins=n_bins, strategy=strategy)
        ax.plot(
            table["mean_predicted"].to_numpy(),
            table["observed_rate"].to_numpy(),
            marker="o",
            label=f"{name} (ECE {ece:.3f})",
        )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="Mean predicted churn probability",
        ylabel="Observed churn rate",
        title="Reliability curve",
    )
    ax.legend(loc="upper left")
    return fig


def cumulative_gains(y_true: ArrayLike, scores: Mapping[str, ArrayLike]) -> Figure:
    """Share of churners caught against share of customers targeted, one line per model.

    Curves are those of :func:`cxml.evaluation.churn.gains_curve`: customers are taken by
    descending score, tied scores as one straight segment (the average over their orders).
    The dashed diagonal is random targeting, the dotted line a perfect ranking.
    """
    named = _named(scores, "scores")
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    # A perfect ranking scores each customer by its own label.
    targeted, ideal = gains_curve(y_true, y_true)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    ax.plot(targeted, ideal, linestyle=":", color="black", label="perfect")
    for name, score in named.items():
        x, y = gains_curve(y_true, score)
        ax.plot(x, y, label=name)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="Share of customers targeted",
        ylabel="Share of churners caught",
        title="Cumulative gains",
    )
    ax.legend(loc="lower right")
    return fig


def clv_by_decile(y_true: ArrayLike, y_pred: ArrayLike, n: int = 10) -> Figure:
    """Mean predicted and mean actual value per predicted-value decile, as paired bars.

    Deciles are those of :func:`cxml.evaluation.clv.decile_table`; decile 1 holds the
    highest predictions.
    """
    table = decile_table(y_true, y_pred, n)
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    x = table["decile"].to_numpy()
    width = 0.4
    ax.bar(x - width / 2, table["mean_predicted"].to_numpy(), width, label="predicted")
    ax.bar(x + width / 2, table["mean_actual"].to_numpy(), width, label="actual")
    ax.set_xticks(x, [str(d) for d in x])
    ax.set(
        xlabel="Predicted-value decile (1 = highest)",
        ylabel="Mean value per customer",
        title="CLV by predicted decile",
    )
    ax.legend()
    return fig


def holdout_transactions_by_frequency(
    calibration_frequency: ArrayLike,
    actual_holdout: ArrayLike,
    predicted_holdout: ArrayLike,
    max_frequency: int = 7,
) -> Figure:
    """Mean actual and predicted holdout transactions by calibration-period repeat purchases.

    The classic BTYD validation chart; groups are those of
    :func:`cxml.evaluation.clv.holdout_by_frequency`, the last pooling every customer with
    at least `max_frequency` repeat purchases. Empty groups show as gaps.
    """
    table = holdout_by_frequency(
        calibration_frequency,
        actual_holdout,
        predicted_holdout,
        max_frequency=max_frequency,
    )
    fig = Figure(figsize=FIGSIZE)
    ax = fig.subplots()
    x = table["frequency"].to_numpy()
    ax.plot(x, table["mean_actual"].to_numpy(), marker="o", label="actual")
    ax.plot(x, table["mean_predicted"].to_numpy(), marker="s", linestyle="--", label="predicted")
    ax.set_xticks(x, table["label"].tolist())
    ax.set(
        xlabel="Repeat purchases in calibration period",
        ylabel="Mean transactions in holdout period",
        title="Actual vs predicted holdout transactions",
    )
    ax.legend()
    return fig
