"""Synthetic customer histories with a known ground truth.

`make_synthetic` simulates a non-contractual business: customers are acquired over a period,
buy as a Poisson process at a latent rate until they drop out, spend Gamma-Gamma amounts,
visit the web site and app, open e-mails, raise support tickets, answer NPS/CSAT/CES
surveys, refer others and take part in randomised campaigns. Before dropping out a customer
goes through a *fading* stage in which engagement decays, so interactions carry signal that
transactions do not. `truth` holds the latent state, and `oracle_churn_probability` /
`oracle_expected_value` give the Bayes-optimal predictions of an observer who knows it, so
models can be compared with the best achievable.

Everything is vectorised with numpy (no per-customer loops). The generative process, with
every formula and default, is documented in ``docs/synthetic.md``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from cxml.data import Tables

DAY_SECONDS = 86_400
#: Bits for the seconds part of a (customer, second) sort key: 2**36 s is ~2,000 years.
_SEC_BITS = 36

REGIONS = ("north", "south", "east", "west")
REGION_SHARE = (0.30, 0.25, 0.25, 0.20)
REGION_QUALITY = (0.20, -0.25, 0.0, 0.10)  # shift of service quality
REGION_RETAIN = (0.10, 0.0, 0.0, 0.0)  # shift of a retention call's effect

ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "store")
ACQUISITION_SHARE = (0.35, 0.25, 0.15, 0.10, 0.15)
ACQUISITION_RATE = (0.0, -0.15, -0.25, 0.25, 0.10)  # log purchase-rate shift
ACQUISITION_HAZARD = (0.0, 0.25, 0.35, -0.30, -0.15)  # log dropout-hazard shift
ACQUISITION_BOOST = (0.0, 0.30, 0.40, -0.20, -0.40)  # log discount-sensitivity shift

CATEGORIES = ("apparel", "electronics", "home", "beauty", "books", "grocery")
CATEGORY_SHARE = (0.25, 0.10, 0.20, 0.15, 0.10, 0.20)
SALES_CHANNELS = ("web", "app", "store")
INTERACTION_CHANNELS = ("web", "app", "email", "phone", "chat")
EVENTS = (
    "web_visit",
    "app_visit",
    "email_sent",
    "email_open",
    "email_click",
    "support_ticket",
    "nps",
    "csat",
    "ces",
    "referral",
    "campaign_contact",
    "cancellation",
)

_AGE_MEAN, _AGE_SD = 45.0, 15.0
_STREAMS = (
    "customers",
    "latents",
    "campaigns",
    "tickets",
    "dropout",
    "orders",
    "lines",
    "returns",
    "visits",
    "emails",
    "surveys",
    "referrals",
)


@dataclass(frozen=True)
class CampaignWave:
    """A past campaign wave with a randomised holdout and a true heterogeneous effect.

    Parameters
    ----------
    campaign_id
        Name written to ``interactions.campaign_id`` and used in the ``truth`` columns.
    kind
        ``"boost"``: treated customers buy at ``(1 + effect_i)`` times their rate for
        `window_days`. ``"retain"``: treated customers' hazard of starting to fade is
        multiplied by ``(1 - effect_i)`` for `window_days`, and a treated customer already
        fading at contact is won back with probability ``max(effect_i, 0)``.
    channel
        ``"email"`` or ``"phone"``; only customers with that consent are eligible.
    at
        When the wave is sent, as a fraction of the simulated period (09:00 that day).
    effect
        The effect of a reference customer; ``effect_i`` varies with observable attributes.
    window_days
        How long the effect lasts.
    contact_share, treated_share
        Share of eligible customers assigned to the wave, and share of those treated.
    """

    campaign_id: str
    kind: Literal["boost", "retain"]
    channel: Literal["email", "phone"]
    at: float
    effect: float
    window_days: float
    contact_share: float = 0.5
    treated_share: float = 0.5


DEFAULT_CAMPAIGNS: tuple[CampaignWave, ...] = (
    CampaignWave("discount_email", "boost", "email", at=0.45, effect=1.0, window_days=30.0),
    CampaignWave("retention_call", "retain", "phone", at=0.65, effect=0.3, window_days=90.0),
)


@dataclass(frozen=True)
class SyntheticParams:
    """Knobs of the generative process; rates are for a *reference customer* (organic
    acquisition, age 45, service quality 0, median latent noise). See docs/synthetic.md."""

    # purchases and spend
    purchases_per_year: float = 6.0
    purchase_rate_shape: float = 1.5  # Gamma shape r of the purchase-rate heterogeneity
    spend_mean: float = 50.0  # population mean order value (Gamma-Gamma)
    order_value_shape: float = 6.0  # Gamma-Gamma p
    spend_level_shape: float = 4.0  # Gamma-Gamma q (> 1)
    lines_per_order: float = 1.4  # mean order lines, 1 + Poisson, at most len(CATEGORIES)
    return_prob: float = 0.05
    discount_prob: float = 0.15
    campaign_discount: float = 0.15
    # lifetime
    base_hazard_per_year: float = 0.35
    hazard_sd: float = 0.3  # sd of unobserved log-hazard heterogeneity
    quality_on_hazard: float = 0.5
    fading_days: float = 45.0  # mean length of the fading stage before dropout
    engagement_fade_days: float = 21.0  # e-folding time of engagement while fading
    # service experience
    tickets_per_year: float = 1.0
    quality_on_tickets: float = 0.7
    severity_shape: float = 2.0
    severity_scale: float = 0.75
    trigger_strength: float = 0.1  # P(ticket starts fading) = 1 - exp(-strength * severity)
    survey_prob: float = 0.2  # NPS or CSAT survey answered after an order
    ces_prob: float = 0.5  # CES survey answered after a ticket
    fading_survey_shift: float = 1.0
    referrals_per_year: float = 0.3
    cancellations: bool = False  # contractual: a "cancellation" event at each dropout
    # engagement
    visits_per_year: float = 12.0
    email_interval_days: float = 30.0
    email_open_prob: float = 0.3
    email_click_prob: float = 0.2
    email_consent_prob: float = 0.7
    phone_consent_prob: float = 0.4
    # campaigns
    campaigns: tuple[CampaignWave, ...] = DEFAULT_CAMPAIGNS
    min_tenure_days: float = 30.0  # eligibility: acquired at least this long before a wave
    uplift_horizon_days: float = 90.0
    attribute_effect_scale: float = 1.0  # 0 makes latents independent of attributes

    def __post_init__(self) -> None:
        positive = (
            "purchases_per_year",
            "purchase_rate_shape",
            "spend_mean",
            "order_value_shape",
            "base_hazard_per_year",
            "fading_days",
            "engagement_fade_days",
            "severity_shape",
            "severity_scale",
            "email_interval_days",
            "uplift_horizon_days",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"SyntheticParams.{name} must be > 0, got {getattr(self, name)}")
        nonnegative = (
            "hazard_sd",
            "tickets_per_year",
            "trigger_strength",
            "visits_per_year",
            "referrals_per_year",
            "min_tenure_days",
        )
        for name in nonnegative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"SyntheticParams.{name} must be >= 0, got {getattr(self, name)}")
        probabilities = (
            "return_prob",
            "discount_prob",
            "survey_prob",
            "ces_prob",
            "email_open_prob",
            "email_click_prob",
            "email_consent_prob",
            "phone_consent_prob",
        )
        for name in probabilities:
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(
                    f"SyntheticParams.{name} must lie in [0, 1], got {getattr(self, name)}"
                )
        if not 0 < self.email_open_prob < 1 or not 0 < self.email_click_prob < 1:
            raise ValueError("email_open_prob and email_click_prob must lie strictly in (0, 1)")
        if not 0 <= self.campaign_discount < 1:
            raise ValueError("SyntheticParams.campaign_discount must lie in [0, 1)")
        if self.spend_level_shape <= 1:
            raise ValueError("SyntheticParams.spend_level_shape must be > 1 (finite mean spend)")
        if not 1 <= self.lines_per_order <= len(CATEGORIES):
            raise ValueError(f"lines_per_order must lie in [1, {len(CATEGORIES)}]")
        ids = [w.campaign_id for w in self.campaigns]
        if len(set(ids)) != len(ids):
            raise ValueError(f"campaign ids must be unique, got {ids}")
        for w in self.campaigns:
            if w.kind not in ("boost", "retain") or w.channel not in ("email", "phone"):
                raise ValueError(
                    f"campaign {w.campaign_id!r}: kind must be 'boost' or 'retain' "
                    "and channel 'email' or 'phone'"
                )
            if not (
                0 < w.at < 1
                and w.window_days > 0
                and 0 <= w.contact_share <= 1
                and 0 <= w.treated_share <= 1
            ):
                raise ValueError(
                    f"campaign {w.campaign_id!r}: need 0 < at < 1, "
                    "window_days > 0 and shares in [0, 1]"
                )
            if w.kind == "boost" and w.effect < 0:
                raise ValueError(f"campaign {w.campaign_id!r}: a boost effect must be >= 0")


# --------------------------------------------------------------------------- public API


def make_synthetic(
    n_customers: int = 5000,
    seed: int = 0,
    *,
    start: Any = "2022-01-01",
    end: Any = "2024-01-01",
    with_interactions: bool = True,
    with_customers: bool = True,
    with_campaigns: bool = True,
    with_order_id: bool = True,
    params: SyntheticParams | None = None,
    connection: Any = None,
    **overrides: Any,
) -> tuple[Tables, pd.DataFrame]:
    """Simulated, validated `Tables` and the ground truth per customer.

    Parameters
    ----------
    n_customers, seed
        Population size; the same seed gives the same data.
    start, end
        The simulated period ``[start, end)``; customers are acquired uniformly within it.
    with_interactions, with_customers, with_campaigns, with_order_id
        Which tables, campaigns and columns to produce. Leaving out interactions or
        customers does not change the other tables (each part has its own random stream);
        leaving out campaigns does, since campaigns change behaviour.
    params, **overrides
        A `SyntheticParams`, and/or any of its fields by keyword
        (e.g. ``purchases_per_year=8``).
    connection
        The engine the `Tables` run on (see `Tables`); default in-memory DuckDB.

    Returns
    -------
    tables : Tables
    truth : pandas.DataFrame
        Latent state per customer, indexed by ``customer_id`` (see docs/synthetic.md).
    """
    frames, truth = make_synthetic_frames(
        n_customers,
        seed,
        start=start,
        end=end,
        with_interactions=with_interactions,
        with_customers=with_customers,
        with_campaigns=with_campaigns,
        with_order_id=with_order_id,
        params=params,
        **overrides,
    )
    meta = truth.attrs["synthetic"]
    tables = Tables(
        frames["transactions"],
        frames.get("interactions"),
        frames.get("customers"),
        plausible_range=(meta["start"], meta["end"] + pd.Timedelta(days=1)),
        connection=connection,
    )
    return tables, truth


def make_synthetic_frames(
    n_customers: int = 5000,
    seed: int = 0,
    *,
    start: Any = "2022-01-01",
    end: Any = "2024-01-01",
    with_interactions: bool = True,
    with_customers: bool = True,
    with_campaigns: bool = True,
    with_order_id: bool = True,
    params: SyntheticParams | None = None,
    **overrides: Any,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Like `make_synthetic`, but the raw canonical pandas frames, unvalidated.

    Returns
    -------
    frames : dict of str to pandas.DataFrame
        ``"transactions"`` and, when asked for, ``"interactions"`` and ``"customers"``, with
        canonical column names; sorted by customer and time.
    truth : pandas.DataFrame
        As in `make_synthetic`.
    """
    p = dataclasses.replace(params or SyntheticParams(), **overrides)
    if not with_campaigns:
        p = dataclasses.replace(p, campaigns=())
    n = int(n_customers)
    if n < 1 or n >= 2 ** (63 - _SEC_BITS - 1):
        raise ValueError(f"n_customers must lie in [1, {2 ** (63 - _SEC_BITS - 1) - 1}], got {n}")
    t0, t1 = _as_timestamp(start), _as_timestamp(end)
    if t1 <= t0:
        raise ValueError(f"end ({t1}) must be after start ({t0})")
    horizon = (t1 - t0) / pd.Timedelta(days=1)
    streams = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, streams, strict=True)}

    pop = _draw_population(rng["customers"], rng["latents"], n, horizon, p)
    waves = _assign_campaigns(rng["campaigns"], pop, horizon, p)
    tickets = _draw_tickets(rng["tickets"], pop, horizon, p)
    life = _draw_lifetimes(rng["dropout"], pop, tickets, waves, horizon, p)
    uplift = [_true_uplift(pop, life, waves, i, p) for i in range(len(waves))]

    frames: dict[str, pd.DataFrame] = {}
    orders = _draw_orders(rng["orders"], pop, life, waves, horizon, p)
    frames["transactions"] = _transactions_frame(
        rng["lines"], rng["returns"], pop, life, orders, horizon, t0, p, with_order_id
    )
    if with_interactions:
        frames["interactions"] = _interactions_frame(
            rng, pop, life, tickets, orders, waves, horizon, t0, p
        )
    if with_customers:
        frames["customers"] = _customers_frame(pop, t0)
    truth = _truth_frame(pop, life, waves, uplift, t0, t1, horizon, p)
    return frames, truth


