"""The action catalogue: what the business can do, at what cost, for whom, with what effect.

It is the ``actions`` section of a project configuration (see ``docs/actions.md``)::

    actions:
      budget: 20000
      currency: EUR
      control_share: 0.1
      cooldown_days: {email: 14, phone: 60}
      consent: {email: email_consent, phone: phone_consent}
      catalogue:
        - name: retention_call
          channel: phone
          cost: 12
          capacity: 500
          eligible: churn_probability > 0.4 and clv > 50
          effect: {learned: retention_call, churn_reduction: 0.2}

"no_action" is always a candidate, at zero cost and zero value. A fitted model plans with
another catalogue without retraining (`replanning`) as long as it keeps what the model
learned: the learned effects and the uplift settings they were fitted with.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cxml.actions.rules import Kind, Rule, parse_rule
from cxml.errors import ConfigError
from cxml.fields import Float, Int

NO_ACTION = "no_action"
#: The plan summary's row of the customers held out as the control group.
CONTROL = "control"
#: Interaction event types that count as the firm contacting a customer (cool-down).
CONTACT_EVENTS = ("campaign_contact", "email_sent")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(_Section):
    """What an action does to a customer.

    Assumed effects (any combination): `churn_reduction`, a relative reduction of the churn
    probability (0.2: a customer at risk 0.5 goes to 0.4); `purchase_lift`, an absolute
    change of the probability of buying within the churn horizon; `value`, a fixed extra
    value per contact (e.g. the margin of an up-sell). `learned` names a campaign id in the
    interactions table: the retention effect is then learned from its treated and control
    contacts, and the assumed retention effect is the fallback when history is too thin.
    """

    churn_reduction: Float = Field(0.0, ge=0, le=1)
    purchase_lift: Float = Field(0.0, ge=-1, le=1)
    value: Float = 0.0
    learned: str | None = None

    @model_validator(mode="after")
    def _something(self) -> Effect:
        if not (self.churn_reduction or self.purchase_lift or self.value or self.learned):
            raise ValueError(
                "an effect needs churn_reduction, purchase_lift, value or learned (a campaign id)"
            )
        return self


class Action(_Section):
    """One action of the catalogue."""

    name: str
    channel: str = Field(min_length=1)
    cost: Float = Field(ge=0)
    capacity: Int | None = Field(None, ge=0)
    eligible: str | None = None
    effect: Effect

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ValueError("must be a letter then letters, digits or '_'")
        if value == NO_ACTION:
            raise ValueError(f"{NO_ACTION!r} is always a candidate; do not declare it")
        if value == CONTROL:
            raise ValueError(f"{CONTROL!r} names the control group in plan summaries")
        return value


class UpliftSettings(_Section):
    """How learned effects are fitted (see `cxml.actions.uplift.UpliftModel`)."""

    learner: Literal["t", "x"] = "x"
    min_contacts: Int = Field(200, ge=10)
    folds: Int = Field(3, ge=2, le=10)


class Catalogue(_Section):
    """The ``actions`` section: the actions and the rules every plan obeys."""

    catalogue: list[Action] = Field(min_length=1)
    budget: Float | None = Field(None, ge=0)
    currency: str = ""
    control_share: Float = Field(0.05, ge=0, lt=1)
    seed: Int = 0
    method: Literal["auto", "exact", "lagrangian"] = "auto"
    contact_events: list[str] = list(CONTACT_EVENTS)
    cooldown_days: dict[str, Float] = {}
    consent: dict[str, str] = {}
    uplift: UpliftSettings = UpliftSettings()

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        names = [a.name for a in self.catalogue]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"action names must be unique; repeated: {twice}")
        channels = {a.channel for a in self.catalogue}
        for key, mapping in (("cooldown_days", self.cooldown_days), ("consent", self.consent)):
            unknown = sorted(set(mapping) - channels)
            if unknown:
                raise ValueError(
                    f"{key} names channels no action uses: {unknown} (channels: {sorted(channels)})"
                )
        if any(days < 0 for days in self.cooldown_days.values()):
            raise ValueError("cooldown_days must be >= 0")
        return self

    @property
    def names(self) -> list[str]:
        """Action names in catalogue order."""
        return [a.name for a in self.catalogue]

    @property
    def learned(self) -> dict[str, str]:
        """Action name -> campaign id, for the actions whose effect is learned."""
        return {a.name: a.effect.learned for a in self.catalogue if a.effect.learned}

    def rules(self, columns: Mapping[str, Kind] | Collection[str]) -> dict[str, Rule | None]:
        """Each action's eligibility rule parsed against `columns` (RuleError if invalid)."""
        return {
            a.name: None
            if a.eligible is None
            else parse_rule(a.eligible, action=a.name, columns=columns)
            for a in self.catalogue
        }


