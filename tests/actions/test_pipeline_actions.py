"""The pipeline with an action catalogue: every constraint holds on the scored plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.actions import (
    PLAN_COLUMNS,
    ActionPlan,
    Catalogue,
    CatalogueError,
    RuleError,
    control_group,
)
from cxml.data import Tables
from cxml.datasets import make_synthetic
from cxml.errors import ParameterError
from cxml.features import FeatureSpec
from cxml.pipeline import SCORE_COLUMNS, Pipeline

AS_OF = "2024-01-01"
CATALOGUE = {
    "budget": 2500,
    "currency": "EUR",
    "control_share": 0.1,
    "seed": 7,
    "cooldown_days": {"email": 30},
    "consent": {"email": "email_consent", "phone": "phone_consent"},
    "catalogue": [
        {
            "name": "discount_email",
            "channel": "email",
            "cost": 1.5,
            "eligible": "clv > 5",
            "effect": {"learned": "discount_email", "purchase_lift": 0.03},
        },
        {
            "name": "retention_call",
            "channel": "phone",
            "cost": 12,
            "capacity": 60,
            "eligible": "churn_probability > 0.3 and region != 'south'",
            "effect": {"learned": "retention_call", "churn_reduction": 0.25},
        },
        {
            "name": "loyalty_points",
            "channel": "app",
            "cost": 4,
            "capacity": 150,
            "eligible": "n_orders >= 2",
            "effect": {"churn_reduction": 0.1, "value": 2.0},
        },
    ],
}


@pytest.fixture(scope="module")
def tables() -> Tables:
    return make_synthetic(4000, seed=5)[0]


@pytest.fixture(scope="module")
def fitted(tables: Tables) -> tuple[Pipeline, pd.DataFrame, pd.DataFrame]:
    pipeline = Pipeline(
        ["2023-01-01", "2023-04-01"],
        "90D",
        holdout="2023-07-01",
        features=FeatureSpec(time_unit="D", windows=(30, 90, 365)),
        actions=Catalogue.model_validate(CATALOGUE),
    ).fit(tables)
    snapshot = pipeline.snapshot(tables, AS_OF)
    scores = pipeline.score_snapshot(snapshot)
    return pipeline, snapshot, scores


def test_scores_carry_the_plan_for_every_customer_once(fitted) -> None:
    _, snapshot, scores = fitted
    assert list(scores.columns) == [*SCORE_COLUMNS, *PLAN_COLUMNS]
    assert scores["customer_id"].is_unique
    assert set(scores["customer_id"]) == set(snapshot.index)
    assert scores["action"].isin(["no_action", *[a["name"] for a in CATALOGUE["catalogue"]]]).all()


def test_budget_capacity_eligibility_consent_and_cooldown_hold(fitted) -> None:
    _, snapshot, scores = fitted
    costs = {a["name"]: a["cost"] for a in CATALOGUE["catalogue"]}
    planned = scores["planned_action"]
    assert planned.map(costs).fillna(0).sum() <= CATALOGUE["budget"] + 1e-9
    assert (planned == "retention_call").sum() <= 60
    assert (planned == "loyalty_points").sum() <= 150
    rows = snapshot.reset_index()
    email = planned == "discount_email"
    assert (scores.loc[email, "clv"] > 5).all()
    assert rows.loc[email.to_numpy(), "email_consent"].fillna(False).astype(bool).all()
    since = rows.loc[email.to_numpy(), "days_since_contact_email"]
    assert not (since < 30).any()
    call = (planned == "retention_call").to_numpy()
    assert (rows.loc[call, "region"] != "south").all()
    assert rows.loc[call, "phone_consent"].fillna(False).astype(bool).all()
    assert (scores.loc[call, "churn_probability"] > 0.3).all()
    assert (scores.loc[planned != "no_action", "expected_value"].ge(0)).all()


def test_control_group_is_seeded_withheld_and_has_its_probability(fitted) -> None:
    _, _, scores = fitted
    drawn = control_group(scores["customer_id"].to_numpy(), 0.1, 7)
    assert (scores["in_control_group"].to_numpy() == drawn).all()
    assert 0.07 < drawn.mean() < 0.13
    withheld = drawn & (scores["planned_action"] != "no_action").to_numpy()
    assert (scores.loc[withheld, "action"] == "no_action").all()
    assert (scores.loc[withheld, "expected_value"] == 0).all()
    assert np.allclose(scores.loc[withheld, "assignment_probability"], 0.1)
    treated = ~drawn & (scores["planned_action"] != "no_action").to_numpy()
    assert np.allclose(scores.loc[treated, "assignment_probability"], 0.9)
    assert scores.loc[withheld, "reason"].str.contains("control group").all()


def test_reasons_and_runner_up(fitted) -> None:
    _, _, scores = fitted
    acted = scores[scores["action"] != "no_action"]
    assert len(acted) > 0
    first = acted.iloc[0]
    assert first["reason"].startswith(f"churn risk {first['churn_probability']:.2f} x CLV")
    assert f"-> {first['action']}, " in first["reason"] and "EUR expected" in first["reason"]
    assert (acted["action_rank_2"] != acted["action"]).all()
    # The runner-up may be worth more to the customer: the budget went further elsewhere.
    none = acted["action_rank_2"] == "no_action"
    assert (acted.loc[none, "action_rank_2_value"] == 0).all()
    # Nothing allowed beside no_action: no runner-up (it read "no_action" with a NaN value)
    idle = scores[scores["planned_action"] == "no_action"]
    alone = idle["action_rank_2_value"].isna()
    assert alone.any() and idle.loc[alone, "action_rank_2"].isna().all()
    assert (idle.loc[~alone, "action_rank_2"] != "no_action").all()


def test_plan_summary_and_learned_effects(fitted) -> None:
    pipeline, _, scores = fitted
    plan = ActionPlan.from_scores(scores)
    assert pd.concat([scores.iloc[:10], scores.iloc[10:]]).attrs == scores.attrs
    totals = plan.totals
    assert totals["spend"] <= CATALOGUE["budget"]
    executed = scores[scores["action"] != "no_action"]
    assert totals["expected_value"] == pytest.approx(executed["expected_value"].sum())
    summary = plan.summary.set_index("action")
    assert summary["customers"].sum() == len(scores)
    assert (
        summary.loc["control", "customers"]
        == (scores["in_control_group"] & (scores["planned_action"] != "no_action")).sum()
    )
    assert totals["treat_none_value"] == 0
    assert "treat everyone eligible" in plan.text("EUR")
    report = pipeline.uplift_report_.set_index("action")
    assert set(report.index) == {"discount_email", "retention_call"}
    assert pipeline.plan_ is not None


def test_unknown_column_in_a_rule_names_the_action() -> None:
    tables, _ = make_synthetic(800, seed=2)
    actions = [
        *CATALOGUE["catalogue"][:2],
        dict(CATALOGUE["catalogue"][2], eligible="n_ordres > 1"),
    ]
    bad = dict(CATALOGUE, catalogue=actions)
    pipeline = Pipeline(
        ["2023-04-01"],
        "90D",
        holdout="2023-07-01",
        features=FeatureSpec(time_unit="D", windows=(30, 90)),
        actions=Catalogue.model_validate(bad),
    )
    with pytest.raises(RuleError, match=r"loyalty_points.*n_ordres"):
        pipeline.fit(tables)


def test_a_held_out_control_contact_is_not_a_contact_for_the_cool_down() -> None:
    """Customers held out of a campaign (treatment false) were blocked by the cool-down."""
    from cxml.actions.contacts import days_since_contact
    from cxml.data import Tables

    tx = pd.DataFrame(
        {"customer_id": ["x", "y", "z"], "timestamp": pd.Timestamp("2023-01-01"), "amount": 1.0}
    )
    ix = pd.DataFrame(
        {
            "customer_id": ["x", "y", "z"],
            "timestamp": pd.to_datetime(["2023-03-01", "2023-03-01", "2023-03-05"]),
            "event_type": ["campaign_contact", "campaign_contact", "email_sent"],
            "channel": ["phone", "phone", "phone"],
            "campaign_id": ["c1", "c1", None],
            "treatment": [True, False, None],
        }
    )
    since = days_since_contact(
        Tables(tx, ix), "2023-03-10", ["phone"], ["campaign_contact", "email_sent"]
    )
    assert since["days_since_contact_phone"].to_dict() == {"x": 9.0, "z": 5.0}


# --------------------------------------------------------------------------- re-planning


def replanned(**changes) -> Catalogue:
    """CATALOGUE with `changes`; ``catalogue`` maps action names to their changed fields
    (None removes the action) and may add actions."""
    actions = {a["name"]: a for a in CATALOGUE["catalogue"]}
    for name, fields in changes.pop("catalogue", {}).items():
        if fields is None:
            del actions[name]
        else:
            actions[name] = {**actions.get(name, {"name": name}), **fields}
    return Catalogue.model_validate({**CATALOGUE, **changes, "catalogue": list(actions.values())})


def spend(scores: pd.DataFrame, catalogue: Catalogue) -> float:
    costs = {a.name: a.cost for a in catalogue.catalogue}
    return float(scores["planned_action"].astype(str).map(costs).fillna(0).sum())


def test_a_fitted_pipeline_replans_under_another_budget_without_refitting(fitted) -> None:
    """A new budget needed a new fit: the pipeline planned only with its trained catalogue."""
    pipeline, snapshot, trained_scores = fitted
    catalogue = replanned(budget=300)
    scores = pipeline.with_actions(catalogue).score_snapshot(snapshot)
    assert spend(trained_scores, catalogue) > 300  # the trained plan spends more
    assert 0 < spend(scores, catalogue) <= 300
    assert scores["customer_id"].is_unique and set(scores["customer_id"]) == set(snapshot.index)
    plan = ActionPlan.from_scores(scores)
    assert plan.totals["budget"] == 300
    assert plan.replanned and plan.catalogue == catalogue
    assert scores.attrs["action_plan"]["catalogue"]["budget"] == 300
    assert "re-planned" in plan.text()
    trained = ActionPlan.from_scores(trained_scores)
    assert not trained.replanned and trained.catalogue.budget == CATALOGUE["budget"]
    assert pipeline.score_snapshot(snapshot).attrs == trained_scores.attrs  # left unchanged


def test_replanning_keeps_the_learned_effects(fitted) -> None:
    """Learned effects come from the fit: the re-planned pipeline shares them, and an
    action may keep its learned effect while its cost, channel or rule change."""
    pipeline, snapshot, _ = fitted
    catalogue = replanned(
        catalogue={"discount_email": {"cost": 0.5, "eligible": "clv > 1", "channel": "sms"}},
        cooldown_days={},
        consent={"phone": "phone_consent"},
    )
    again = pipeline.with_actions(catalogue)
    assert again.uplift_ is pipeline.uplift_ and again.churn_model_ is pipeline.churn_model_
    scores = again.score_snapshot(snapshot)
    assert (scores.loc[scores["planned_action"] == "discount_email", "clv"] > 1).all()
    email = scores["planned_action"] == "discount_email"
    assert email.sum() > (fitted[2]["planned_action"] == "discount_email").sum()


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        (
            {"catalogue": {"discount_email": {"effect": {"learned": "spring_sale"}}}},
            (
                "action 'discount_email'",
                "campaign 'spring_sale'",
                "from campaign 'discount_email'",
                "train again",
            ),
        ),
        (
            {"catalogue": {"loyalty_points": {"effect": {"learned": "loyalty_points"}}}},
            ("action 'loyalty_points'", "no learned effect for this action", "train again"),
        ),
        (
            {
                "catalogue": {
                    "retention_call": None,
                    "call": {**CATALOGUE["catalogue"][1], "name": "call"},
                }
            },
            ("action 'call'", "no learned effect for this action", "train again"),
        ),
        ({"uplift": {"learner": "t"}}, ("actions.uplift (learner t,", "learner x", "train again")),
        ({"currency": "USD"}, ("actions.currency 'USD' is not the model's 'EUR'",)),
    ],
    ids=["other-campaign", "newly-learned", "renamed", "uplift-settings", "currency"],
)
def test_replanning_refuses_to_change_what_the_model_learned(fitted, changes, fragments) -> None:
    pipeline, _, _ = fitted
    with pytest.raises(CatalogueError) as caught:
        pipeline.with_actions(replanned(**changes))
    for fragment in fragments:
        assert fragment in str(caught.value)


def test_replanning_may_drop_learned_actions_and_add_assumed_ones(fitted, tables) -> None:
    """Planning choices: a learned action removed or assumed instead, a new action on a new
    channel with its own cool-down (its contact recency comes with the snapshot)."""
    pipeline, _, _ = fitted
    catalogue = replanned(
        catalogue={
            "retention_call": None,
            "discount_email": {"effect": {"purchase_lift": 0.05}},
            "sms_nudge": {"channel": "sms", "cost": 0.2, "effect": {"purchase_lift": 0.01}},
        },
        cooldown_days={"email": 30, "sms": 7},
        consent={"email": "email_consent"},
        uplift={"learner": "t"},  # no learned effect left: the uplift settings do not matter
    )
    again = pipeline.with_actions(catalogue)
    snapshot = again.snapshot(tables, AS_OF)
    assert "days_since_contact_sms" in snapshot.columns
    scores = again.score_snapshot(snapshot)
    assert set(scores["planned_action"].astype(str)) <= {"no_action", *catalogue.names}
    assert (scores["planned_action"] == "sms_nudge").any()


def test_an_invalid_rule_is_refused_when_replanning_before_anything_is_scored(fitted) -> None:
    """Rules are checked against the model's columns and their kinds, as at fit."""
    pipeline, _, _ = fitted
    typo = replanned(catalogue={"loyalty_points": {"eligible": "n_ordres >= 2"}})
    with pytest.raises(RuleError, match=r"loyalty_points.*n_ordres"):
        pipeline.with_actions(typo)
    kinds = replanned(catalogue={"loyalty_points": {"eligible": "region > 2"}})
    with pytest.raises(RuleError, match=r"loyalty_points.*region"):
        pipeline.with_actions(kinds)
    consent = replanned(consent={"email": "sms_consent"})
    with pytest.raises(RuleError, match=r"discount_email.*'sms_consent'"):
        pipeline.with_actions(consent)


