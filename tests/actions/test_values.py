"""action_values' permissions: consent flags and cool-downs, and the errors when their
columns are missing or hold something else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import Catalogue, RuleError, action_values, value_at_stake
from cxml.actions.value import MIN_RETENTION

CATALOGUE = Catalogue.model_validate(
    {
        "cooldown_days": {"email": 30},
        "consent": {"email": "email_consent"},
        "catalogue": [{"name": "mail", "channel": "email", "cost": 1, "effect": {"value": 5}}],
    }
)


def frame(consent: list, since: list[float] | None = None) -> pd.DataFrame:
    n = len(consent)
    columns = {"churn_probability": [0.5] * n, "clv": [100.0] * n, "email_consent": consent}
    if since is not None:
        columns["days_since_contact_email"] = since
    return pd.DataFrame(columns)


@pytest.mark.parametrize(
    "consent",
    [
        [True, False, False, True],
        pd.array([True, False, None, True], dtype="boolean"),
        [1, 0, np.nan, 1],
    ],
    ids=["bool", "nullable", "one-zero"],
)
def test_consent_and_cooldown_decide_who_may_be_contacted(consent) -> None:
    # rows: consented and never contacted; no consent; missing consent; contacted 3 days ago
    allowed = action_values(frame(consent, [np.nan, np.nan, np.nan, 3.0]), CATALOGUE, {}).allowed
    assert allowed[:, 0].tolist() == [True, False, False, False]


@pytest.mark.parametrize("values", [["no", "yes"], ["false", "true"], [2, 1]])
def test_a_consent_flag_that_is_not_true_false_is_an_error(values) -> None:
    with pytest.raises(RuleError, match=r"'email_consent' must hold true/false or 1/0"):
        action_values(frame(values, [np.nan, np.nan]), CATALOGUE, {})


def test_text_consent_is_an_error_after_a_categorical_snapshot_too() -> None:
    given = frame(pd.Categorical(["no", "yes"]), [np.nan, np.nan])
    with pytest.raises(RuleError, match=r"e\.g\. 'no', 'yes'"):
        action_values(given, CATALOGUE, {})


def test_missing_consent_column_names_the_action() -> None:
    given = frame([True]).drop(columns="email_consent").assign(days_since_contact_email=np.nan)
    with pytest.raises(RuleError, match=r"action 'mail'.*'email_consent'.*is not in the"):
        action_values(given, CATALOGUE, {})


def test_a_cooldown_without_contact_recency_is_an_error_not_ignored() -> None:
    with pytest.raises(RuleError, match=r"no 'days_since_contact_email' column"):
        action_values(frame([True, True]), CATALOGUE, {})


def assumed(effect: dict, churn: list[float], cost: float = 0.0) -> np.ndarray:
    """Values of one assumed-effect action (no consent or cool-down) for customers of CLV 100."""
    catalogue = Catalogue.model_validate(
        {"catalogue": [{"name": "act", "channel": "email", "cost": cost, "effect": effect}]}
    )
    given = pd.DataFrame({"churn_probability": churn, "clv": [100.0] * len(churn)})
    return action_values(given, catalogue, {})


def test_value_at_stake_is_clv_over_retention_floored() -> None:
    """Guards against dropping the division by 1 - p or its floor at MIN_RETENTION."""
    stake = value_at_stake(np.array([0.5, 0.99, 1.0]), np.array([100.0, 100.0, 100.0]))
    floored = 100.0 / MIN_RETENTION
    assert stake.tolist() == pytest.approx([200.0, floored, floored])


def test_churn_reduction_scales_the_churn_probability() -> None:
    """The assumed uplift is churn_reduction x p, not x (1 - p)."""
    values = assumed({"churn_reduction": 0.2}, [0.5, 0.25])
    assert values.uplift[:, 0].tolist() == pytest.approx([0.1, 0.05])


def test_purchase_lift_is_clipped_to_what_can_change() -> None:
    """The uplift stays within [-(1 - p), p]: a lift of 0.5 at p = 0.1 gives 0.1, a lift of
    -0.5 at p = 0.8 gives -0.2."""
    assert assumed({"purchase_lift": 0.5}, [0.1]).uplift[0, 0] == pytest.approx(0.1)
    assert assumed({"purchase_lift": -0.5}, [0.8]).uplift[0, 0] == pytest.approx(-0.2)


def test_action_value_is_uplift_times_stake_plus_value_minus_cost() -> None:
    """p = 0.5, CLV 100: stake 200, uplift 0.2 x 0.5 = 0.1, so 0.1 x 200 + 5 - 3 = 22."""
    values = assumed({"churn_reduction": 0.2, "value": 5}, [0.5], cost=3)
    assert values.values[0, 0] == pytest.approx(22.0)


def test_a_contact_exactly_the_cooldown_ago_is_allowed() -> None:
    """The last contact must be *at least* the cool-down ago: 30 days passes, 29 does not."""
    allowed = action_values(frame([True, True], [30.0, 29.0]), CATALOGUE, {}).allowed
    assert allowed[:, 0].tolist() == [True, False]
