"""The plan around the solver: the control-group draw and the reasons and summary when the
budget or capacities rule actions out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import ActionPlan, Catalogue, action_values, control_group, plan_actions

INTEGERS = np.arange(-20, 3000)


@pytest.mark.parametrize(
    "ids",
    [
        INTEGERS.astype(str).astype(object),
        pd.Index(INTEGERS.astype(str)),
        pd.array(INTEGERS.astype(str), dtype="string"),
        pd.array(INTEGERS, dtype="Int64"),
        INTEGERS.astype(object),
    ],
    ids=["text", "text-index", "string-dtype", "nullable-int", "python-int"],
)
def test_an_integer_id_and_its_decimal_text_get_the_same_draw(ids) -> None:
    """CSV ids load as text and Parquet ids as integers: the customer 42 is the same
    customer either way, so it must be in or out of the control group either way."""
    drawn = control_group(INTEGERS, 0.3, 11)
    assert 0.2 < drawn.mean() < 0.4
    assert (control_group(ids, 0.3, 11) == drawn).all()
    assert (control_group(INTEGERS.astype(np.uint32)[20:], 0.3, 11) == drawn[20:]).all()


def test_text_with_leading_zeros_is_not_the_integer() -> None:
    """'007' is another customer than 7: only the canonical decimal text meets the integer."""
    padded = np.array([f"{i:04d}" for i in range(3000)], dtype=object)
    drawn = control_group(np.arange(3000), 0.3, 11)
    assert (control_group(padded, 0.3, 11)[:1000] != drawn[:1000]).any()
    assert (control_group(padded, 0.3, 11)[1000:] == drawn[1000:]).all()  # no leading zero


def plan_of(actions: list[dict], budget: float | None, n: int = 3) -> ActionPlan:
    """The plan for `n` alike customers (churn 0.5, CLV 100) and `actions`, no control group."""
    catalogue = Catalogue.model_validate(
        {"budget": budget, "currency": "EUR", "control_share": 0, "catalogue": actions}
    )
    frame = pd.DataFrame({"churn_probability": [0.5] * n, "clv": [100.0] * n})
    values = action_values(frame, catalogue, catalogue.rules(frame.columns))
    return plan_actions(values, frame.index, catalogue)


def paying(name: str, cost: float, capacity: int | None = None) -> dict:
    """An action worth 20 - cost to every customer."""
    return {
        "name": name,
        "channel": "email",
        "cost": cost,
        "capacity": capacity,
        "effect": {"value": 20},
    }


@pytest.mark.parametrize(
    ("actions", "budget", "why"),
    [
        ([paying("mail", 2)], 0.0, "costs more than the budget of 0 EUR"),
        ([paying("mail", 2)], 1.5, "costs more than the budget of 1.50 EUR"),
        ([paying("mail", 2, capacity=0)], None, "has a capacity of 0"),
        (
            [paying("mail", 2, capacity=0), paying("call", 9)],
            5.0,
            "costs more than the budget of 5 EUR or has a capacity of 0",
        ),
    ],
    ids=["budget-0", "budget-below-cost", "capacity-0", "both"],
)
def test_actions_out_of_reach_of_budget_or_capacity_are_named_as_such(actions, budget, why) -> None:
    """Nobody can get an action: the reason is the budget or capacity itself, not other
    customers who got it, and the plan is not 'unconstrained'."""
    plan = plan_of(actions, budget)
    reasons = plan.assignments["reason"]
    assert (plan.assignments["action"] == "no_action").all()
    assert reasons.str.startswith(f" -> no_action: every action that pays {why} (best ").all()
    assert plan.totals["method"] == "exact" and plan.totals["gap"] == 0
    assert plan.totals["out_of_reach_customers"] == 3
    text = plan.text("EUR")
    assert "unconstrained" not in text
    assert "out of reach: 3 customers whose paying actions all cost more than the budget" in text


def test_customers_beaten_to_an_action_still_read_budget_or_capacity() -> None:
    """A budget of 4 pays two contacts of cost 2 for three customers: the third lost to the
    others; an action beyond the budget only (cost 9) does not change that."""
    plan = plan_of([paying("mail", 2), paying("call", 9)], 4.0)
    assert (plan.assignments["action"] == "mail").sum() == 2
    idle = plan.assignments.loc[plan.assignments["action"] == "no_action", "reason"]
    assert idle.tolist() == [
        " -> no_action: budget or capacity went to higher-value customers (best mail +18 EUR)"
    ]
    assert plan.totals["out_of_reach_customers"] == 0
    assert "out of reach" not in plan.text("EUR")


def test_a_plan_within_reach_is_still_unconstrained() -> None:
    plan = plan_of([paying("mail", 2)], 100.0)
    assert plan.totals["method"] == "unconstrained"
    assert (plan.assignments["action"] == "mail").all()


def test_the_plan_withholds_the_same_customers_whether_ids_are_text_or_integers() -> None:
    catalogue = Catalogue.model_validate(
        {"control_share": 0.3, "seed": 5, "catalogue": [paying("mail", 2)]}
    )
    frame = pd.DataFrame({"churn_probability": [0.5] * 500, "clv": [100.0] * 500})
    values = action_values(frame, catalogue, catalogue.rules(frame.columns))
    plans: list[ActionPlan] = [
        plan_actions(values, ids, catalogue, context=None)
        for ids in (np.arange(500), np.arange(500).astype(str))
    ]
    as_int, as_text = (p.assignments for p in plans)
    assert as_int["in_control_group"].any()
    pd.testing.assert_frame_equal(as_int, as_text)