def test_the_trained_catalogue_or_none_plans_as_trained(fitted) -> None:
    """None (a config without an actions section) and the trained catalogue are the model's
    plan; an empty currency is the model's."""
    pipeline, snapshot, trained_scores = fitted
    assert pipeline.with_actions(None) is pipeline
    assert pipeline.with_actions(Catalogue.model_validate(CATALOGUE)) is pipeline
    assert pipeline.with_actions(replanned(currency="")) is pipeline
    back = pipeline.with_actions(replanned(budget=300)).with_actions(None)
    assert back.actions == pipeline.actions
    scores = back.score_snapshot(snapshot)
    assert scores.attrs == trained_scores.attrs and not scores.attrs["action_plan"]["replanned"]


def test_a_pipeline_fitted_before_replanning_existed_replans(fitted) -> None:
    """Pickles without the feature kinds and the trained catalogue: rules are checked by
    name, and the catalogue they hold is the trained one."""
    pipeline, snapshot, _ = fitted
    state = {
        k: v
        for k, v in pipeline.__dict__.items()
        if k not in ("feature_kinds_", "trained_actions_")
    }
    old = Pipeline.__new__(Pipeline)
    old.__setstate__(state)
    assert old.with_actions(Catalogue.model_validate(CATALOGUE)) is old
    scores = old.with_actions(replanned(budget=300)).score_snapshot(snapshot)
    assert spend(scores, replanned()) <= 300
    with pytest.raises(RuleError, match="n_ordres"):
        old.with_actions(replanned(catalogue={"loyalty_points": {"eligible": "n_ordres > 1"}}))


def test_a_cool_down_without_contact_recency_is_an_error_not_skipped(fitted) -> None:
    """A scoring input without days_since_contact_email planned as if nobody had been
    e-mailed: the 30-day cool-down silently did not apply."""
    pipeline, snapshot, _ = fitted
    with pytest.raises(RuleError, match=r"discount_email.*'days_since_contact_email'"):
        pipeline.score_snapshot(snapshot.drop(columns="days_since_contact_email"))


def test_replanning_takes_the_catalogue_as_a_mapping_and_refuses_other_types(fitted) -> None:
    """A dict, as written in the config, raised AttributeError: 'dict' has no 'catalogue'."""
    pipeline, snapshot, _ = fitted
    as_mapping = replanned(budget=300).model_dump()
    scores = pipeline.with_actions(as_mapping).score_snapshot(snapshot)
    assert ActionPlan.from_scores(scores).totals["budget"] == 300
    with pytest.raises(ParameterError, match="actions must be a Catalogue, a mapping or None"):
        pipeline.with_actions(as_mapping["catalogue"])
