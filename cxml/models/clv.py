"""`CLVModel`: future customer value from BTYD, LightGBM, or LightGBM fed with BTYD outputs.

Every kind gets split-conformal prediction intervals calibrated on rows the model did not
learn from, so that an 80 % interval covers about 80 % of customers.
"""

from __future__ import annotations

import datetime as dt
import math
from numbers import Real
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, column_or_1d

from cxml.dates import shown
from cxml.errors import DataValidationError, ModelFitError, ParameterError
from cxml.models.btyd import BTYD_COLUMNS, MONETARY_COLUMN, BTYDModel, Horizon
from cxml.models.params import validate_params
from cxml.models.tabular import (
    LIGHTGBM_CONSTRAINTS,
    early_stopped,
    feature_frame,
    lightgbm_matrix,
    validation_mask,
)

Kind = Literal["btyd", "gbm", "hybrid"]
Objective = Literal["zero_inflated", "tweedie"]

#: Columns the hybrid adds to the snapshot features (the last two need the spend model).
BTYD_FEATURES = ("btyd_p_alive", "btyd_expected_purchases", "btyd_expected_spend", "btyd_clv")


def _at_cutoff(
    error: ModelFitError | DataValidationError, cutoff: Any
) -> ModelFitError | DataValidationError:
    """The same error, its message naming the cut-off whose BTYD fit failed."""
    where = "CLVModel's BTYD fit" + ("" if cutoff is None else f" at cut-off {shown(cutoff)}")
    if isinstance(error, DataValidationError):
        return DataValidationError(
            error.table, error.column, f"{error.rule} ({where})", error.detail
        )
    return type(error)(f"{where}: {error}")


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) coverage)-th smallest score.

    With n exchangeable calibration scores, an interval of that half-width covers a new
    point with probability at least `coverage` (Vovk et al. 2005; Lei et al. 2018). Too few
    scores for the level give an infinite quantile.
    """
    n = len(scores)
    rank = math.ceil((n + 1) * coverage)
    if rank > n:
        return math.inf
    return float(np.partition(scores, rank - 1)[rank - 1])


class CLVModel(RegressorMixin, BaseEstimator):
    """Customer value in a horizon after the cut-off, with conformal prediction intervals.

    - ``"btyd"``: a :class:`BTYDModel` (purchases x Gamma-Gamma spend) fitted on the
      latest cut-off of the training frame; labels are used only for the intervals.
    - ``"gbm"``: LightGBM on the snapshot features, early-stopped on the latest cut-off.
    - ``"hybrid"``: ``"gbm"`` with the BTYD outputs P(alive), expected purchases, expected
      spend and CLV as extra features (only the first two with ``spend=None``). A BTYD
      model is fitted on each training cut-off's own snapshot (no label or later data
      reaches a training row); predictions use the one fitted on the latest cut-off. A
      BTYD fit that fails raises its own error with the cut-off named.

    The gradient-boosting target is mostly zeros with a long right tail. ``objective``
    chooses how to model it: ``"zero_inflated"`` = P(any purchase) from a classifier times
    E[value | purchase] from a Gamma-loss regressor trained on buyers only; ``"tweedie"`` =
    one compound Poisson-Gamma regressor. See ``docs/models.md`` for the comparison.

    Intervals are split-conformal on normalised residuals ``|y - f| / (f + s)`` with ``s``
    the mean prediction on the calibration rows, so they widen with the prediction; the
    lower end is clipped at 0. Calibration rows are half the validation cut-off (the other
    half early-stops the boosters), or all of it for ``"btyd"``.

    Parameters
    ----------
    kind : {"btyd", "gbm", "hybrid"}, default="hybrid"
    objective : {"zero_inflated", "tweedie"}, default="zero_inflated"
    horizon : float, str or timedelta, default="26W"
        The label horizon, for the BTYD predictions (numbers are in `time_unit`).
    time_unit : {"D", "W"} or float, default="D"
        The snapshot's ``FeatureSpec.time_unit``.
    discount_rate : float, default=0.0
        Annual discount rate of the BTYD CLV; it must match the labels'
        (``build_labels(..., discount_rate=...)``).
    btyd_model : {"bgnbd", "pareto", "mbgnbd"}, default="bgnbd"
    spend : {"gamma_gamma"} or None, default="gamma_gamma"
        The BTYD spend model. None fits purchases only: the hybrid then gets no expected
        spend or CLV features (for cut-offs without repeat buyers, where Gamma-Gamma cannot
        be fitted); ``kind="btyd"`` needs the spend model.
    penalizer : float, default=0.0
        BTYD L2 penalty.
    coverage : float, default=0.8
        Nominal coverage of the prediction intervals.
    n_estimators, learning_rate, num_leaves, min_child_samples, reg_lambda,
    colsample_bytree, early_stopping_rounds :
        LightGBM settings, as in :class:`ChurnModel`.
    validation_fraction : float, default=0.2
        Share of rows used for validation when there is no time column.
    time_column : str, default="cutoff"
    random_state : int, default=0
    n_jobs : int or None, default=None

    Attributes
    ----------
    btyd_ : BTYDModel or None
        The BTYD model used at prediction time.
    classifier_, regressor_ : lightgbm models or None
        ``zero_inflated``: P(purchase) and E[value | purchase]; ``tweedie``: only
        ``regressor_``.
    interval_scale_ : float
        ``s`` of the normalised residuals.
    interval_quantile_ : float
        The conformal quantile of the normalised residuals.
    feature_importances_ : pandas.Series or None
        Total gain per feature over the boosters.
    validation_cutoff_ : object or None
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **LIGHTGBM_CONSTRAINTS,
        "kind": [StrOptions({"btyd", "gbm", "hybrid"})],
        "objective": [StrOptions({"zero_inflated", "tweedie"})],
        "horizon": [Real, str, dt.timedelta, pd.DateOffset],
        "time_unit": [StrOptions({"D", "W"}), Interval(Real, 0, None, closed="neither")],
        "discount_rate": [Interval(Real, -1, None, closed="neither")],
        "btyd_model": [StrOptions({"bgnbd", "pareto", "mbgnbd"})],
        "spend": [StrOptions({"gamma_gamma"}), None],
        "penalizer": [Interval(Real, 0, None, closed="left")],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "refit": ["boolean"],
    }

    def __init__(
        self,
        kind: Kind = "hybrid",
        objective: Objective = "zero_inflated",
        horizon: Horizon = "26W",
        time_unit: str | float = "D",
        discount_rate: float = 0.0,
        btyd_model: str = "bgnbd",
        spend: str | None = "gamma_gamma",
        penalizer: float = 0.0,
        coverage: float = 0.8,
        n_estimators: int = 1000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        colsample_bytree: float = 1.0,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.2,
        refit: bool = True,
        time_column: str = "cutoff",
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.kind = kind
        self.objective = objective
        self.horizon = horizon
        self.time_unit = time_unit
        self.discount_rate = discount_rate
        self.btyd_model = btyd_model
        self.spend = spend
        self.penalizer = penalizer
        self.coverage = coverage
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.colsample_bytree = colsample_bytree
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.refit = refit
        self.time_column = time_column
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, giving models saved before `spend` existed the spend model they used."""
        super().__setstate__({"spend": "gamma_gamma", **state})

    # -- BTYD ----------------------------------------------------------------------------

    def _fit_btyd_at(self, X: pd.DataFrame, time: pd.Series | None, rows: np.ndarray) -> BTYDModel:
        """A BTYD model fitted on `rows` (one cut-off's); a failed fit names the cut-off."""
        btyd = BTYDModel(
            self.btyd_model, spend=self.spend, penalizer=self.penalizer, time_unit=self.time_unit
        )
        try:
            return btyd.fit(X[rows])
        except (ModelFitError, DataValidationError) as error:
            raise _at_cutoff(error, None if time is None else time[rows].iloc[0]) from error

    def _btyd_outputs(self, btyd: BTYDModel, X: pd.DataFrame) -> pd.DataFrame:
        """P(alive), expected purchases and, with a spend model, spend and CLV for the rows
        of X (NaN: no purchases)."""
        outputs = {
            "btyd_p_alive": btyd.predict_alive(X),
            "btyd_expected_purchases": btyd.predict_purchases(X, self.horizon),
        }
        if self.spend is not None:
            outputs["btyd_expected_spend"] = btyd.predict_spend(X)
            outputs["btyd_clv"] = btyd.predict_clv(
                X, self.horizon, discount_rate=self.discount_rate, period="1M"
            )
        return pd.DataFrame(outputs, index=X.index)

    def _fit_btyd(
        self, X: pd.DataFrame, time: pd.Series | None, groups: np.ndarray
    ) -> tuple[BTYDModel, pd.DataFrame]:
        """One BTYD model per cut-off group; its outputs per row and the latest model."""
        outputs = []
        for code in np.unique(groups):
            rows = groups == code
            btyd = self._fit_btyd_at(X, time, rows)
            outputs.append(self._btyd_outputs(btyd, X[rows]))
        return btyd, pd.concat(outputs).loc[X.index]

    def _check_btyd_columns(self, X: Any) -> pd.DataFrame:
        needed = [*BTYD_COLUMNS, MONETARY_COLUMN]
        if not isinstance(X, pd.DataFrame) or not set(needed) <= set(X.columns):
            raise ParameterError(
                f"CLVModel(kind={self.kind!r}) needs a snapshot DataFrame with the BTYD "
                f"columns {needed} (FeatureSpec groups include 'btyd')"
            )
        return X.reset_index(drop=True)

    # -- fitting -------------------------------------------------------------------------

    def fit(self, X: Any, y: Any) -> CLVModel:
        """Fit on a training frame (with a `time_column`) and its future values `y`."""
        validate_params(self)
        if self.kind == "btyd" and self.spend is None:
            raise ParameterError(
                "CLVModel(kind='btyd') predicts BTYD's CLV, which needs the spend model: use "
                "spend='gamma_gamma', or kind='hybrid' or 'gbm'"
            )
        target = column_or_1d(np.asarray(y, dtype="float64"))
        if not np.all(np.isfinite(target)) or np.any(target < 0):
            raise ParameterError("y (future value) must be finite and >= 0 for every row")
        if self.kind != "gbm":
            X = self._check_btyd_columns(X)
        frame, time = feature_frame(self, X, reset=True, time_column=self.time_column)
        if len(target) != len(frame):
            raise ValueError(f"X has {len(frame)} rows but y has {len(target)}")
        val, self.validation_cutoff_ = validation_mask(len(frame), time, self.validation_fraction)
        # Codes in time order: the last group is the latest cut-off whatever the row order.
        groups = (
            np.zeros(len(frame), dtype=int) if time is None else pd.factorize(time, sort=True)[0]
        )
        self.btyd_, self.classifier_, self.regressor_ = None, None, None
        self.feature_importances_ = None
        if self.kind == "btyd":
            self.btyd_ = self._fit_btyd_at(frame, time, groups == groups[val][0])
            calibration = val
        else:
            if self.kind == "hybrid":
                self.btyd_, outputs = self._fit_btyd(frame, time, groups)
                frame = pd.concat([frame, outputs], axis=1)
            stop, calibration = self._halves(val)
            self._fit_boosters(frame, target, ~val, stop)
        predicted = self._point(frame[calibration])
        self.interval_scale_ = float(predicted.mean()) or 1.0
        scores = np.abs(target[calibration] - predicted) / (predicted + self.interval_scale_)
        self.interval_quantile_ = conformal_quantile(scores, self.coverage)
        return self

    def _halves(self, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split the validation rows at random into early-stopping and calibration halves."""
        rows = np.flatnonzero(val)
        if len(rows) < 2:
            raise ParameterError("CLVModel needs at least 2 validation rows")
        rng = np.random.default_rng(self.random_state)
        chosen = rng.permutation(rows)[: len(rows) // 2]
        stop = np.zeros(len(val), dtype=bool)
        stop[chosen] = True
        return stop, val & ~stop

    def _fit_boosters(
        self, frame: pd.DataFrame, y: np.ndarray, train: np.ndarray, stop: np.ndarray
    ) -> None:
        if self.objective == "tweedie":
            self.regressor_ = early_stopped(
                self,
                lgb.LGBMRegressor,
                (frame[train], y[train]),
                (frame[stop], y[stop]),
                objective="tweedie",
                refit=self.refit,
            )
            boosters = [self.regressor_]
        else:
            bought = y > 0
            if not (bought[train].any() and bought[stop].any()):
                raise ParameterError(
                    "objective='zero_inflated' needs customers with future value > 0 in "
                    "both the training and the validation rows"
                )
            self.classifier_ = early_stopped(
                self,
                lgb.LGBMClassifier,
                (frame[train], bought[train]),
                (frame[stop], bought[stop]),
                refit=self.refit,
            )
            self.regressor_ = early_stopped(
                self,
                lgb.LGBMRegressor,
                (frame[train & bought], y[train & bought]),
                (frame[stop & bought], y[stop & bought]),
                objective="gamma",
                refit=self.refit,
            )
            boosters = [self.classifier_, self.regressor_]
        gains = sum(b.booster_.feature_importance("gain") for b in boosters)
        self.feature_importances_ = pd.Series(gains, index=frame.columns, name="gain").sort_values(
            ascending=False
        )

    # -- prediction ----------------------------------------------------------------------

    def _point(self, frame: pd.DataFrame) -> np.ndarray:
        """Point predictions for a prepared frame (with BTYD outputs for the hybrid)."""
        if self.kind == "btyd":
            clv = self._btyd_outputs(self.btyd_, frame)["btyd_clv"].to_numpy()
            return np.nan_to_num(clv, nan=0.0)
        # One conversion for both boosters; their Booster.predict is the scikit-learn
        # models' predict (regressor) and predict_proba[:, 1] (classifier) without it.
        matrix = lightgbm_matrix(frame)
        if self.classifier_ is None:
            return self.regressor_.booster_.predict(matrix)
        return self.classifier_.booster_.predict(matrix) * self.regressor_.booster_.predict(matrix)

    def _prepared(self, X: Any) -> pd.DataFrame:
        check_is_fitted(self, "interval_quantile_")
        if self.kind != "gbm":
            X = self._check_btyd_columns(X)
        frame, _ = feature_frame(self, X, reset=False, time_column=self.time_column)
        if self.kind == "hybrid":
            frame = pd.concat([frame, self._btyd_outputs(self.btyd_, frame)], axis=1)
        return frame

    def predict(self, X: Any) -> np.ndarray:
        """Expected value in the horizon, per row (0 for BTYD rows without purchases)."""
        return self._point(self._prepared(X))

    def predict_interval(self, X: Any) -> np.ndarray:
        """Lower and upper ends of the `coverage` prediction interval, shape (n, 2)."""
        return self.interval(self.predict(X))

    def interval(self, point: np.ndarray) -> np.ndarray:
        """The prediction interval around point predictions already made, shape (n, 2)."""
        check_is_fitted(self, "interval_quantile_")
        half = self.interval_quantile_ * (point + self.interval_scale_)
        return np.column_stack([np.maximum(point - half, 0.0), point + half])
