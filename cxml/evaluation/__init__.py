"""Metrics that score churn probabilities and CLV predictions on a holdout.

Figures live in :mod:`cxml.evaluation.plots`, imported on demand so metric tables do not
load matplotlib.
"""

from cxml.evaluation.churn import (
    calibration_table,
    churn_metrics,
    expected_calibration_error,
    gains_curve,
    lift_and_capture,
)
from cxml.evaluation.clv import (
    clv_metrics,
    decile_mape,
    decile_table,
    holdout_by_frequency,
    normalized_gini,
)

__all__ = [
    "calibration_table",
    "churn_metrics",
    "clv_metrics",
    "decile_mape",
    "decile_table",
    "expected_calibration_error",
    "gains_curve",
    "holdout_by_frequency",
    "lift_and_capture",
    "normalized_gini",
]
