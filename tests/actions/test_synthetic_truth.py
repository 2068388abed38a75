"""Learned uplift and the learned plan against the simulator's true effects.

Three randomised campaigns run at the same moment on a simulated retailer; each customer's
true uplift in 90-day retention under each campaign is known (``truth.true_uplift_<id>``).
The uplift model learns from half of the customers (A); the plan is made for the other half
(B) at the campaign date, and its *true* value is computed from the simulator's truth:

    true value = sum over treated customers of (true uplift x value at stake - cost)

The value at stake is the same for every policy (the simulator's expected value of a
retained customer), so the policies differ only in whom they treat with what.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import Catalogue, UpliftModel, action_values, plan_actions
from cxml.actions.contacts import campaign_history
from cxml.datasets import make_synthetic
from cxml.datasets.synthetic import (
    CampaignWave,
    oracle_churn_probability,
    oracle_expected_value,
)
from cxml.features import FeatureSpec, build_training_frame
from cxml.features.spec import LABELS
from cxml.models import ChurnModel

N_CUSTOMERS = 40_000
SEED = 3
HORIZON = "90D"
WAVES = (
    CampaignWave(
        "discount_email", "boost", "email", at=0.6, effect=1.5, window_days=60.0, contact_share=1.0
    ),
    CampaignWave(
        "loyalty_points", "boost", "email", at=0.6, effect=0.6, window_days=90.0, contact_share=1.0
    ),
    CampaignWave(
        "retention_call",
        "retain",
        "phone",
        at=0.6,
        effect=1.0,
        window_days=180.0,
        contact_share=1.0,
    ),
)
COSTS = {"discount_email": 2.0, "loyalty_points": 1.0, "retention_call": 8.0}
#: Actions whose true effect varies enough to be learnt from ~3,000 contacts; the retention
#: call's true uplift is tiny for most customers (docs/synthetic.md), so it is reported only.
RANKED = ("discount_email", "loyalty_points")
SPEC = FeatureSpec(time_unit="D", windows=(30, 90, 180, 365))


@pytest.fixture(scope="module")
def experiment() -> dict:
    tables, truth = make_synthetic(N_CUSTOMERS, SEED, campaigns=WAVES)
    history = campaign_history(tables, list(COSTS), HORIZON, SPEC)
    cutoff = history["cutoff"].iloc[0]
    assert (history["cutoff"] == cutoff).all()  # one wave date for all three campaigns
    rng = np.random.default_rng(SEED)
    customers = history.index.unique()
    learn = pd.Index(rng.choice(customers, len(customers) // 2, replace=False))
    features = [
        c
        for c in history.columns
        if c not in (*LABELS, "cutoff", "campaign_id", "treatment", "retained")
    ]
    mine = history.index.isin(learn)
    uplift = UpliftModel(learner="x", random_state=SEED).fit(
        history.loc[mine, features],
        history.loc[mine, "campaign_id"],
        history.loc[mine, "treatment"],
        history.loc[mine, "retained"],
        actions=list(COSTS),
    )
    # The churn model of the "highest risk" policy and of the values: trained on customers A
    # at the cut-off one horizon before the wave, predicting customers B at the wave.
    train = build_training_frame(tables, [cutoff - pd.Timedelta(HORIZON)], HORIZON, SPEC)
    train = train[train.index.isin(learn)]
    churn = ChurnModel(n_estimators=300, random_state=SEED).fit(
        train[["cutoff", *features]], train["churned"]
    )
    plan_rows = history[~mine]
    plan_rows = plan_rows[~plan_rows.index.duplicated()]
    frame = plan_rows[features].copy()
    frame["churn_probability"] = churn.predict_proba(plan_rows[["cutoff", *features]])[:, 1]
    p_true = oracle_churn_probability(truth, cutoff, 90).reindex(frame.index).to_numpy()
    value_true = oracle_expected_value(truth, cutoff, 90).reindex(frame.index).to_numpy()
    stake = value_true / np.maximum(1 - p_true, 0.05)
    # clv such that the planner's value at stake equals the simulator's (see module doc)
    frame["clv"] = stake * np.maximum(1 - frame["churn_probability"], 0.05)
    true_uplift = np.column_stack(
        [truth[f"true_uplift_{a}"].reindex(frame.index).fillna(0.0).to_numpy() for a in COSTS]
    )
    return {
        "frame": frame,
        "features": features,
        "uplift": uplift,
        "stake": stake,
        "true_uplift": true_uplift,
        "budget": 0.15 * len(frame) * COSTS["discount_email"],
    }


def _catalogue(budget: float) -> Catalogue:
    return Catalogue.model_validate(
        {
            "budget": budget,
            "control_share": 0.0,
            "catalogue": [
                {
                    "name": a,
                    "channel": "email" if a != "retention_call" else "phone",
                    "cost": c,
                    "effect": {"learned": a, "churn_reduction": 0.05},
                }
                for a, c in COSTS.items()
            ],
        }
    )


def _true_value(choice: np.ndarray, experiment: dict) -> float:
    rows = np.flatnonzero(choice >= 0)
    costs = np.array(list(COSTS.values()))
    lift = experiment["true_uplift"][rows, choice[rows]]
    return float((lift * experiment["stake"][rows] - costs[choice[rows]]).sum())


def _risk_policy(experiment: dict, budget: float) -> np.ndarray:
    """Treat the highest churn risk first with the action of largest average learned uplift
    per unit cost, until the budget is spent."""
    report = experiment["uplift"].report_.set_index("action")
    per_cost = {a: report.loc[a, "ate"] / c for a, c in COSTS.items()}
    action = list(COSTS).index(max(per_cost, key=per_cost.get))
    n = int(budget // list(COSTS.values())[action])
    order = np.argsort(-experiment["frame"]["churn_probability"].to_numpy(), kind="stable")
    choice = np.full(len(order), -1)
    choice[order[:n]] = action
    return choice


def test_learned_uplift_ranks_better_than_random(experiment: dict) -> None:
    report = experiment["uplift"].report_.set_index("action")
    print("\nQini per action (out-of-fold, customers A):\n", report[["contacts", "ate", "qini"]])
    assert (report["status"] == "learned").all()
    for action in RANKED:
        assert report.loc[action, "qini"] > 0, action


def test_learned_plan_beats_risk_targeting_and_doing_nothing(experiment: dict) -> None:
    budget = experiment["budget"]
    catalogue = _catalogue(budget)
    frame = experiment["frame"]
    values = action_values(
        frame,
        catalogue,
        catalogue.rules(frame.columns),
        experiment["uplift"],
        experiment["features"],
    )
    plan = plan_actions(values, frame.index, catalogue)
    names = np.array(list(COSTS))
    chosen = plan.assignments["planned_action"].to_numpy()
    choice = np.array([list(names).index(a) if a in names else -1 for a in chosen])
    learned = _true_value(choice, experiment)
    risk = _true_value(_risk_policy(experiment, budget), experiment)
    print(
        f"\ntrue value, budget {budget:,.0f}: learned plan {learned:,.0f}, "
        f"highest churn risk {risk:,.0f}, treat no one 0"
    )
    spend = np.array([COSTS[a] for a in chosen if a in COSTS]).sum()
    assert spend <= budget + 1e-9
    assert learned > 0
    assert learned > risk
