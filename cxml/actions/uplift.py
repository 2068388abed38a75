"""Uplift learned from randomised past campaigns: a T- or X-learner on LightGBM per action.

For each action the outcome is retention over the churn horizon after the contact (1 if
the customer did not churn) and the target is the conditional average treatment effect
``tau(x) = P(retained | x, treated) - P(retained | x, control)``.

- T-learner: one classifier on treated and one on control contacts; tau = difference.
- X-learner (Künzel et al., 2019): the same two classifiers impute each contact's effect
  (treated: ``y - mu0(x)``, control: ``mu1(x) - y``), a regressor per arm learns the imputed
  effects, and the two are blended by the treated share ``g``: ``tau = g tau0 + (1 - g) tau1``.
  Campaigns are randomised, so the propensity is the constant treated share.

Out-of-fold predictions (stratified folds) give each action's Qini coefficient, a check
that the learned ranking beats random targeting on contacts the model did not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from cxml.data.flags import as_flags
from cxml.errors import ParameterError
from cxml.models.tabular import feature_frame

LEARNED, ASSUMED = "learned", "assumed (too little history)"


@dataclass(frozen=True)
class _Learner:
    """The fitted models of one action."""

    control: lgb.LGBMClassifier
    treated: lgb.LGBMClassifier
    effect_control: lgb.LGBMRegressor | None  # X-learner only
    effect_treated: lgb.LGBMRegressor | None
    treated_share: float


class UpliftModel(BaseEstimator):
    """Multi-action uplift on retention, one meta-learner per action.

    Parameters
    ----------
    learner : {"x", "t"}, default="x"
    min_contacts : int, default=200
        Fewest treated and fewest control contacts an action needs to be learned; below it
        the action keeps its assumed effect (`report_` says so).
    folds : int, default=3
        Cross-fitting folds for the out-of-fold Qini.
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM settings
        Deliberately small trees: uplift is a weak signal on top of the outcome.
    random_state : int, default=0
    n_jobs : int, default=1
        LightGBM threads per model; the models are small, and more threads than free cores
        make LightGBM's OpenMP loops spin.

    Attributes
    ----------
    learners_ : dict
        Action -> fitted models, for the learned actions.
    report_ : pandas.DataFrame
        Per action: contacts, treated, control, retention rates, ``ate`` (difference in
        means), ``qini`` (out-of-fold), ``status`` ("learned" or why not).
    """

    def __init__(
        self,
        learner: str = "x",
        min_contacts: int = 200,
        folds: int = 3,
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int = 200,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.learner = learner
        self.min_contacts = min_contacts
        self.folds = folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(
        self, X: pd.DataFrame, action: Any, treatment: Any, outcome: Any, actions: Any = None
    ) -> UpliftModel:
        """Fit one learner per action on its contacts.

        `action` names each row's action, `treatment` is True for treated and False for
        control rows, `outcome` is 1 when the customer was retained (both booleans or 1/0;
        text or a missing value is a ParameterError). `actions` lists the actions to report
        on (default: those in `action`), so actions without any history appear in the
        report too.
        """
        if self.learner not in ("x", "t"):
            raise ParameterError(f"learner must be 'x' or 't', got {self.learner!r}")
        frame, _ = feature_frame(self, X, reset=True, time_column="cutoff")
        action = np.asarray(action, dtype=object)
        treated = _flag_array(treatment, "treatment")
        y = _flag_array(outcome, "outcome").astype(float)
        if not (len(action) == len(treated) == len(y) == len(frame)):
            raise ParameterError("X, action, treatment and outcome need the same number of rows")
        names = list(dict.fromkeys(action)) if actions is None else list(actions)
        self.learners_: dict[str, _Learner] = {}
        rows = []
        for name in names:
            mask = action == name
            t, yy = treated[mask], y[mask]
            n_t, n_c = int(t.sum()), int((~t).sum())
            row = {
                "action": name,
                "contacts": int(mask.sum()),
                "treated": n_t,
                "control": n_c,
                "treated_retention": yy[t].mean() if n_t else np.nan,
                "control_retention": yy[~t].mean() if n_c else np.nan,
                "qini": np.nan,
                "status": LEARNED,
            }
            row["ate"] = row["treated_retention"] - row["control_retention"]
            if min(n_t, n_c) < self.min_contacts or len(np.unique(yy)) < 2:
                row["status"] = (
                    f"{ASSUMED}: {n_t} treated and {n_c} control contacts, "
                    f"{self.min_contacts} of each needed"
                )
            else:
                Xa = frame[mask].reset_index(drop=True)
                row["qini"] = qini(self._out_of_fold(Xa, t, yy), t, yy)
                self.learners_[name] = self._fit_one(Xa, t, yy)
            rows.append(row)
        self.report_ = pd.DataFrame(rows)
        return self

    def predict(self, X: pd.DataFrame, action: str) -> np.ndarray:
        """Uplift in retention probability of `action` for each row of X."""
        check_is_fitted(self, "learners_")
        if action not in self.learners_:
            raise ParameterError(
                f"action {action!r} has no learned uplift; learned: {sorted(self.learners_)}"
            )
        frame, _ = feature_frame(self, X, reset=False, time_column="cutoff")
        return self._effect(self.learners_[action], frame)

    def _params(self, seed_offset: int) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "random_state": self.random_state + seed_offset,
            "n_jobs": self.n_jobs,
            "verbose": -1,
        }

    def _fit_one(self, X: pd.DataFrame, t: np.ndarray, y: np.ndarray) -> _Learner:
        mu0 = lgb.LGBMClassifier(**self._params(0)).fit(X[~t], y[~t])
        mu1 = lgb.LGBMClassifier(**self._params(1)).fit(X[t], y[t])
        if self.learner == "t":
            return _Learner(mu0, mu1, None, None, float(t.mean()))
        imputed_t = y[t] - _retained(mu0, X[t])
        imputed_c = _retained(mu1, X[~t]) - y[~t]
        tau1 = lgb.LGBMRegressor(**self._params(2)).fit(X[t], imputed_t)
        tau0 = lgb.LGBMRegressor(**self._params(3)).fit(X[~t], imputed_c)
        return _Learner(mu0, mu1, tau0, tau1, float(t.mean()))

    @staticmethod
    def _effect(learner: _Learner, X: pd.DataFrame) -> np.ndarray:
        if learner.effect_control is None or learner.effect_treated is None:
            return _retained(learner.treated, X) - _retained(learner.control, X)
        g = learner.treated_share
        return g * learner.effect_control.predict(X) + (1 - g) * learner.effect_treated.predict(X)

    def _out_of_fold(self, X: pd.DataFrame, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Uplift of each contact predicted by learners fitted on the other folds."""
        strata = 2 * t.astype(int) + (y > 0.5)
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.random_state)
        out = np.empty(len(y))
        for train, test in folds.split(X, strata):
            out[test] = self._effect(self._fit_one(X.iloc[train], t[train], y[train]), X.iloc[test])
        return out


