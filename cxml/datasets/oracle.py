"""Reference churn predictions on simulated data: what an observer could know at best.

`make_synthetic` keeps each customer's latent state, so a churn model can be compared with
references on the same holdout (`oracle_aucs`):

- the *full oracle* knows the latent state, purchase rate and hazards
  (`oracle_churn_probability`, Bayes-optimal);
- the *state oracle* knows the true dropout state (active, fading, dropped) and sees the
  history: the full oracle projected onto the snapshot features and the state;
- the *history oracle* sees the history only: the full oracle projected onto the snapshot
  features, an estimate of the best any model of those features can do;
- optionally, other projections onto the features plus chosen ``truth`` columns, e.g. the
  *rate oracle* (the history and each customer's true purchase rate), which shows how much
  of a gap is the rate that a short history cannot reveal.

A projection is a LightGBM fitted by cross-entropy to the full oracle's probabilities at the
training cut-offs. Its targets are noise-free probabilities, not 0/1 outcomes, so it
estimates E[oracle | features (, state)] far more precisely than a model of the outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

#: Projections: name -> what each sees beside the snapshot features (``"state"`` is
#: `oracle_state`; other names are ``truth`` columns).
REFERENCES: dict[str, tuple[str, ...]] = {"state oracle": ("state",), "history oracle": ()}
RATE_ORACLE: dict[str, tuple[str, ...]] = {"rate oracle": ("purchase_rate",)}


def _known(truth: pd.DataFrame, cutoff: Any, columns: Sequence[str]) -> pd.DataFrame:
    """The latent columns a projection sees at `cutoff`, indexed by customer."""
    known = truth[[c for c in columns if c != "state"]].copy()
    if "state" in columns:
        known["state"] = oracle_state(truth, cutoff)
    return known


def oracle_aucs(
    frame: pd.DataFrame,
    snapshot: pd.DataFrame,
    churned: pd.Series,
    truth: pd.DataFrame,
    holdout: Any,
    horizon_days: float,
    references: Mapping[str, Sequence[str]] = REFERENCES,
) -> dict[str, float]:
    """Holdout ROC AUC of the full oracle and of each projection in `references`.

    `frame` holds feature rows with a ``cutoff`` column (the training cut-offs); `snapshot`
    the same feature columns at the `holdout` cut-off; `churned` the outcomes, indexed by
    customer.
    """
    features = [c for c in snapshot.columns if c != "cutoff"]
    latent = sorted({c for columns in references.values() for c in columns})
    parts, targets = [], []
    for cutoff, part in frame.groupby("cutoff", sort=True):
        parts.append(part[features].join(_known(truth, cutoff, latent)))
        targets.append(oracle_churn_probability(truth, cutoff, horizon_days).reindex(part.index))
    X, y = pd.concat(parts), pd.concat(targets)
    rows = snapshot[features].join(_known(truth, holdout, latent))
    full = oracle_churn_probability(truth, holdout, horizon_days)
    aucs = {"full oracle": roc_auc_score(churned, full.reindex(churned.index))}
    for name, extra in references.items():
        columns = [*features, *extra]
        projection = lgb.LGBMRegressor(**PROJECTION).fit(X[columns], y)
        predicted = pd.Series(projection.predict(rows[columns]), index=rows.index)
        aucs[name] = roc_auc_score(churned, predicted.reindex(churned.index))
    return aucs
