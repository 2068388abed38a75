"""The classical baselines every churn and CLV model is reported beside.

- churn: the recency rule (the longer since the last purchase, the likelier the churn) and
  BTYD's P(no purchase in the horizon), :meth:`BTYDModel.predict_no_purchase`;
- CLV: BTYD's CLV, :meth:`BTYDModel.predict_clv`, and the last-period value (what the
  customer spent in the horizon-long window just before the cut-off).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, column_or_1d

from cxml.data import Tables
from cxml.data.engine import collect
from cxml.errors import DataValidationError
from cxml.features import parse_horizon, sources
from cxml.features.labels import with_labels
from cxml.features.spec import Horizon, as_cutoff


class RecencyBaseline(ClassifierMixin, BaseEstimator):
    """The recency rule as a probability: a logistic curve in log(1 + days since last purchase).

    The score is monotone in recency, so its ranking (ROC AUC, lift) is exactly the rule's;
    the logistic fit on the training labels only makes its probabilities comparable (log
    loss, Brier, calibration). Customers without purchases count as the longest-lapsed.

    Parameters
    ----------
    column : str, default="days_since_last_purchase"
        The snapshot column holding days since the last purchase.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"column": [str]}

    def __init__(self, column: str = "days_since_last_purchase") -> None:
        self.column = column

    def _log_recency(self, X: pd.DataFrame, fill: float | None = None) -> tuple[np.ndarray, float]:
        if not isinstance(X, pd.DataFrame) or self.column not in X.columns:
            raise DataValidationError(
                "X", self.column, "required column is missing", "build it with build_snapshot"
            )
        days = X[self.column].to_numpy(dtype="float64", na_value=np.nan)
        longest = float(np.nanmax(days)) if np.isfinite(days).any() else 0.0
        # Never below anyone in X: later snapshots hold customers lapsed for longer than any
        # at fit time, and those without purchases must still rank as the longest-lapsed.
        fill = longest if fill is None else max(fill, longest)
        return np.log1p(np.where(np.isnan(days), fill, days)).reshape(-1, 1), fill

    def fit(self, X: pd.DataFrame, y: Any) -> RecencyBaseline:
        """Fit the logistic curve on a training frame and its churn labels."""
        self._validate_params()
        features, self.fill_days_ = self._log_recency(X)
        self.model_ = LogisticRegression().fit(features, column_or_1d(np.asarray(y)))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, 2); column 1 is churn."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._log_recency(X, self.fill_days_)[0])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more probable class."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


def last_period_value(tables: Tables, cutoff: Any, horizon: Horizon) -> pd.Series:
    """Purchase value in the horizon-long window just before `cutoff`, per customer.

    The naive CLV forecast "next period = last period", for every customer first seen
    before `cutoff` (the snapshot's population, 0 when they bought nothing in the window),
    counted like the ``future_value`` label (returns excluded).
    """
    end = as_cutoff(cutoff)
    start = (pd.Timestamp(end) - parse_horizon(horizon)).to_pydatetime()
    labelled = with_labels(tables, sources.population(tables, end), start, end, None)
    value = collect(labelled.sort("customer_id")).set_index("customer_id")["future_value"]
    return value.rename("last_period_value")
