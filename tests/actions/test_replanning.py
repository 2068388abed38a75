"""Re-planning a fitted model with another catalogue: what may change (the plan) and what may
not (what the model learned), and the plan's record of the catalogue it was made with."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from pydantic import ValidationError

from cxml.actions import (
    ActionPlan,
    Catalogue,
    CatalogueError,
    action_values,
    plan_actions,
    replanning,
)

TRAINED = {
    "budget": 1000,
    "currency": "EUR",
    "uplift": {"learner": "x", "min_contacts": 100},
    "catalogue": [
        {
            "name": "call",
            "channel": "phone",
            "cost": 10,
            "effect": {"learned": "spring_calls", "churn_reduction": 0.2},
        },
        {"name": "mail", "channel": "email", "cost": 1, "effect": {"purchase_lift": 0.02}},
    ],
}


def catalogue(**changes) -> Catalogue:
    return Catalogue.model_validate({**TRAINED, **changes})


def action(name: str, **fields) -> dict:
    base = {a["name"]: a for a in TRAINED["catalogue"]}.get(name, {"name": name})
    return {**base, **fields}


def test_every_planning_setting_may_change() -> None:
    """Budget, costs, capacity, rules, channels, cool-downs, consent, control group, seed,
    solver and contact events are the plan's, not the model's."""
    planning = catalogue(
        budget=5000,
        control_share=0.2,
        seed=3,
        method="lagrangian",
        contact_events=["email_sent"],
        cooldown_days={"sms": 7},
        consent={"phone": "phone_ok"},
        catalogue=[
            action("call", cost=25, capacity=40, eligible="clv > 100"),
            action("mail", channel="sms", effect={"value": 1.5}),
            action("coupon", channel="email", cost=3, effect={"churn_reduction": 0.05}),
        ],
    )
    assert replanning(planning, catalogue()) == planning


def test_a_learned_action_may_be_dropped_or_assumed_instead() -> None:
    """Without learned actions the uplift settings do not matter."""
    dropped = catalogue(catalogue=[action("mail")], uplift={"learner": "t"})
    assert replanning(dropped, catalogue()) == dropped
    assumed = catalogue(
        catalogue=[action("call", effect={"churn_reduction": 0.3}), action("mail")],
        uplift={"folds": 5},
    )
    assert replanning(assumed, catalogue()) == assumed


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {"catalogue": [action("call", effect={"learned": "autumn_calls"})]},
            "action 'call': its effect is learned from campaign 'autumn_calls', but the model "
            "learned it from campaign 'spring_calls'; learned effects are fitted by training: "
            "train again",
        ),
        (
            {"catalogue": [action("mail", effect={"learned": "mailing"})]},
            "action 'mail': its effect is learned from campaign 'mailing', but the model has "
            "no learned effect for this action (it learned effects for ['call'] only)",
        ),
        (
            {"catalogue": [{**TRAINED["catalogue"][0], "name": "phone_call"}]},
            "action 'phone_call'",
        ),
        (
            {"uplift": {"learner": "t", "min_contacts": 100}},
            "actions.uplift (learner t, min_contacts 100, folds 3) differs from the settings "
            "the model's learned effects were fitted with (learner x, min_contacts 100, folds 3)",
        ),
        (
            {"currency": "USD"},
            "actions.currency 'USD' is not the model's 'EUR': the model's CLV, the value at "
            "stake, is in EUR",
        ),
    ],
    ids=["other-campaign", "newly-learned", "renamed", "uplift", "currency"],
)
def test_what_the_model_learned_may_not_change(changes: dict, fragment: str) -> None:
    with pytest.raises(CatalogueError) as caught:
        replanning(catalogue(**changes), catalogue())
    assert fragment in str(caught.value)


def test_a_model_trained_without_a_catalogue_plans_assumed_effects_only() -> None:
    assumed = catalogue(catalogue=[action("mail")])
    assert replanning(assumed, None) == assumed
    with pytest.raises(CatalogueError, match="it was trained without learned effects"):
        replanning(catalogue(), None)


def test_an_empty_currency_is_the_models() -> None:
    assert replanning(catalogue(currency=""), catalogue()).currency == "EUR"
    assert replanning(catalogue(currency="USD"), catalogue(currency="")).currency == "USD"


def test_the_plan_records_its_catalogue_through_the_scores_attrs() -> None:
    """The scores said nothing of the catalogue behind their plan: a re-planned budget
    could not be told from the trained one."""
    used = catalogue(catalogue=[action("mail")])
    frame = pd.DataFrame({"churn_probability": [0.5, 0.2], "clv": [100.0, 40.0]})
    plan = plan_actions(action_values(frame, used, used.rules(frame.columns)), frame.index, used)
    assert plan.catalogue == used and not plan.replanned
    scores = pd.concat([frame, plan.assignments], axis=1)
    scores.attrs["action_plan"] = plan.to_dict()
    restored = ActionPlan.from_scores(scores)
    assert restored.catalogue == used and not restored.replanned
    assert "of budget 1,000 EUR" in restored.text()  # the catalogue's currency by default
    assert "re-planned" not in restored.text()
    scores.attrs["action_plan"]["replanned"] = True
    assert "re-planned: with another action catalogue" in ActionPlan.from_scores(scores).text()


def test_a_plan_stored_without_its_catalogue_still_reads() -> None:
    """Scores written by an older cxml carry only the summary and totals."""
    used = catalogue(catalogue=[action("mail")])
    frame = pd.DataFrame({"churn_probability": [0.5], "clv": [100.0]})
    plan = plan_actions(action_values(frame, used, used.rules(frame.columns)), frame.index, used)
    scores = pd.concat([frame, plan.assignments], axis=1)
    scores.attrs["action_plan"] = {k: plan.to_dict()[k] for k in ("summary", "totals")}
    restored = ActionPlan.from_scores(scores)
    assert restored.catalogue is None and not restored.replanned
    assert "of budget 1,000 EUR" in restored.text("EUR")


def test_a_currency_in_other_case_is_the_models() -> None:
    """ "eur" against a model in "EUR" was refused, saying to train again on data in eur."""
    assert replanning(catalogue(currency="eur"), catalogue()).currency == "EUR"


@pytest.mark.parametrize(
    ("changes", "location"),
    [
        ({"catalogue": [action("mail", effect={"value": math.nan})]}, "catalogue.0.effect.value"),
        ({"catalogue": [action("mail", effect={"value": math.inf})]}, "catalogue.0.effect.value"),
        ({"cooldown_days": {"email": math.nan}}, "cooldown_days.email"),
        ({"catalogue": [action("control")]}, "catalogue.0.name"),
        ({"catalogue": [action("mail", channel="")]}, "catalogue.0.channel"),
    ],
    ids=["nan-value", "inf-value", "nan-cool-down", "named-control", "no-channel"],
)
def test_a_catalogue_the_plan_cannot_use_is_refused(changes: dict, location: str) -> None:
    """A NaN value dropped the action with a false reason, inf crashed the plan, a NaN
    cool-down was no cool-down, an action named "control" shared the control group's
    summary row, and channel "" made a column "days_since_contact_"."""
    with pytest.raises(ValidationError) as caught:
        catalogue(**changes)
    assert location in str(caught.value)
