"""Reference churn predictions on simulated data: what an observer could know at best.

`make_synthetic` keeps each customer's latent state, so a churn model can be compared with
three references on the same holdout (``oracle_aucs``):

- the *full oracle* knows the latent state, purchase rate and hazards
  (`oracle_churn_probability`, Bayes-optimal);
- the *state oracle* knows the true dropout state (active, fading, dropped) and sees the
  history; the full oracle projected onto the snapshot features and the state;
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


def projected_oracle(
    frame: pd.DataFrame,
    snapshot: pd.DataFrame,
    truth: pd.DataFrame,
    holdout: Any,
    horizon_days: float,
    *,
    with_state: bool,
) -> pd.Series:
    """The full oracle projected onto the features (and, `with_state`, the latent state).

    `frame` holds feature rows with a ``cutoff`` column (the training cut-offs); `snapshot`
    the same feature columns at the `holdout` cut-off. Returns a probability per `snapshot`
    row.
    """
    features = [c for c in snapshot.columns if c != "cutoff"]
    parts, targets = [], []
    for cutoff, part in frame.groupby("cutoff", sort=True):
        rows = part[features].copy()
        if with_state:
            rows["state"] = oracle_state(truth, cutoff).reindex(rows.index).array
        parts.append(rows)
        targets.append(oracle_churn_probability(truth, cutoff, horizon_days).reindex(rows.index))
    X, y = pd.concat(parts), pd.concat(targets)
    rows = snapshot[features].copy()
    if with_state:
        rows["state"] = oracle_state(truth, holdout).reindex(rows.index).array
    model = lgb.LGBMRegressor(**PROJECTION).fit(X, y)
    return pd.Series(model.predict(rows), index=rows.index, name="projected_oracle")


def oracle_aucs(
    frame: pd.DataFrame,
    snapshot: pd.DataFrame,
    churned: pd.Series,
    truth: pd.DataFrame,
    holdout: Any,
    horizon_days: float,
) -> dict[str, float]:
    """Holdout ROC AUC of the full, state and history oracles for the outcomes `churned`
    (indexed by customer, the `snapshot` rows' customers)."""
    full = oracle_churn_probability(truth, holdout, horizon_days)
    return {
        "full oracle": roc_auc_score(churned, full.reindex(churned.index)),
        **{
            name: roc_auc_score(
                churned,
                projected_oracle(
                    frame, snapshot, truth, holdout, horizon_days, with_state=state
                ).reindex(churned.index),
            )
            for name, state in (("state oracle", True), ("history oracle", False))
        },
    }
