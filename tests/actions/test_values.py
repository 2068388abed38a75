"""action_values' permissions: consent flags and cool-downs, and the errors when their
columns are missing or hold something else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import Catalogue, RuleError, action_values

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