class CatalogueError(ConfigError):
    """A catalogue cannot plan with a fitted model: it changes what the model learned (a
    learned effect or the uplift settings) or the currency its values are in. The message
    names the action or setting and says to train again."""


def replanning(catalogue: Catalogue, trained: Catalogue | None) -> Catalogue:
    """`catalogue` checked as the plan of a model trained with `trained` (None: without one).

    The plan's settings may all change — budget, capacities, costs, rules, channels,
    cool-downs, consent, control group, seed, solver, contact events, assumed effects, and
    actions added or removed — but not what the model learned: an action with
    ``effect.learned`` must be one whose effect the model learned, from the same campaign,
    and then `uplift` must be the model's. The currency is that of the model's CLV, so it
    may not change either; left empty (or spelled in other case), it is the model's.

    Raises
    ------
    CatalogueError
        A learned effect the model does not have (another campaign, a renamed action, an
        action that was assumed), other uplift settings, or another currency.
    """
    learned = {} if trained is None else trained.learned
    retrain = "learned effects are fitted by training: train again"
    for action in catalogue.catalogue:
        campaign = action.effect.learned
        if campaign is None:
            continue
        if learned.get(action.name) is None:
            known = (
                f"it learned effects for {sorted(learned)} only"
                if learned
                else "it was trained without learned effects"
            )
            raise CatalogueError(
                f"action {action.name!r}: its effect is learned from campaign {campaign!r}, "
                f"but the model has no learned effect for this action ({known}); {retrain} "
                "with this catalogue, or give the action an assumed effect"
            )
        if learned[action.name] != campaign:
            raise CatalogueError(
                f"action {action.name!r}: its effect is learned from campaign {campaign!r}, "
                f"but the model learned it from campaign {learned[action.name]!r}; {retrain} "
                "to learn from another campaign"
            )
    if trained is not None and catalogue.learned and catalogue.uplift != trained.uplift:
        raise CatalogueError(
            f"actions.uplift ({_settings(catalogue.uplift)}) differs from the settings the "
            f"model's learned effects were fitted with ({_settings(trained.uplift)}); "
            f"{retrain} to use these, or keep the model's"
        )
    if trained is None or not trained.currency or catalogue.currency == trained.currency:
        return catalogue
    if catalogue.currency.casefold() in ("", trained.currency.casefold()):
        return catalogue.model_copy(update={"currency": trained.currency})
    raise CatalogueError(
        f"actions.currency {catalogue.currency!r} is not the model's {trained.currency!r}: "
        f"the model's CLV, the value at stake, is in {trained.currency}, and costs must be "
        f"too; give the costs in {trained.currency}, or train again on data in "
        f"{catalogue.currency}"
    )


def _settings(section: BaseModel) -> str:
    return ", ".join(f"{key} {value}" for key, value in section.model_dump().items())


def contact_column(channel: str) -> str:
    """The scoring column with the days since the last contact on `channel`."""
    return f"days_since_contact_{channel}"
