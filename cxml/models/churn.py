"""`ChurnModel`: calibrated LightGBM churn probabilities, validated on a later cut-off."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from cxml.errors import ParameterError
from cxml.models.attribution import scores_and_attributions
from cxml.models.params import validate_params
from cxml.models.tabular import (
    LIGHTGBM_CONSTRAINTS,
    early_stopped,
    feature_frame,
    validation_mask,
)

Calibration = Literal["auto", "isotonic", "sigmoid", "none"]


def _churn_labels(y: Any, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The two classes of churn labels `y` and each row's class code (0 or 1).

    Raises a ParameterError for missing labels (customers not at risk), for a length other
    than `n_rows`, and for anything but two classes.
    """
    labels = column_or_1d(np.asarray(y), warn=True)
    if len(labels) != n_rows:
        raise ParameterError(f"X has {n_rows} rows but y has {len(labels)}")
    missing = int(pd.isna(labels).sum())
    if missing:
        raise ParameterError(
            f"y has {missing:,} missing churn label(s) out of {len(labels):,}. Customers not "
            "at risk (churned already, e.g. by a churn_event of build_training_frame) have "
            "no label: leave them out, e.g. frame[frame['churned'].notna()]."
        )
    try:
        check_classification_targets(labels)
    except ValueError as exc:
        raise ParameterError(
            f"y must hold two classes of churn labels (0/1 or bool): {exc}"
        ) from None
    classes, codes = np.unique(labels, return_inverse=True)
    if len(classes) != 2:
        shown = ", ".join(repr(c) for c in classes[:5].tolist())
        raise ParameterError(
            "Only binary classification is supported. ChurnModel needs both churned and "
            f"retained customers in y; got {len(classes)} class(es): {shown}"
            f"{', ...' if len(classes) > 5 else ''}."
        )
    return classes, codes


