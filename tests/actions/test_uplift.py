"""UpliftModel on hand-made randomised contacts whose average effect is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import UpliftModel
from cxml.actions.contacts import campaign_history
from cxml.data import Tables
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
    """The outcome window [cutoff, cutoff + horizon) is exclusive at its end, as is
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
            "timestamp": pd.to_datetime(["2023-03-01 10:00", "2023-03-01 11:00"]),
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