def oracle_state(truth: pd.DataFrame, cutoff: Any) -> pd.Series:
    """Each customer's latent state just before `cutoff`.

    One of ``"not_acquired"`` (signed up at or after the cut-off), ``"active"``, ``"fading"``
    (alive, engagement decaying, dropout to come) or ``"dropped"``.
    """
    meta, t = _oracle_meta(truth, cutoff)
    state = _state_from_truth(truth, meta, t)
    labels = np.array(["not_acquired", "active", "fading", "dropped"])
    return pd.Series(
        pd.Categorical(labels[state], categories=labels), index=truth.index, name="state"
    )


def oracle_churn_probability(
    truth: pd.DataFrame, cutoff: Any, horizon_days: float = 90.0
) -> pd.Series:
    """P(no purchase in ``[cutoff, cutoff + horizon_days)``) given the true latent state.

    The Bayes-optimal churn prediction: it knows whether each customer is active, fading or
    gone at the cut-off, their purchase rate and hazards, and the campaign schedule, but not
    the future draws. NaN for customers acquired at or after the cut-off.
    """
    no_purchase, _ = _oracle(truth, cutoff, horizon_days)
    return pd.Series(no_purchase, index=truth.index, name="oracle_churn_probability")


def oracle_expected_purchases(
    truth: pd.DataFrame, cutoff: Any, horizon_days: float = 90.0
) -> pd.Series:
    """Expected number of orders in ``[cutoff, cutoff + horizon_days)`` given the latent state."""
    _, expected = _oracle(truth, cutoff, horizon_days)
    return pd.Series(expected, index=truth.index, name="oracle_expected_purchases")