class ChurnModel(ClassifierMixin, BaseEstimator):
    """LightGBM churn classifier with early stopping and probability calibration on a
    time-based validation slice.

    The validation slice is the latest cut-off of a training frame (rows whose
    `time_column` equals its maximum), never a random split: the booster is early-stopped
    on it and a calibrator is fitted on it, so that a predicted 0.3 means 30 % of such
    customers churn. Without a time column (plain arrays) the last `validation_fraction` of
    rows, in the order given, is the validation slice.

    Parameters
    ----------
    n_estimators : int, default=1000
        Upper bound on boosting rounds; early stopping picks the number used.
    learning_rate : float, default=0.05
    num_leaves : int, default=31
    min_child_samples : int, default=20
    reg_lambda : float, default=0.0
        L2 regularisation of leaf values.
    colsample_bytree : float, default=1.0
    early_stopping_rounds : int, default=50
    validation_fraction : float, default=0.2
        Share of rows used for validation when there is no time column.
    calibration : {"auto", "isotonic", "sigmoid", "none"}, default="auto"
        "auto" picks isotonic or sigmoid by 2-fold cross-validated log loss on the
        validation slice.
    time_column : str, default="cutoff"
        Column holding each row's cut-off; it is used for the split, never as a feature.
    random_state : int, default=0
    n_jobs : int or None, default=None
        LightGBM threads (None: LightGBM's default).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
    booster_ : lightgbm.LGBMClassifier
        The early-stopped, uncalibrated booster.
    calibrator_ : CalibratedClassifierCV or None
    calibration_ : str
        The calibration method used.
    best_iteration_ : int
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    feature_importances_ : pandas.Series
        Total gain per feature.
    validation_cutoff_ : object or None
        The cut-off used for validation, when there was a time column.

    Examples
    --------
    Customers who churned already by a churn event have no label: leave them out.

    >>> from cxml.models import ChurnModel
    >>> at_risk = training_frame["churned"].notna()  # doctest: +SKIP
    >>> model = ChurnModel().fit(training_frame.loc[at_risk, features + ["cutoff"]],
    ...                          training_frame.loc[at_risk, "churned"])  # doctest: +SKIP
    >>> model.predict_proba(snapshot[features])[:, 1]  # doctest: +SKIP
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **LIGHTGBM_CONSTRAINTS,
        "calibration": [StrOptions({"auto", "isotonic", "sigmoid", "none"})],
    }

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        colsample_bytree: float = 1.0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.2,
        calibration: Calibration = "auto",
        time_column: str = "cutoff",
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.calibration = calibration
        self.time_column = time_column
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        return tags

    # -- fitting --------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> ChurnModel:
        """Fit the booster on earlier rows and calibrate it on the validation slice.

        `y` holds two classes of churn labels, none missing: a ParameterError says how many
        are missing (customers not at risk, e.g. churned already by a churn event).
        """
        validate_params(self)
        frame, time = feature_frame(self, X, reset=True, time_column=self.time_column)
        self.classes_, target = _churn_labels(y, len(frame))
        val, self.validation_cutoff_ = validation_mask(len(frame), time, self.validation_fraction)
        train = ~val
        self.booster_ = early_stopped(
            self,
            lgb.LGBMClassifier,
            (frame[train], target[train]),
            (frame[val], target[val]),
        )
        self.best_iteration_ = int(self.booster_.best_iteration_ or self.n_estimators)
        self.calibration_, self.calibrator_ = self._calibrate(frame[val], target[val])
        self.feature_importances_ = pd.Series(
            self.booster_.booster_.feature_importance("gain"), index=frame.columns, name="gain"
        ).sort_values(ascending=False)
        return self

    def _calibrate(
        self, X_val: pd.DataFrame, y_val: np.ndarray
    ) -> tuple[str, CalibratedClassifierCV | None]:
        if self.calibration == "none" or np.bincount(y_val, minlength=2).min() < 2:
            return "none", None
        method = self.calibration
        if method == "auto":
            method = self._choose_calibration(X_val, y_val)
        calibrator = CalibratedClassifierCV(FrozenEstimator(self.booster_), method=method, cv=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            calibrator.fit(X_val, y_val)
        return method, calibrator

    def _choose_calibration(self, X_val: pd.DataFrame, y_val: np.ndarray) -> str:
        """Isotonic or sigmoid, whichever has the lower 2-fold log loss on validation."""
        if np.bincount(y_val, minlength=2).min() < 4:
            return "sigmoid"
        folds = StratifiedKFold(2, shuffle=True, random_state=self.random_state)
        losses = {}
        for method in ("isotonic", "sigmoid"):
            p = np.empty(len(y_val))
            for fit_idx, test_idx in folds.split(X_val, y_val):
                cal = CalibratedClassifierCV(FrozenEstimator(self.booster_), method=method, cv=2)
                cal.fit(X_val.iloc[fit_idx], y_val[fit_idx])
                p[test_idx] = cal.predict_proba(X_val.iloc[test_idx])[:, 1]
            losses[method] = log_loss(y_val, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])
        return min(losses, key=losses.get)

    # -- prediction -----------------------------------------------------------------------

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities, shape (n, 2); column 1 is `classes_[1]`."""
        check_is_fitted(self)
        frame, _ = feature_frame(self, X, reset=False, time_column=self.time_column)
        if self.calibrator_ is None:
            return self.booster_.predict_proba(frame)
        return self.calibrator_.predict_proba(frame)

    def predict(self, X: Any) -> np.ndarray:
        """The more probable class."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]

    def contributions(self, X: Any) -> pd.DataFrame:
        """Per-customer feature contributions to the uncalibrated log-odds (SHAP values).

        One column per feature plus ``bias``; each row sums to the booster's raw score.
        """
        check_is_fitted(self)
        frame, _ = feature_frame(self, X, reset=False, time_column=self.time_column)
        values = self.booster_.predict(frame, pred_contrib=True)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(values, columns=[*frame.columns, "bias"], index=index)

    def top_drivers(self, X: Any, k: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Each customer's `k` features that raise the churn log-odds most, strongest first.

        Path attributions (see :mod:`cxml.models.attribution`), fast enough for millions
        of customers; :meth:`contributions` gives exact SHAP values. Returns the feature
        names (categoricals over the feature names) and their contributions, both with
        columns ``1 .. k``.
        """
        return self.predict_with_drivers(X, k)[1:]

    def predict_with_drivers(
        self, X: Any, k: int = 3
    ) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
        """Churn probabilities (``predict_proba(X)[:, 1]``) and :meth:`top_drivers`, from
        one LightGBM pass: the leaves a row falls in give both its raw score and its path
        attributions, and the calibrator maps the raw score to the probability."""
        check_is_fitted(self)
        frame, _ = feature_frame(self, X, reset=False, time_column=self.time_column)
        raw, positions, values = scores_and_attributions(
            self.booster_, frame, self.best_iteration_, k, self.n_jobs
        )
        index = X.index if isinstance(X, pd.DataFrame) else None
        columns = range(1, positions.shape[1] + 1)
        features = pd.Index(frame.columns)
        names = pd.DataFrame(
            {
                rank: pd.Categorical.from_codes(positions[:, rank - 1], categories=features)
                for rank in columns
            },
            index=index,
        )
        drivers = pd.DataFrame(values, index=index, columns=columns)
        return self._probability(raw), names, drivers

    def _probability(self, raw: np.ndarray) -> np.ndarray:
        """P(churn) from the booster's raw scores, as :meth:`predict_proba` computes it."""
        if self.calibrator_ is None:
            return _sigmoid(raw)
        # scikit-learn calibrates the raw score when the booster has decision_function
        # (LightGBM >= 4.7), else the probability; CalibratedClassifierCV.predict_proba
        # averages its calibrated classifiers, each clipping a hair above 1 back to 1.
        response = raw if hasattr(self.booster_, "decision_function") else _sigmoid(raw)
        folds = self.calibrator_.calibrated_classifiers_
        total = np.zeros(len(raw))
        for fold in folds:
            calibrated = fold.calibrators[0].predict(response)
            calibrated[(calibrated > 1.0) & (calibrated <= 1.0 + 1e-5)] = 1.0
            total += calibrated
        return total / len(folds)


def _sigmoid(raw: np.ndarray) -> np.ndarray:
    """LightGBM's binary probability of a raw score."""
    return 1.0 / (1.0 + np.exp(-raw))
