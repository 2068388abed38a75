"""UpliftModel on hand-made randomised contacts whose average effect is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import UpliftModel

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
