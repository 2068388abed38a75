"""Reference churn predictions on simulated data: what an observer could know at best.

`make_synthetic` keeps each customer's latent state, so a churn model can be compared with
three references on the same holdout (`oracle_aucs`):

- the *full oracle* knows the latent state, purchase rate and hazards
  (`oracle_churn_probability`, Bayes-optimal);
- the *state oracle* knows the true dropout state (active, fading, dropped) and sees the
  history: the full oracle projected onto the snapshot features and the state;
- the *history oracle* sees the history only: the full oracle projected onto the snapshot
  features, an estimate of the best any model of those features can do.

A projection is a LightGBM fitted by cross-entropy to the full oracle's probabilities at the
training cut-offs. Its targets are noise-free probabilities, not 0/1 outcomes, so it
estimates E[oracle | features (, state)] far more precisely than a model of the outcomes.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score

from cxml.datasets.synthetic import oracle_churn_probability, oracle_state

#: Settings of the projection: fixed, never tuned on a holdout.
PROJECTION = {
    "objective": "cross_entropy",
    "n_estimators": 400,
    "learning_rate": 0.05,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "random_state": 0,
    "verbose": -1,
}


def oracle_aucs(
    frame: pd.DataFrame,
    snapshot: pd.DataFrame,
    churned: pd.Series,
    truth: pd.DataFrame,
    holdout: Any,
    horizon_days: float,
) -> dict[str, float]:
    """Holdout ROC AUC of the full, state and history oracles.

    `frame` holds feature rows with a ``cutoff`` column (the training cut-offs); `snapshot`
    the same feature columns at the `holdout` cut-off; `churned` the outcomes, indexed by
    customer.
    """
    features = [c for c in snapshot.columns if c != "cutoff"]
    parts, targets = [], []
    for cutoff, part in frame.groupby("cutoff", sort=True):
        rows = part[features].copy()
        rows["state"] = oracle_state(truth, cutoff).reindex(rows.index).array
        parts.append(rows)
        targets.append(oracle_churn_probability(truth, cutoff, horizon_days).reindex(rows.index))
    X, y = pd.concat(parts), pd.concat(targets)
    rows = snapshot[features].copy()
    rows["state"] = oracle_state(truth, holdout).reindex(rows.index).array
    full = oracle_churn_probability(truth, holdout, horizon_days)
    aucs = {"full oracle": roc_auc_score(churned, full.reindex(churned.index))}
    for name, columns in (("state oracle", [*features, "state"]), ("history oracle", features)):
        projection = lgb.LGBMRegressor(**PROJECTION).fit(X[columns], y)
        predicted = pd.Series(projection.predict(rows[columns]), index=rows.index)
        aucs[name] = roc_auc_score(churned, predicted.reindex(churned.index))
    return aucs
