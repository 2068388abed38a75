"""Expected incremental value of each action for each customer, and who may get which.

``value_ik = retention uplift_ik x value at stake_i + direct value_k - cost_k``

- The retention uplift is the change in the probability that the customer does not churn
  within the churn horizon: learned (`UpliftModel`) or assumed, ``churn_reduction x
  churn_probability + purchase_lift``, kept within what can change (``[-(1 - p), p]``).
- The value at stake is what a retained customer is worth over the CLV horizon,
  ``clv / (1 - churn_probability)``: a churned customer buys nothing in the churn horizon,
  so CLV is retention probability x value when retained. It is exact when the CLV and churn
  horizons are equal (the default); 1 - p is floored at `MIN_RETENTION` so that customers
  almost surely lost do not get unbounded value.
- An action is allowed when its eligibility rule holds, the customer has consented to its
  channel (a missing flag is no consent) and the last contact on the channel is at least
  the channel's cool-down ago (never contacted passes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cxml.actions.catalogue import Catalogue, contact_column
from cxml.actions.rules import Rule, RuleError
from cxml.actions.uplift import UpliftModel
from cxml.data.flags import as_flags

#: Floor of the retention probability in the value at stake.
MIN_RETENTION = 0.05
#: Columns every planning frame needs (from the scores).
REQUIRED = ("churn_probability", "clv")


@dataclass(frozen=True)
class ActionValues:
    """The planning inputs for n customers and the catalogue's K actions.

    Attributes
    ----------
    names : list of str
    uplift : array (n, K)
        Change in retention probability.
    value_at_stake : array (n,)
    values : array (n, K)
        Expected incremental value net of cost (also where not allowed).
    allowed : array (n, K) of bool
    costs : array (K,)
    capacities : array (K,), inf for none
    sources : dict
        Action -> "learned" or "assumed".
    """

    names: list[str]
    uplift: np.ndarray
    value_at_stake: np.ndarray
    values: np.ndarray
    allowed: np.ndarray
    costs: np.ndarray
    capacities: np.ndarray
    sources: dict[str, str]

    @cached_property
    def best(self) -> tuple[np.ndarray, np.ndarray]:
        """Each customer's allowed action of largest value and that value (-1 and -inf where
        none is allowed), whatever the budget."""
        allowed = np.where(self.allowed, self.values, -np.inf)
        if not allowed.shape[1]:
            return np.full(len(allowed), -1), np.full(len(allowed), -np.inf)
        best = np.argmax(allowed, axis=1)
        value = allowed[np.arange(len(allowed)), best]
        return np.where(np.isfinite(value), best, -1), value

    @property
    def candidates(self) -> np.ndarray:
        """Values where allowed, -inf elsewhere: the solver's input."""
        return np.where(self.allowed, self.values, -np.inf)


def value_at_stake(churn_probability: np.ndarray, clv: np.ndarray) -> np.ndarray:
    """What keeping each customer is worth: CLV given retention (see the module docstring)."""
    retention = np.maximum(1.0 - np.asarray(churn_probability, dtype=float), MIN_RETENTION)
    return np.maximum(np.asarray(clv, dtype=float), 0.0) / retention


def check_columns(catalogue: Catalogue, columns: pd.Index) -> None:
    """RuleError naming the action when a consent or contact-recency column the catalogue
    needs is missing (a cool-down without recency data would silently not apply)."""
    for action in catalogue.catalogue:
        flag = catalogue.consent.get(action.channel)
        if flag is not None and flag not in columns:
            raise RuleError(
                action.name,
                None,
                None,
                f"consent column {flag!r} of channel {action.channel!r} is not in the "
                "snapshot (is it a customers-table attribute?)",
            )
        column = contact_column(action.channel)
        if catalogue.cooldown_days.get(action.channel) and column not in columns:
            raise RuleError(
                action.name,
                None,
                None,
                f"channel {action.channel!r} has a cool-down but the frame has no {column!r} "
                "column (days since the last contact, NaN for never; see days_since_contact)",
            )


def _consented(frame: pd.DataFrame, flag: str, action: str) -> np.ndarray:
    """A consent column as booleans (missing is no consent); RuleError unless it holds
    true/false or 1/0 — text such as "no" must not count as consent."""
    flags, bad = as_flags(frame[flag])
    if bad.empty:
        return flags.eq(True).to_numpy(dtype=bool)
    examples = ", ".join(repr(v) for v in pd.unique(bad.astype(object))[:3])
    raise RuleError(
        action,
        flag,
        None,
        f"consent column {flag!r} must hold true/false or 1/0; {len(bad)} rows hold other "
        f"values, e.g. {examples} (rows {', '.join(map(str, bad.index[:5]))})",
    )


def action_values(
    frame: pd.DataFrame,
    catalogue: Catalogue,
    rules: Mapping[str, Rule | None],
    uplift: UpliftModel | None = None,
    features: list[str] | None = None,
) -> ActionValues:
    """Values and permissions for every customer (row of `frame`) and action.

    `frame` holds the snapshot and score columns (``churn_probability``, ``clv``, the
    consent flags and ``days_since_contact_<channel>``); `uplift` with `features` (its input
    columns) gives the learned effects.
    """
    check_columns(catalogue, frame.columns)
    churn = frame["churn_probability"].to_numpy(dtype=float)
    stake = value_at_stake(churn, frame["clv"].to_numpy(dtype=float))
    learned = {} if uplift is None else getattr(uplift, "learners_", {})
    n, k = len(frame), len(catalogue.catalogue)
    lift = np.empty((n, k))
    values = np.empty((n, k))
    allowed = np.ones((n, k), dtype=bool)
    sources = {}
    for j, action in enumerate(catalogue.catalogue):
        effect = action.effect
        if effect.learned and action.name in learned and uplift is not None:
            raw = uplift.predict(frame[features or uplift.feature_names_in_], action.name)
            sources[action.name] = "learned"
        else:
            raw = effect.churn_reduction * churn + effect.purchase_lift
            sources[action.name] = "assumed"
        lift[:, j] = np.clip(raw, -(1.0 - churn), churn)
        values[:, j] = lift[:, j] * stake + effect.value - action.cost
        rule = rules.get(action.name)
        if rule is not None:
            allowed[:, j] &= rule.evaluate(frame)
        flag = catalogue.consent.get(action.channel)
        if flag is not None:
            allowed[:, j] &= _consented(frame, flag, action.name)
        days = catalogue.cooldown_days.get(action.channel)
        if days:
            since = frame[contact_column(action.channel)].to_numpy(dtype=float)
            allowed[:, j] &= ~(since < days)  # NaN (never contacted) passes
    capacities = np.array(
        [np.inf if a.capacity is None else a.capacity for a in catalogue.catalogue], dtype=float
    )
    costs = np.array([a.cost for a in catalogue.catalogue], dtype=float)
    return ActionValues(catalogue.names, lift, stake, values, allowed, costs, capacities, sources)
