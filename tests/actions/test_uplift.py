"""UpliftModel on hand-made randomised contacts whose average effect is known."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.actions import UpliftModel
from cxml.actions.contacts import campaign_history
from cxml.data import Tables
from cxml.errors import ParameterError
from cxml.features import FeatureSpec

N = 1_000


@pytest.mark.parametrize("learner", ["t", "x"])
@pytest.mark.parametrize(
    ("treated_rate", "control_rate"),
    [(0.8, 1.0), (1.0, 0.97), (0.9, 0.7)],
    ids=["control-all-retained", "treated-all-retained", "both-mixed"],
)
def test_learned_effect_matches_the_difference_in_means(learner, treated_rate, control_rate):
    """An arm whose contacts were all retained gives LightGBM one class; the effect must
    still be treated minus control retention, not flip sign."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=N)})
    treated = np.arange(N) % 2 == 0
    retained = rng.random(N) < np.where(treated, treated_rate, control_rate)
    model = UpliftModel(learner=learner).fit(X, ["call"] * N, treated, retained.astype(float))
    ate = retained[treated].mean() - retained[~treated].mean()
    assert model.report_["status"].iloc[0] == "learned"
    assert model.predict(X, "call").mean() == pytest.approx(ate, abs=0.02)


def test_x_learner_weights_the_control_arm_estimate_by_the_treated_share() -> None:
    """With 80 % treated the X-learner blends ``0.8 tau0 + 0.2 tau1`` (tau0 learnt on the
    control contacts); swapping the weights goes unnoticed when both arms agree, so the
    effect here varies with ``a`` and the two arms' estimates differ."""
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, N)
    X = pd.DataFrame({"a": a})
    treated = np.arange(N) % 5 != 0  # exactly 80 % treated
    rate = np.where(treated, np.where(a > 0, 0.9, 0.5), 0.6)
    retained = (rng.random(N) < rate).astype(float)
    model = UpliftModel(
        learner="x", min_contacts=50, folds=2, n_estimators=50, min_child_samples=20
    ).fit(X, ["call"] * N, treated, retained)
    learner = model.learners_["call"]
    assert learner.treated_share == pytest.approx(0.8)
    tau0 = learner.effect_control.predict(X)
    tau1 = learner.effect_treated.predict(X)
    assert np.abs(tau0 - tau1).mean() > 0.02  # the weighting matters
    np.testing.assert_allclose(model.predict(X, "call"), 0.8 * tau0 + 0.2 * tau1, atol=1e-9)


def test_campaign_history_keeps_a_contact_whose_window_ends_at_observed_until() -> None:
    """The outcome window [contact, contact + horizon) is exclusive at its end, as is
    observed_until: a window ending exactly there is complete and must not be dropped."""
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "timestamp": pd.to_datetime(["2023-01-10", "2023-03-30", "2023-01-12", "2023-02-01"]),
            "amount": 5.0,
        }
    )
    ix = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2023-03-01", "2023-03-01"]),
            "event_type": "campaign_contact",
            "channel": "email",
            "campaign_id": "spring",
            "treatment": [True, False],
        }
    )
    tables = Tables(tx, ix)
    assert tables.observed_until == pd.Timestamp("2023-03-31")  # 2023-03-01 + 30D
    spec = FeatureSpec(time_unit="D", windows=(30,))
    history = campaign_history(tables, ["spring"], "30D", spec)
    assert sorted(history.index) == ["a", "b"]
    assert history.loc["a", "treatment"] and not history.loc["b", "treatment"]
    assert (history["cutoff"] == pd.Timestamp("2023-03-01")).all()


def _coin_flips(n: int = 600) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Features, a treatment flag and a 1/0 outcome of `n` hand-made contacts."""
    rng = np.random.default_rng(1)
    treated = np.arange(n) % 2 == 0
    retained = (rng.random(n) < np.where(treated, 0.7, 0.5)).astype(float)
    return pd.DataFrame({"a": rng.normal(size=n)}), treated, retained


def _small_model() -> UpliftModel:
    return UpliftModel(learner="t", min_contacts=50, folds=2, n_estimators=5)


@pytest.mark.parametrize(
    "convert",
    [
        lambda t: t.astype(int),
        lambda t: pd.Series(t, dtype="boolean", index=np.arange(len(t)) + 100),
        lambda t: list(t),
    ],
    ids=["one-zero", "pandas-boolean", "list-of-bools"],
)
def test_treatment_flags_in_any_flag_form_give_the_same_arms(convert) -> None:
    """1/0 and nullable booleans are flags: the same 300 treated and 300 control contacts."""
    X, treated, retained = _coin_flips()
    report = _small_model().fit(X, ["call"] * len(X), convert(treated), retained).report_
    assert report[["treated", "control"]].iloc[0].tolist() == [300, 300]
    assert report["ate"].iloc[0] == pytest.approx(
        retained[treated].mean() - retained[~treated].mean()
    )


def _not_flags(case: str, t: np.ndarray, y: np.ndarray) -> tuple[str, Any, Any, str]:
    """The refused column, the treatment and outcome passed, and a part of the message."""
    row = np.arange(len(t))
    return {
        "text-True-False": (
            "treatment",
            np.where(t, "True", "False"),
            y,
            "600 of 600 values do not, e.g. 'True' (row 0)",
        ),
        "text-yes-no": ("treatment", np.where(t, "yes", "no"), y, "e.g. 'yes' (row 0)"),
        "two": ("treatment", np.where(t, 1, 2), y, "300 of 600 values do not, e.g. 2 (row 1)"),
        # control rows are the odd ones: 301, 303, ..., 599 are 150 rows
        "nan-arm": (
            "treatment",
            np.where(~t & (row >= 301), np.nan, t.astype(float)),
            y,
            "150 of 600 values are missing, e.g. row 301",
        ),
        "text-outcome": ("outcome", t, np.where(y > 0, "1", "0"), "600 of 600 values do not"),
        "nan-outcome": (
            "outcome",
            t,
            np.where(row == 7, np.nan, y),
            "1 of 600 values are missing, e.g. row 7",
        ),
        "half": (
            "outcome",
            t,
            np.where(row == 3, 0.5, y),
            "1 of 600 values do not, e.g. 0.5 (row 3)",
        ),
    }[case]


@pytest.mark.parametrize(
    "case",
    ["text-True-False", "text-yes-no", "two", "nan-arm", "text-outcome", "nan-outcome", "half"],
)
def test_a_treatment_or_outcome_that_is_not_a_flag_is_refused(case: str) -> None:
    """Text ("False" is truthy), missing values (NaN is truthy) and numbers other than 1/0
    are refused with a ParameterError naming the column, the count and an example, instead
    of silently counting as treated or retained."""
    X, treated, retained = _coin_flips()
    column, treatment, outcome, expected = _not_flags(case, treated, retained)
    with pytest.raises(ParameterError, match=rf"^{column} must hold true/false or 1/0") as err:
        _small_model().fit(X, ["call"] * len(X), treatment, outcome)
    assert expected in str(err.value)
