"""Models against the simulator's ground truth (the models issue, must-show 3).

The study of `benchmarks/oracle.py` (quarterly cut-offs, a 90-day horizon, the holdout
cut-off 2023-10-01) on `make_synthetic(20_000, seed=1)`, with the default settings and with
an engaged web/app audience. See docs/models.md for the figures over more seeds and
settings, and what they mean.
"""

from __future__ import annotations

import pytest

from benchmarks.oracle import SETTINGS, figures, simulate

CUSTOMERS, SEED = 20_000, 1


@pytest.fixture(scope="module")
def default() -> dict[str, float]:
    return figures(*simulate(CUSTOMERS, SEED, SETTINGS["default"]))


@pytest.fixture(scope="module")
def engaged() -> dict[str, float]:
    """Customers who visit about three times a week, and whose engagement fades within a
    week or so before they drop out (the default: once a month, over three weeks)."""
    return figures(*simulate(CUSTOMERS, SEED, SETTINGS["engaged"]))


def _check_order(found: dict[str, float]) -> None:
    print("\n" + ", ".join(f"{name} {value:.4f}" for name, value in found.items()))
    assert found["ChurnModel"] > found["btyd"]
    assert found["ChurnModel"] > found["recency"]
    assert found["full oracle"] > found["state oracle"] > found["history oracle"]
    assert found["full oracle"] > found["rate oracle"] > found["history oracle"]


def test_churn_probabilities_are_calibrated(default: dict[str, float]) -> None:
    assert default["ece"] <= 0.02


def test_clv_intervals_cover_their_nominal_share(default: dict[str, float]) -> None:
    assert 0.77 <= default["coverage"] <= 0.83


def test_churn_model_against_the_oracle(default: dict[str, float]) -> None:
    """Default simulator: dropout shows slowly (a visit a month, fading over weeks).

    Even the history oracle is about 0.023 below the state oracle, so no model can be within
    0.02 of it here (the model is about 0.028 below). The model is within about 0.005 of the
    history oracle: what it lacks is information, not fit. Knowing each customer's true
    purchase rate instead of the state (the rate oracle) is worth even more than the state.
    """
    _check_order(default)
    assert default["rate oracle"] > default["state oracle"]
    assert default["history oracle"] - default["ChurnModel"] < 0.01  # as good as it gets
    assert default["state oracle"] - default["ChurnModel"] < 0.04  # guards the measured level


def test_churn_model_within_002_of_the_state_oracle_when_engagement_shows_dropout(
    engaged: dict[str, float],
) -> None:
    """The issue's three targets together, on customers whose visits reveal a fading
    engagement."""
    _check_order(engaged)
    assert engaged["state oracle"] - engaged["ChurnModel"] <= 0.02
    assert engaged["history oracle"] - engaged["ChurnModel"] < 0.01
    assert engaged["ece"] <= 0.02
    assert 0.77 <= engaged["coverage"] <= 0.83