def oracle_expected_value(
    truth: pd.DataFrame, cutoff: Any, horizon_days: float = 90.0
) -> pd.Series:
    """Expected purchase value (sum of non-return ``amount``) in the window, given the
    latent state: ``spend_mean`` times `oracle_expected_purchases`."""
    _, expected = _oracle(truth, cutoff, horizon_days)
    return pd.Series(
        expected * truth["spend_mean"].to_numpy(), index=truth.index, name="oracle_expected_value"
    )


# --------------------------------------------------------------------------- population


@dataclass
class _Population:
    """Attributes and latent traits, one array entry per customer (index = customer_id - 1)."""

    signup: np.ndarray  # days since start
    region: np.ndarray
    acquisition: np.ndarray
    age: np.ndarray
    email_consent: np.ndarray
    phone_consent: np.ndarray
    rate: np.ndarray  # purchases per day while alive
    spend_mean: np.ndarray
    quality: np.ndarray
    base_hazard: np.ndarray  # per day
    ticket_rate: np.ndarray  # per day
    severity_scale: np.ndarray
    trigger_prob: np.ndarray  # mean P(a ticket starts fading)
    visit_rate: np.ndarray  # per day
    app_share: np.ndarray
    open_prob: np.ndarray
    click_prob: np.ndarray
    referral_rate: np.ndarray  # per day
    favourite_category: np.ndarray
    favourite_channel: np.ndarray

    @property
    def n(self) -> int:
        return len(self.signup)

    @property
    def fading_hazard(self) -> np.ndarray:
        """Hazard of starting to fade: baseline plus ticket-triggered, per day."""
        return self.base_hazard + self.ticket_rate * self.trigger_prob

    @property
    def z_age(self) -> np.ndarray:
        return (self.age - _AGE_MEAN) / _AGE_SD


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def _draw_population(
    rng_c: np.random.Generator,
    rng_l: np.random.Generator,
    n: int,
    horizon: float,
    p: SyntheticParams,
) -> _Population:
    s = p.attribute_effect_scale
    signup = rng_c.uniform(0.0, horizon, n)
    region = rng_c.choice(len(REGIONS), n, p=REGION_SHARE).astype(np.int8)
    acquisition = rng_c.choice(len(ACQUISITION_CHANNELS), n, p=ACQUISITION_SHARE).astype(np.int8)
    age = np.clip(np.rint(rng_c.normal(_AGE_MEAN, _AGE_SD, n)), 18, 90)
    email_consent = rng_c.random(n) < p.email_consent_prob
    phone_consent = rng_c.random(n) < p.phone_consent_prob
    z_age = (age - _AGE_MEAN) / _AGE_SD

    quality = s * np.take(REGION_QUALITY, region) + rng_l.standard_normal(n)
    heterogeneity = rng_l.gamma(p.purchase_rate_shape, 1.0 / p.purchase_rate_shape, n)
    rate_ref = p.purchases_per_year / 365.0
    rate = (
        rate_ref
        * heterogeneity
        * np.exp(s * (np.take(ACQUISITION_RATE, acquisition) + 0.15 * z_age))
    )
    gg_rate = p.spend_mean * (p.spend_level_shape - 1.0) / p.order_value_shape
    spend_mean = p.order_value_shape / rng_l.gamma(p.spend_level_shape, 1.0 / gg_rate, n)
    base_hazard = (
        p.base_hazard_per_year
        / 365.0
        * np.exp(
            -p.quality_on_hazard * quality
            + s * (np.take(ACQUISITION_HAZARD, acquisition) - 0.1 * z_age)
            + p.hazard_sd * rng_l.standard_normal(n)
        )
    )
    ticket_rate = p.tickets_per_year / 365.0 * np.exp(-p.quality_on_tickets * quality)
    severity_scale = p.severity_scale * np.exp(-0.4 * quality)
    trigger_prob = 1.0 - (1.0 + p.trigger_strength * severity_scale) ** (-p.severity_shape)
    visit_rate = p.visits_per_year / 365.0 * np.sqrt(rate / rate_ref) * rng_l.gamma(2.0, 0.5, n)
    app_share = _sigmoid(-0.3 - 0.8 * s * z_age)
    open_prob = _sigmoid(
        _logit(p.email_open_prob) + 0.3 * s * z_age + 0.8 * rng_l.standard_normal(n)
    )
    click_prob = _sigmoid(_logit(p.email_click_prob) + 0.5 * rng_l.standard_normal(n))
    referral_rate = p.referrals_per_year / 365.0 * np.exp(0.8 * quality)
    favourite_category = rng_l.choice(len(CATEGORIES), n, p=CATEGORY_SHARE).astype(np.int8)
    store = ACQUISITION_CHANNELS.index("store")
    favourite_channel = np.where(
        acquisition == store, 2, (rng_l.random(n) < app_share).astype(np.int8)
    ).astype(np.int8)
    return _Population(
        signup,
        region,
        acquisition,
        age,
        email_consent,
        phone_consent,
        rate,
        spend_mean,
        quality,
        base_hazard,
        ticket_rate,
        severity_scale,
        trigger_prob,
        visit_rate,
        app_share,
        open_prob,
        click_prob,
        referral_rate,
        favourite_category,
        favourite_channel,
    )


