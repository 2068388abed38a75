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
from cxml.models.params import validate_params


class RecencyBaseline(ClassifierMixin, BaseEstimator):
    """The recency rule as a probability: a logistic curve in log(1 + days since last purchase).

    The score is monotone in recency, so its ranking (ROC AUC, lift) is exactly the rule's;
    the logistic fit on the training labels only makes its probabilities comparable (log
    loss, Brier, calibration). Customers without purchases count as lapsed for
    ``fill_days_``, the longest lapse in the training rows: they rank at least as lapsed as
    any buyer seen in training. The fill is learnt at fit, so a row's probability never
    depends on the other rows it is predicted with; a later buyer lapsed for longer than
    anyone in training ranks above them.

    Parameters
    ----------
    column : str, default="days_since_last_purchase"
        The snapshot column holding days since the last purchase.

    Attributes
    ----------
    fill_days_ : float
        Days since the last purchase assumed for customers without purchases (0 when no
        training row had a purchase).
    model_ : sklearn.linear_model.LogisticRegression
    classes_ : ndarray of shape (2,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {"column": [str]}

    def __init__(self, column: str = "days_since_last_purchase") -> None:
        self.column = column

    def _days(self, X: pd.DataFrame) -> np.ndarray:
        """Days since the last purchase per row (NaN: no purchase)."""
        if not isinstance(X, pd.DataFrame) or self.column not in X.columns:
            raise DataValidationError(
                "X", self.column, "required column is missing", "build it with build_snapshot"
            )
        return X[self.column].to_numpy(dtype="float64", na_value=np.nan)

    @staticmethod
    def _log_recency(days: np.ndarray, fill: float) -> np.ndarray:
        """The logistic curve's input: log(1 + days), `fill` days for missing ones."""
        return np.log1p(np.where(np.isnan(days), fill, days)).reshape(-1, 1)

    def fit(self, X: pd.DataFrame, y: Any) -> RecencyBaseline:
        """Fit the logistic curve on a training frame and its churn labels."""
        validate_params(self)
        days = self._days(X)
        self.fill_days_ = float(np.nanmax(days)) if np.isfinite(days).any() else 0.0
        features = self._log_recency(days, self.fill_days_)
        self.model_ = LogisticRegression().fit(features, column_or_1d(np.asarray(y)))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities, shape (n, 2); column 1 is churn."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._log_recency(self._days(X), self.fill_days_))

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