def _flag_array(values: Any, name: str) -> np.ndarray:
    """`values` (booleans or 1/0, as `as_flags` reads them) as a boolean array;
    ParameterError naming how many values are not flags, or are missing, and one of them."""
    series = pd.Series(values).reset_index(drop=True)
    parsed, bad = as_flags(series)
    if not bad.empty:
        raise ParameterError(
            f"{name} must hold true/false or 1/0; {len(bad)} of {len(series)} values do not, "
            f"e.g. {bad.astype(object).iloc[0]!r} (row {bad.index[0]})"
        )
    missing = parsed.isna().to_numpy()
    if missing.any():
        raise ParameterError(
            f"{name} must hold true/false or 1/0; {int(missing.sum())} of {len(series)} values "
            f"are missing, e.g. row {int(np.flatnonzero(missing)[0])}"
        )
    return parsed.to_numpy(dtype=bool)


def _retained(model: lgb.LGBMClassifier, X: pd.DataFrame) -> np.ndarray:
    """P(retained), also from a classifier of an arm whose contacts all had one outcome:
    LightGBM then knows one class, and its probability is in column 0, not 1."""
    column = np.flatnonzero(model.classes_ == 1)
    return model.predict_proba(X)[:, column[0]] if column.size else np.zeros(len(X))


def unlearned_report(actions: list[str], reason: str) -> pd.DataFrame:
    """The report of actions that could not be learned: they keep their assumed effect."""
    return pd.DataFrame(
        {
            "action": actions,
            "contacts": 0,
            "treated": 0,
            "control": 0,
            "treated_retention": np.nan,
            "control_retention": np.nan,
            "qini": np.nan,
            "status": f"{ASSUMED}: {reason}",
            "ate": np.nan,
        }
    )


def qini_curve(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Incremental outcomes when targeting the top k contacts by predicted uplift, k = 0..n.

    ``Q(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k)``: treated outcomes among the top k minus the
    control outcomes scaled to the treated count (0 while no control contact is in).
    """
    order = np.argsort(-np.asarray(uplift, dtype=float), kind="stable")
    t = np.asarray(treated, dtype=bool)[order]
    y = np.asarray(outcome, dtype=float)[order]
    n_t, n_c = np.cumsum(t), np.cumsum(~t)
    y_t, y_c = np.cumsum(y * t), np.cumsum(y * ~t)
    scaled = np.divide(y_c * n_t, n_c, out=np.zeros(len(y)), where=n_c > 0)
    return np.concatenate([[0.0], y_t - scaled])


def qini(uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray) -> float:
    """Qini coefficient: mean height of the Qini curve above random targeting, per treated
    contact. > 0: the ranking finds responders better than chance; 0: no better than random.
    """
    curve = qini_curve(uplift, treated, outcome)
    n = len(curve) - 1
    random = curve[-1] * np.arange(n + 1) / n
    return float(np.mean(curve - random) / max(int(np.sum(treated)), 1))