# --------------------------------------------------------------------------- campaigns


@dataclass
class _Wave:
    """A campaign wave resolved for this population."""

    spec: CampaignWave
    time: float  # days since start
    contacted: np.ndarray
    treated: np.ndarray
    effect: np.ndarray  # per customer, defined for everyone

    @property
    def stop(self) -> float:
        return self.time + self.spec.window_days


def _wave_effect(spec: CampaignWave, pop: _Population, scale: float) -> np.ndarray:
    if spec.kind == "boost":
        return spec.effect * np.exp(
            scale * (-0.5 * pop.z_age + np.take(ACQUISITION_BOOST, pop.acquisition))
        )
    return np.clip(
        spec.effect * (1.0 + scale * pop.z_age) + scale * np.take(REGION_RETAIN, pop.region),
        -0.3,
        0.8,
    )


def _assign_campaigns(
    rng: np.random.Generator, pop: _Population, horizon: float, p: SyntheticParams
) -> list[_Wave]:
    waves = []
    for spec in sorted(p.campaigns, key=lambda w: w.at):
        time = np.floor(spec.at * horizon) + 9.0 / 24.0
        consent = pop.email_consent if spec.channel == "email" else pop.phone_consent
        eligible = consent & (pop.signup <= time - p.min_tenure_days)
        contacted = eligible & (rng.random(pop.n) < spec.contact_share)
        treated = contacted & (rng.random(pop.n) < spec.treated_share)
        waves.append(
            _Wave(
                spec,
                float(time),
                contacted,
                treated,
                _wave_effect(spec, pop, p.attribute_effect_scale),
            )
        )
    return waves


def _hazard_segments(
    waves: Sequence[_Wave], n: int, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """Global breakpoints in [0, horizon] and each customer's hazard multiplier per segment."""
    cuts = {0.0, horizon}
    for w in waves:
        if w.spec.kind == "retain":
            cuts.update(x for x in (w.time, w.stop) if 0.0 < x < horizon)
    bounds = np.array(sorted(cuts))
    multiplier = np.ones((n, len(bounds) - 1))
    for k, lo in enumerate(bounds[:-1]):
        for w in waves:
            if w.spec.kind == "retain" and w.time <= lo < w.stop:
                multiplier[:, k] *= np.where(w.treated, 1.0 - w.effect, 1.0)
    return bounds, multiplier


# --------------------------------------------------------------------------- lifetimes


@dataclass
class _Tickets:
    """The potential support-ticket process over [signup, end), as if everyone stayed."""

    owner: np.ndarray
    time: np.ndarray
    severity: np.ndarray
    trigger_draw: np.ndarray  # uniform; the ticket starts fading if below its trigger prob


def _draw_tickets(
    rng: np.random.Generator, pop: _Population, horizon: float, p: SyntheticParams
) -> _Tickets:
    owner, time = _poisson_process(
        rng, np.arange(pop.n), pop.signup, np.full(pop.n, horizon), pop.ticket_rate
    )
    severity = rng.gamma(p.severity_shape, 1.0, len(owner)) * pop.severity_scale[owner]
    return _Tickets(owner, time, severity, rng.random(len(owner)))


@dataclass
class _Lifetimes:
    """Fading start and dropout per customer (inf = not before the end) and history."""

    fading: np.ndarray
    dropout: np.ndarray
    episodes: list[tuple[np.ndarray, np.ndarray]]  # fading spells [start, stop), inf = none
    state_at_wave: list[np.ndarray]  # 0 not acquired, 1 active, 2 fading, 3 dropped
    won_back: dict[str, np.ndarray]
    winback_fading_start: dict[str, np.ndarray]

    def active_until(self, horizon: float) -> np.ndarray:
        return np.minimum(self.dropout, horizon)


def _first_passage(
    start: np.ndarray,
    budget: np.ndarray,
    hazard: np.ndarray,
    bounds: np.ndarray,
    multiplier: np.ndarray,
) -> np.ndarray:
    """First time after `start` at which the piecewise-constant cumulative hazard reaches
    `budget` (an Exp(1) draw); inf if not before the last bound."""
    out = np.full(len(start), np.inf)
    spent = np.zeros(len(start))
    for k in range(len(bounds) - 1):
        lo = np.maximum(bounds[k], start)
        length = np.maximum(bounds[k + 1] - lo, 0.0)
        level = hazard * multiplier[:, k]
        step = level * length
        hit = np.isinf(out) & (length > 0) & (spent + step >= budget)
        out[hit] = lo[hit] + (budget[hit] - spent[hit]) / level[hit]
        spent += step
    return out


def _first_trigger(
    tickets: _Tickets, triggered: np.ndarray, after: np.ndarray, n: int
) -> np.ndarray:
    """Per customer, the first triggering ticket strictly after `after` (inf if none)."""
    candidate = np.where(triggered & (tickets.time > after[tickets.owner]), tickets.time, np.inf)
    out = np.full(n, np.inf)
    if len(candidate):
        starts = np.flatnonzero(np.r_[True, tickets.owner[1:] != tickets.owner[:-1]])
        out[tickets.owner[starts]] = np.minimum.reduceat(candidate, starts)
    return out


def _state(
    signup: np.ndarray,
    fading: np.ndarray,
    dropout: np.ndarray,
    episodes: Sequence[tuple[np.ndarray, np.ndarray]],
    t: float,
) -> np.ndarray:
    """0 not acquired, 1 active, 2 fading, 3 dropped, at time t (spells are [start, stop))."""
    in_spell = np.zeros(len(signup), dtype=bool)
    for lo, hi in episodes:
        in_spell |= (lo <= t) & (t < hi)
    state = np.where(dropout <= t, 3, np.where(in_spell | (fading <= t), 2, 1))
    return np.where(signup >= t, 0, state).astype(np.int8)


def _draw_lifetimes(
    rng: np.random.Generator,
    pop: _Population,
    tickets: _Tickets,
    waves: Sequence[_Wave],
    horizon: float,
    p: SyntheticParams,
) -> _Lifetimes:
    bounds, multiplier = _hazard_segments(waves, pop.n, horizon)
    # Campaigns act on the base hazard only, so ticket triggers stay valid probabilities.
    triggered = tickets.trigger_draw < 1.0 - np.exp(-p.trigger_strength * tickets.severity)

    def fading_after(start: np.ndarray, who: np.ndarray) -> np.ndarray:
        base = _first_passage(
            start, rng.exponential(1.0, len(who)), pop.base_hazard[who], bounds, multiplier[who]
        )
        first = _first_trigger(tickets, triggered, _spread(start, who, pop.n), pop.n)[who]
        out = np.minimum(base, first)
        return np.where(out < horizon, out, np.inf)

    everyone = np.arange(pop.n)
    fading = fading_after(pop.signup, everyone)
    dropout = fading + rng.exponential(p.fading_days, pop.n)
    episodes: list[tuple[np.ndarray, np.ndarray]] = []
    states, won_back, winback_start = [], {}, {}
    for w in waves:
        state = _state(pop.signup, fading, dropout, episodes, w.time)
        states.append(state)
        if w.spec.kind != "retain":
            continue
        won = (state == 2) & w.treated & (rng.random(pop.n) < np.maximum(w.effect, 0.0))
        who = np.flatnonzero(won)
        start = np.where(won, fading, np.inf)
        episodes.append((start, np.where(won, w.time, np.inf)))
        won_back[w.spec.campaign_id], winback_start[w.spec.campaign_id] = won, start
        fading[who] = fading_after(np.full(len(who), w.time), who)
        dropout[who] = fading[who] + rng.exponential(p.fading_days, len(who))
    episodes.append((fading, dropout))
    return _Lifetimes(fading, dropout, episodes, states, won_back, winback_start)


def _spread(values: np.ndarray, who: np.ndarray, n: int) -> np.ndarray:
    """A length-n array holding `values` at positions `who` and +inf elsewhere."""
    out = np.full(n, np.inf)
    out[who] = values
    return out


# --------------------------------------------------------------------------- oracle


def _phi(x: np.ndarray) -> np.ndarray:
    """(1 - exp(-x)) / x, continuous at 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(x) > 1e-10, -np.expm1(-x) / x, 1.0 - x / 2.0)


def _segment(
    a: np.ndarray, b: np.ndarray, ka: np.ndarray, kb: np.ndarray, eta: np.ndarray, length: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Solve a' = -ka a, b' = eta a - kb b over `length`; return the integrals of a and b
    over the segment and their end values."""
    ea, eb = np.exp(-ka * length), np.exp(-kb * length)
    delta = kb - ka
    ia, ib = length * _phi(ka * length), length * _phi(kb * length)
    with np.errstate(divide="ignore", invalid="ignore"):
        close = np.abs(delta) * length < 1e-6
        safe = np.where(close, 1.0, delta)
        cross = np.where(close, length * ea, (ea - eb) / safe)
        x = ka * length
        limit = np.where(x > 1e-4, -np.expm1(-x) - x * ea, x * x / 2.0) / np.where(
            ka > 0, ka * ka, 1.0
        )
        limit = np.where(ka > 0, limit, length * length / 2.0)
        cross_integral = np.where(close, limit, (ia - ib) / safe)
    return a * ia, b * ib + eta * a * cross_integral, a * ea, b * eb + eta * a * cross


def _propagate(
    t: float,
    horizon: float,
    active: np.ndarray,
    fading: np.ndarray,
    rate: np.ndarray,
    base_hazard: np.ndarray,
    trigger_hazard: np.ndarray,
    fading_days: float,
    waves: Sequence[tuple[str, float, float, np.ndarray, np.ndarray]],
    transfer_at_start: bool,
    with_expected: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """P(no purchase in [t, t + horizon)) and expected purchases, by solving the
    active -> fading -> dropped chain exactly between campaign breakpoints.

    `waves` holds (kind, time, window_days, treated, effect) per campaign wave.
    """
    mu = 1.0 / fading_days
    stop = t + horizon
    cuts = {t, stop}
    for _, time, window, _, _ in waves:
        cuts.update(x for x in (time, time + window) if t < x < stop)
    bounds = sorted(cuts)
    a, b = active.astype(float), fading.astype(float)  # in state and no purchase yet
    pa, pb = a.copy(), b.copy()  # in state
    purchased = np.zeros(len(a))
    expected = np.zeros(len(a))
    for lo, hi in itertools.pairwise(bounds):
        lam, base = rate.copy(), base_hazard.copy()
        for kind, time, window, treated, effect in waves:
            if kind == "retain" and time == lo and (lo > t or transfer_at_start):
                back = treated * np.maximum(effect, 0.0)
                a, b = a + back * b, b - back * b
                pa, pb = pa + back * pb, pb - back * pb
            if time <= lo < time + window:
                if kind == "boost":
                    lam = lam + rate * treated * effect
                else:
                    base = base * (1.0 - treated * effect)
        eta = base + trigger_hazard
        ia, ib, a, b = _segment(a, b, lam + eta, lam + mu, eta, hi - lo)
        purchased += lam * (ia + ib)
        if with_expected:
            ja, jb, pa, pb = _segment(pa, pb, eta, np.full_like(eta, mu), eta, hi - lo)
            expected += lam * (ja + jb)
    return np.clip(1.0 - purchased, 0.0, 1.0), expected


def _true_uplift(
    pop: _Population, life: _Lifetimes, waves: Sequence[_Wave], i: int, p: SyntheticParams
) -> np.ndarray:
    """Change in P(purchase in the uplift horizon after wave i) from treating, given the
    latent state at contact; NaN for customers not acquired by then."""
    state = life.state_at_wave[i]
    out = []
    for assigned in (True, False):
        specs = [
            (
                w.spec.kind,
                w.time,
                w.spec.window_days,
                np.full(pop.n, assigned) if j == i else w.treated,
                w.effect,
            )
            for j, w in enumerate(waves)
        ]
        no_purchase, _ = _propagate(
            waves[i].time,
            p.uplift_horizon_days,
            state == 1,
            state == 2,
            pop.rate,
            pop.base_hazard,
            pop.ticket_rate * pop.trigger_prob,
            p.fading_days,
            specs,
            transfer_at_start=True,
            with_expected=False,
        )
        out.append(no_purchase)
    return np.where(state == 0, np.nan, out[1] - out[0])


def _oracle_meta(truth: pd.DataFrame, cutoff: Any) -> tuple[dict[str, Any], float]:
    meta = truth.attrs.get("synthetic")
    if meta is None:
        raise ValueError(
            "`truth` lacks attrs['synthetic']; pass the frame returned by "
            "make_synthetic (pandas may drop attrs, e.g. in concat)"
        )
    cut = _as_timestamp(cutoff)
    if not meta["start"] <= cut <= meta["end"]:
        raise ValueError(
            f"cutoff {cut} lies outside the simulated period [{meta['start']}, {meta['end']}]"
        )
    return meta, (cut - meta["start"]) / pd.Timedelta(days=1)


def _days(truth: pd.DataFrame, column: str, start: pd.Timestamp) -> np.ndarray:
    days = ((truth[column] - start) / pd.Timedelta(days=1)).to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.isnan(days), np.inf, days)


def _state_from_truth(truth: pd.DataFrame, meta: dict[str, Any], t: float) -> np.ndarray:
    start = meta["start"]
    episodes = []
    for w in meta["campaigns"]:
        if w["kind"] == "retain":
            lo = _days(truth, f"winback_fading_start_{w['campaign_id']}", start)
            episodes.append((lo, np.where(np.isinf(lo), np.inf, w["time"])))
    return _state(
        _days(truth, "signup_time", start),
        _days(truth, "fading_start", start),
        _days(truth, "dropout_time", start),
        episodes,
        t,
    )


def _oracle(truth: pd.DataFrame, cutoff: Any, horizon_days: float) -> tuple[np.ndarray, np.ndarray]:
    if not horizon_days > 0:
        raise ValueError(f"horizon_days must be > 0, got {horizon_days}")
    meta, t = _oracle_meta(truth, cutoff)
    state = _state_from_truth(truth, meta, t)
    specs = [
        (
            w["kind"],
            w["time"],
            w["window_days"],
            truth[f"treated_{w['campaign_id']}"].fillna(False).to_numpy(dtype=float),
            truth[f"effect_{w['campaign_id']}"].to_numpy(dtype=float),
        )
        for w in meta["campaigns"]
    ]

    def values(column: str) -> np.ndarray:
        return truth[column].to_numpy(dtype=float)

    no_purchase, expected = _propagate(
        t,
        float(horizon_days),
        state == 1,
        state == 2,
        values("purchase_rate"),
        values("base_hazard"),
        values("ticket_rate") * values("ticket_trigger_prob"),
        meta["fading_days"],
        specs,
        transfer_at_start=False,
    )
    missing = state == 0
    return np.where(missing, np.nan, no_purchase), np.where(missing, np.nan, expected)


# --------------------------------------------------------------------------- events


def _poisson_process(
    rng: np.random.Generator, owner: np.ndarray, lo: np.ndarray, hi: np.ndarray, rate: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous Poisson events on [lo, hi) per owner: (owner per event, time), grouped by
    owner in input order."""
    length = np.maximum(hi - lo, 0.0)
    count = rng.poisson(rate * length)
    times = np.repeat(lo, count) + rng.random(int(count.sum())) * np.repeat(length, count)
    return np.repeat(owner, count), times


def _rank_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within consecutive groups of the given sizes."""
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _unique_seconds(owner: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort events by owner and time; return (order, whole seconds since start) with the
    seconds made strictly increasing within each owner, so no two rows coincide."""
    sec = np.floor(days * DAY_SECONDS).astype(np.int64)
    high = owner.astype(np.int64) << _SEC_BITS
    order = np.argsort(high | sec, kind="stable")
    high, sec = high[order], sec[order]
    counts = np.diff(np.r_[np.flatnonzero(np.r_[True, high[1:] != high[:-1]]), len(high)])
    rank = _rank_in_group(counts)
    offset = np.int64(1) << (_SEC_BITS - 1)
    shifted = np.maximum.accumulate(high + (sec - rank + offset))
    return order, shifted - high - offset + rank


def _fading_multiplier(
    life: _Lifetimes, owner: np.ndarray, t: np.ndarray, fade_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """(in a fading spell, engagement multiplier exp(-time in spell / fade_days))."""
    fading = np.zeros(len(t), dtype=bool)
    multiplier = np.ones(len(t))
    for lo, hi in life.episodes:
        start = lo[owner]
        inside = (start <= t) & (t < hi[owner])
        fading |= inside
        multiplier[inside] = np.exp(-(t[inside] - start[inside]) / fade_days)
    return fading, multiplier


@dataclass
class _Orders:
    owner: np.ndarray
    time: np.ndarray  # days since start
    seconds: np.ndarray
    in_campaign: np.ndarray


def _draw_orders(
    rng: np.random.Generator,
    pop: _Population,
    life: _Lifetimes,
    waves: Sequence[_Wave],
    horizon: float,
    p: SyntheticParams,
) -> _Orders:
    until = life.active_until(horizon)
    everyone = np.arange(pop.n)
    owners, times = [everyone], [pop.signup]
    repeat = _poisson_process(rng, everyone, pop.signup, until, pop.rate)
    owners.append(repeat[0])
    times.append(repeat[1])
    for w in waves:
        if w.spec.kind != "boost":
            continue
        who = np.flatnonzero(w.treated & (w.time < until))
        extra = _poisson_process(
            rng,
            who,
            np.full(len(who), w.time),
            np.minimum(w.stop, until[who]),
            pop.rate[who] * w.effect[who],
        )
        owners.append(extra[0])
        times.append(extra[1])
    owner, time = np.concatenate(owners), np.concatenate(times)
    order, seconds = _unique_seconds(owner, time)
    owner, time = owner[order], time[order]
    in_campaign = np.zeros(len(owner), dtype=bool)
    for w in waves:
        if w.spec.kind == "boost":
            in_campaign |= w.treated[owner] & (w.time <= time) & (time < w.stop)
    return _Orders(owner, time, seconds, in_campaign)


def _timestamps(seconds: np.ndarray, t0: pd.Timestamp) -> np.ndarray:
    base = np.datetime64(t0.to_datetime64(), "us").astype(np.int64)
    return (base + seconds * 1_000_000).view("datetime64[us]")


def _transactions_frame(
    rng: np.random.Generator,
    rng_r: np.random.Generator,
    pop: _Population,
    life: _Lifetimes,
    orders: _Orders,
    horizon: float,
    t0: pd.Timestamp,
    p: SyntheticParams,
    with_order_id: bool,
) -> pd.DataFrame:
    n_orders = len(orders.owner)
    k = len(CATEGORIES)
    value = rng.gamma(p.order_value_shape, 1.0, n_orders) * (
        pop.spend_mean[orders.owner] / p.order_value_shape
    )
    campaign = orders.in_campaign & (rng.random(n_orders) < 0.8)
    regular = ~campaign & (rng.random(n_orders) < p.discount_prob)
    rate = np.where(
        campaign,
        p.campaign_discount,
        np.where(regular, rng.choice([0.05, 0.10, 0.20], n_orders), 0.0),
    )
    channel = np.where(
        rng.random(n_orders) < 0.7,
        pop.favourite_channel[orders.owner],
        rng.integers(0, len(SALES_CHANNELS), n_orders),
    ).astype(np.int8)
    first_category = np.where(
        rng.random(n_orders) < 0.6,
        pop.favourite_category[orders.owner],
        rng.integers(0, k, n_orders),
    )
    n_lines = np.minimum(1 + rng.poisson(p.lines_per_order - 1.0, n_orders), k)
    line_order = np.repeat(np.arange(n_orders), n_lines)
    # Distinct categories within an order keep order lines distinct rows.
    category = ((first_category[line_order] + _rank_in_group(n_lines)) % k).astype(np.int8)
    share = rng.exponential(1.0, len(line_order))
    share /= np.add.reduceat(share, np.cumsum(n_lines) - n_lines)[line_order]
    amount = np.round(value[line_order] * share, 2)
    discount = np.round(amount * rate[line_order] / (1.0 - rate[line_order]), 2)
    quantity = 1.0 + rng.poisson(0.3, len(line_order))

    returned = np.flatnonzero(rng_r.random(len(line_order)) < p.return_prob)
    owner = orders.owner[line_order[returned]]
    when = orders.time[line_order[returned]] + rng_r.uniform(1.0, 30.0, len(returned))
    keep = when < life.active_until(horizon)[owner]
    returned, owner, when = returned[keep], owner[keep], when[keep]
    ret_order, ret_seconds = _unique_seconds(owner, when)
    returned = returned[ret_order]

    lines = np.r_[np.arange(len(line_order)), returned]
    seconds = np.r_[orders.seconds[line_order], ret_seconds]
    is_return = np.r_[np.zeros(len(line_order), bool), np.ones(len(returned), bool)]
    owner = orders.owner[line_order[lines]]
    final = np.argsort((owner.astype(np.int64) << _SEC_BITS) | seconds, kind="stable")
    lines, seconds, is_return, owner = lines[final], seconds[final], is_return[final], owner[final]
    frame = {
        "customer_id": owner.astype(np.int64) + 1,
        "timestamp": _timestamps(seconds, t0),
        "amount": amount[lines],
        "order_id": line_order[lines].astype(np.int64) + 1,
        "quantity": quantity[lines],
        "category": pd.Categorical.from_codes(category[lines], CATEGORIES),
        "channel": pd.Categorical.from_codes(channel[line_order[lines]], SALES_CHANNELS),
        "discount": np.where(is_return, 0.0, discount[lines]),
        "is_return": is_return,
    }
    if not with_order_id:
        del frame["order_id"]
    return pd.DataFrame(frame, copy=False)


@dataclass
class _Part:
    """One event type's rows for the interactions table."""

    event: str
    owner: np.ndarray
    time: np.ndarray  # days since start
    channel: np.ndarray | int
    value: np.ndarray | None = None
    resolved: np.ndarray | None = None
    campaign: int = -1
    treatment: np.ndarray | None = None


def _interactions_frame(
    rng: dict[str, np.random.Generator],
    pop: _Population,
    life: _Lifetimes,
    tickets: _Tickets,
    orders: _Orders,
    waves: Sequence[_Wave],
    horizon: float,
    t0: pd.Timestamp,
    p: SyntheticParams,
) -> pd.DataFrame:
    until = life.active_until(horizon)
    ch = {name: i for i, name in enumerate(INTERACTION_CHANNELS)}
    parts: list[_Part] = []

    # web and app visits, thinned while fading
    r = rng["visits"]
    owner, time = _poisson_process(r, np.arange(pop.n), pop.signup, until, pop.visit_rate)
    _, fade = _fading_multiplier(life, owner, time, p.engagement_fade_days)
    keep = r.random(len(owner)) < fade
    owner, time = owner[keep], time[keep]
    app = r.random(len(owner)) < pop.app_share[owner]
    parts += [
        _Part("web_visit", owner[~app], time[~app], ch["web"]),
        _Part("app_visit", owner[app], time[app], ch["app"]),
    ]

    # e-mails: sent on a schedule to consenting customers (also after dropout); opened and
    # clicked only while alive, less often while fading
    r = rng["emails"]
    interval = p.email_interval_days
    who = np.flatnonzero(pop.email_consent)
    first = pop.signup[who] + r.uniform(0.0, interval, len(who))
    count = np.where(first < horizon, np.ceil((horizon - first) / interval), 0).astype(np.int64)
    owner = np.repeat(who, count)
    sent = np.repeat(first, count) + _rank_in_group(count) * interval
    parts.append(_Part("email_sent", owner, sent, ch["email"]))
    _, fade = _fading_multiplier(life, owner, sent, p.engagement_fade_days)
    opened = (sent < until[owner]) & (r.random(len(owner)) < pop.open_prob[owner] * fade)
    owner, opened_at = owner[opened], sent[opened] + r.exponential(0.25, int(opened.sum()))
    keep = opened_at < until[owner]
    owner, opened_at = owner[keep], opened_at[keep]
    parts.append(_Part("email_open", owner, opened_at, ch["email"]))
    clicked = r.random(len(owner)) < pop.click_prob[owner]
    owner, clicked_at = (
        owner[clicked],
        opened_at[clicked] + r.exponential(0.002, int(clicked.sum())),
    )
    keep = clicked_at < until[owner]
    parts.append(_Part("email_click", owner[keep], clicked_at[keep], ch["email"]))

    # support tickets (the potential process, cut at dropout) and their CES follow-ups
    r = rng["surveys"]
    keep = tickets.time < until[tickets.owner]
    owner, time, severity = tickets.owner[keep], tickets.time[keep], tickets.severity[keep]
    hours = (4.0 + 16.0 * severity) * np.exp(0.4 * r.standard_normal(len(owner)))
    resolved = severity + 0.5 * r.standard_normal(len(owner)) < 1.5
    channel = r.choice([ch["phone"], ch["email"], ch["chat"]], len(owner), p=[0.4, 0.3, 0.3])
    parts.append(
        _Part("support_ticket", owner, time, channel, value=np.round(hours, 1), resolved=resolved)
    )
    asked = r.random(len(owner)) < p.ces_prob
    answered = time[asked] + hours[asked] / 24.0 + r.exponential(1.0, int(asked.sum()))
    ces = np.clip(
        np.rint(1.5 + 1.2 * severity[asked] + 0.6 * r.standard_normal(int(asked.sum()))), 1, 7
    )
    keep = answered < until[owner[asked]]
    parts.append(_Part("ces", owner[asked][keep], answered[keep], ch["email"], value=ces[keep]))

    # NPS / CSAT after orders: service quality plus noise, lower while fading
    asked = r.random(len(orders.owner)) < p.survey_prob
    owner = orders.owner[asked]
    answered = orders.time[asked] + r.exponential(2.0, len(owner))
    keep = answered < until[owner]
    owner, answered = owner[keep], answered[keep]
    fading, _ = _fading_multiplier(life, owner, answered, p.engagement_fade_days)
    mood = pop.quality[owner] + 0.8 * r.standard_normal(len(owner)) - p.fading_survey_shift * fading
    nps = r.random(len(owner)) < 0.5
    parts.append(
        _Part(
            "nps",
            owner[nps],
            answered[nps],
            ch["email"],
            value=np.clip(np.rint(7.5 + 1.8 * mood[nps]), 0, 10),
        )
    )
    parts.append(
        _Part(
            "csat",
            owner[~nps],
            answered[~nps],
            ch["email"],
            value=np.clip(np.rint(3.9 + 0.8 * mood[~nps]), 1, 5),
        )
    )

    # referrals: promoters refer more, never while fading
    r = rng["referrals"]
    owner, time = _poisson_process(r, np.arange(pop.n), pop.signup, until, pop.referral_rate)
    fading, _ = _fading_multiplier(life, owner, time, p.engagement_fade_days)
    parts.append(_Part("referral", owner[~fading], time[~fading], ch["web"]))

    if p.cancellations:
        who = np.flatnonzero(life.dropout < horizon)
        parts.append(_Part("cancellation", who, life.dropout[who], ch["web"]))

    for i, w in enumerate(waves):
        who = np.flatnonzero(w.contacted)
        parts.append(
            _Part(
                "campaign_contact",
                who,
                np.full(len(who), w.time),
                ch[w.spec.channel],
                campaign=i,
                treatment=w.treated[who],
            )
        )
    return _assemble_interactions(parts, waves, t0)


def _assemble_interactions(
    parts: Sequence[_Part], waves: Sequence[_Wave], t0: pd.Timestamp
) -> pd.DataFrame:
    sizes = [len(part.owner) for part in parts]
    offsets = np.cumsum(sizes) - sizes
    sorted_parts = [_unique_seconds(part.owner, part.time) for part in parts]
    owner = np.concatenate([part.owner for part in parts]).astype(np.int64)
    # one permutation: each part sorted by (owner, time), then all parts merged
    position = np.concatenate(
        [order + offset for (order, _), offset in zip(sorted_parts, offsets, strict=True)]
    )
    sec = np.concatenate([sec for _, sec in sorted_parts])
    final = np.argsort((owner[position] << _SEC_BITS) | sec, kind="stable")
    position, sec = position[final], sec[final]

    def column(values: Any, fill: Any, dtype: Any) -> np.ndarray:
        out = [
            np.full(size, fill, dtype=dtype)
            if values(part) is None
            else np.broadcast_to(np.asarray(values(part), dtype=dtype), size)
            for part, size in zip(parts, sizes, strict=True)
        ]
        return np.concatenate(out)[position]

    def missing(field: str) -> np.ndarray:
        return column(lambda q: None if getattr(q, field) is None else False, True, bool)

    return pd.DataFrame(
        {
            "customer_id": owner[position] + 1,
            "timestamp": _timestamps(sec, t0),
            "event_type": pd.Categorical.from_codes(
                column(lambda q: EVENTS.index(q.event), 0, np.int8), EVENTS
            ),
            "channel": pd.Categorical.from_codes(
                column(lambda q: q.channel, 0, np.int8), INTERACTION_CHANNELS
            ),
            "value": column(lambda q: q.value, np.nan, float),
            "resolved_first_contact": pd.arrays.BooleanArray(
                column(lambda q: q.resolved, False, bool), missing("resolved")
            ),
            "campaign_id": pd.Categorical.from_codes(
                column(lambda q: q.campaign, -1, np.int8), [w.spec.campaign_id for w in waves]
            ),
            "treatment": pd.arrays.BooleanArray(
                column(lambda q: q.treatment, False, bool), missing("treatment")
            ),
        },
        copy=False,
    )


def _customers_frame(pop: _Population, t0: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, pop.n + 1, dtype=np.int64),
            "signup_date": _timestamps(np.floor(pop.signup * DAY_SECONDS).astype(np.int64), t0),
            "region": pd.Categorical.from_codes(pop.region, REGIONS),
            "acquisition_channel": pd.Categorical.from_codes(pop.acquisition, ACQUISITION_CHANNELS),
            "age": pop.age,
            "email_consent": pop.email_consent,
            "phone_consent": pop.phone_consent,
        }
    )


def _truth_frame(
    pop: _Population,
    life: _Lifetimes,
    waves: Sequence[_Wave],
    uplift: Sequence[np.ndarray],
    t0: pd.Timestamp,
    t1: pd.Timestamp,
    horizon: float,
    p: SyntheticParams,
) -> pd.DataFrame:
    def stamp(days: np.ndarray) -> np.ndarray:
        finite = np.isfinite(days) & (days < horizon)
        micros = np.where(finite, np.floor(days * DAY_SECONDS * 1e6), 0).astype(np.int64)
        values = np.datetime64(t0.to_datetime64(), "us").astype(np.int64) + micros
        out = values.view("datetime64[us]").copy()
        out[~finite] = np.datetime64("NaT")
        return out

    columns: dict[str, Any] = {
        # equals customers.signup_date and the timestamp of the customer's first order
        "signup_time": _timestamps(np.floor(pop.signup * DAY_SECONDS).astype(np.int64), t0),
        "purchase_rate": pop.rate,
        "spend_mean": pop.spend_mean,
        "service_quality": pop.quality,
        "base_hazard": pop.base_hazard,
        "ticket_rate": pop.ticket_rate,
        "ticket_trigger_prob": pop.trigger_prob,
        "fading_hazard": pop.fading_hazard,
        "fading_start": stamp(life.fading),
        "dropout_time": stamp(life.dropout),
        "alive_at_end": life.dropout >= horizon,
        "visit_rate": pop.visit_rate,
        "email_open_prob": pop.open_prob,
        "email_click_prob": pop.click_prob,
        "referral_rate": pop.referral_rate,
    }
    campaigns = []
    for w, lift in zip(waves, uplift, strict=True):
        cid = w.spec.campaign_id
        columns[f"treated_{cid}"] = pd.arrays.BooleanArray(w.treated, ~w.contacted)
        columns[f"effect_{cid}"] = w.effect
        columns[f"true_uplift_{cid}"] = lift
        if w.spec.kind == "retain":
            columns[f"won_back_{cid}"] = life.won_back[cid]
            columns[f"winback_fading_start_{cid}"] = stamp(life.winback_fading_start[cid])
        campaigns.append(
            {
                "campaign_id": cid,
                "kind": w.spec.kind,
                "channel": w.spec.channel,
                "time": w.time,
                "timestamp": t0 + pd.Timedelta(days=w.time),
                "window_days": w.spec.window_days,
            }
        )
    truth = pd.DataFrame(columns, index=pd.RangeIndex(1, pop.n + 1, name="customer_id"))
    truth.attrs["synthetic"] = {
        "start": t0,
        "end": t1,
        "fading_days": p.fading_days,
        "uplift_horizon_days": p.uplift_horizon_days,
        "campaigns": campaigns,
    }
    return truth


def _as_timestamp(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts
