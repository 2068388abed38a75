"""The synthetic generator: reproducible, valid, and consistent with its own ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.data import FIRM_INITIATED, Tables
from cxml.datasets import (
    make_synthetic,
    make_synthetic_frames,
    oracle_churn_probability,
    oracle_expected_purchases,
    oracle_expected_value,
    oracle_state,
)
from cxml.datasets.synthetic import _propagate

DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def sim() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    return make_synthetic_frames(20_000, seed=7)


def _campaign(truth: pd.DataFrame, campaign_id: str) -> dict:
    return next(c for c in truth.attrs["synthetic"]["campaigns"] if c["campaign_id"] == campaign_id)


def _purchases(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    tx = frames["transactions"]
    return tx[~tx["is_return"]]


def test_same_seed_gives_identical_data_and_another_seed_does_not() -> None:
    first, truth_1 = make_synthetic_frames(500, seed=3)
    second, truth_2 = make_synthetic_frames(500, seed=3)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name])
    pd.testing.assert_frame_equal(truth_1, truth_2)
    other, _ = make_synthetic_frames(500, seed=4)
    assert not first["transactions"]["amount"].equals(other["transactions"]["amount"])


def test_leaving_out_interactions_does_not_change_transactions() -> None:
    full, truth = make_synthetic_frames(500, seed=3)
    lean, lean_truth = make_synthetic_frames(
        500, seed=3, with_interactions=False, with_customers=False
    )
    assert set(lean) == {"transactions"}
    pd.testing.assert_frame_equal(full["transactions"], lean["transactions"])
    pd.testing.assert_frame_equal(truth, lean_truth)


def test_generated_tables_pass_validation_without_warnings() -> None:
    tables, truth = make_synthetic(2_000, seed=1)
    assert isinstance(tables, Tables)
    assert tables.warnings == []
    customers = tables.to_pandas("customers")
    assert len(customers) == len(truth) == 2_000
    assert {"region", "acquisition_channel", "age", "email_consent", "phone_consent"} <= set(
        customers.columns
    )
    events = set(tables.to_pandas("interactions")["event_type"])
    assert {
        "web_visit",
        "email_open",
        "support_ticket",
        "nps",
        "csat",
        "ces",
        "referral",
        "campaign_contact",
    } <= events


def test_frames_hold_no_exact_duplicate_rows(sim) -> None:
    frames, _ = sim
    for name in ("transactions", "interactions"):
        assert not frames[name].duplicated().any(), name


def test_options_drop_order_ids_and_campaigns() -> None:
    frames, truth = make_synthetic_frames(300, seed=2, with_order_id=False, with_campaigns=False)
    assert "order_id" not in frames["transactions"].columns
    assert not (frames["interactions"]["event_type"] == "campaign_contact").any()
    assert not truth.columns.str.contains("uplift").any()


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="fading_days"):
        make_synthetic_frames(10, fading_days=0)
    with pytest.raises(ValueError, match="after start"):
        make_synthetic_frames(10, start="2024-01-01", end="2023-01-01")
    with pytest.raises(TypeError):
        make_synthetic_frames(10, no_such_knob=1)


def test_first_order_is_at_signup(sim) -> None:
    frames, truth = sim
    first = frames["transactions"].groupby("customer_id")["timestamp"].min()
    signup = frames["customers"].set_index("customer_id")["signup_date"]
    pd.testing.assert_series_equal(first, signup, check_names=False)
    pd.testing.assert_series_equal(signup, truth["signup_time"], check_names=False)


def test_no_customer_activity_after_dropout(sim) -> None:
    frames, truth = sim
    it = frames["interactions"]
    own = it[~it["event_type"].isin(FIRM_INITIATED)]
    for table in (frames["transactions"], own):
        dropout = truth["dropout_time"].reindex(table["customer_id"]).to_numpy()
        gone = ~pd.isna(dropout)
        assert (table["timestamp"].to_numpy()[gone] < dropout[gone]).all()
    assert truth["dropout_time"].notna().mean() > 0.2  # the check above is not vacuous
    assert (truth["alive_at_end"] == truth["dropout_time"].isna()).all()


def test_repeat_purchases_match_latent_rate_times_active_time(sim) -> None:
    frames, truth = sim
    meta = truth.attrs["synthetic"]
    until = truth["dropout_time"].fillna(meta["end"])
    active = (until - truth["signup_time"]) / DAY
    expected = truth["purchase_rate"] * active
    boost = _campaign(truth, "discount_email")
    lo = boost["timestamp"]
    overlap = ((np.minimum(until, lo + boost["window_days"] * DAY) - lo) / DAY).clip(lower=0)
    treated = truth["treated_discount_email"].fillna(False).astype(bool)
    expected += treated * truth["purchase_rate"] * truth["effect_discount_email"] * overlap
    repeats = _purchases(frames).groupby("customer_id")["order_id"].nunique() - 1
    repeats = repeats.reindex(truth.index, fill_value=0)
    assert repeats.sum() == pytest.approx(expected.sum(), rel=0.02)
    # and customer by customer, across the spread of latent rates
    bins = pd.qcut(truth["purchase_rate"], 4)
    ratio = repeats.groupby(bins, observed=True).sum() / expected.groupby(bins, observed=True).sum()
    assert ratio.between(0.94, 1.06).all(), ratio


def test_poor_service_means_more_tickets_lower_scores_and_more_dropout(sim) -> None:
    frames, truth = sim
    quartile = pd.qcut(truth["service_quality"], 4, labels=False)
    it = frames["interactions"].join(quartile.rename("q"), on="customer_id")
    nps = it[it["event_type"] == "nps"].groupby("q")["value"].mean()
    csat = it[it["event_type"] == "csat"].groupby("q")["value"].mean()
    tickets = it[it["event_type"] == "support_ticket"].groupby("q").size()
    dropped = truth["dropout_time"].notna().groupby(quartile).mean()
    assert nps.is_monotonic_increasing and csat.is_monotonic_increasing
    assert tickets.is_monotonic_decreasing and dropped.is_monotonic_decreasing
    assert dropped[0] > 1.5 * dropped[3]


def test_high_effort_scores_go_with_starting_to_fade(sim) -> None:
    frames, truth = sim
    it = frames["interactions"]
    ces = it[it["event_type"] == "ces"].join(truth["fading_start"], on="customer_id")
    soon = (ces["fading_start"] - ces["timestamp"]).between(-7 * DAY, 0 * DAY)
    assert ces.loc[soon, "value"].mean() > ces.loc[~soon, "value"].mean() + 0.5


def test_visits_fade_in_the_weeks_before_dropout(sim) -> None:
    frames, truth = sim
    it = frames["interactions"]
    visits = it[it["event_type"].isin(["web_visit", "app_visit"])].join(
        truth[["dropout_time", "signup_time"]], on="customer_id"
    )
    visits = visits[visits["dropout_time"] > visits["signup_time"] + 120 * DAY]
    before = (visits["dropout_time"] - visits["timestamp"]) / DAY
    last_month = before.between(0, 30).sum() / 30
    earlier = before.between(60, 120).sum() / 60
    assert last_month < 0.75 * earlier


def test_treated_customers_buy_more_by_about_the_true_uplift(sim) -> None:
    frames, truth = sim
    wave = _campaign(truth, "discount_email")
    start, stop = wave["timestamp"], wave["timestamp"] + 90 * DAY
    buy = _purchases(frames)
    buyers = buy.loc[(buy["timestamp"] >= start) & (buy["timestamp"] < stop), "customer_id"]
    contacted = truth[truth["treated_discount_email"].notna()]
    bought = contacted.index.isin(buyers)
    treated = contacted["treated_discount_email"].astype(bool).to_numpy()
    rates = [bought[treated].mean(), bought[~treated].mean()]
    observed = rates[0] - rates[1]
    se = np.sqrt(sum(r * (1 - r) for r in rates) / (len(contacted) / 2))
    true = contacted["true_uplift_discount_email"].mean()
    assert true > 2 * se
    assert abs(observed - true) < 3 * se


def test_true_retention_uplift_follows_the_sign_of_the_effect(sim) -> None:
    _, truth = sim
    alive = oracle_state(truth, _campaign(truth, "retention_call")["timestamp"]).isin(
        ["active", "fading"]
    )
    lift = truth.loc[alive, "true_uplift_retention_call"]
    effect = truth.loc[alive, "effect_retention_call"]
    assert (lift[effect > 0] >= 0).all() and (lift[effect < 0] <= 0).all()
    assert (lift[effect < 0] < 0).any()  # "sleeping dogs" exist
    not_yet = truth["signup_time"] >= _campaign(truth, "retention_call")["timestamp"]
    assert truth.loc[not_yet, "true_uplift_retention_call"].isna().all()


@pytest.mark.parametrize("horizon", [90, 180])
def test_oracle_churn_probability_is_calibrated(sim, horizon: int) -> None:
    frames, truth = sim
    cutoff = truth.attrs["synthetic"]["end"] - horizon * DAY
    p = oracle_churn_probability(truth, cutoff, horizon).dropna()
    buy = _purchases(frames)
    churned = ~p.index.isin(buy.loc[buy["timestamp"] >= cutoff, "customer_id"])
    frame = pd.DataFrame({"p": p, "churned": churned})
    bins = frame.groupby(pd.qcut(frame["p"], 10, duplicates="drop"), observed=True).mean()
    assert (bins["p"] - bins["churned"]).abs().max() < 0.04
    # also within each latent state, so knowing who is fading is what makes it right
    frame["state"] = oracle_state(truth, cutoff)
    states = frame.groupby("state", observed=True)[["p", "churned"]].mean()
    assert (states["p"] - states["churned"]).abs().max() < 0.06, states
    brier = ((frame["p"] - frame["churned"]) ** 2).mean()
    assert brier < 0.6 * frame["churned"].var()


def test_oracle_expected_value_matches_the_simulated_total(sim) -> None:
    frames, truth = sim
    cutoff = truth.attrs["synthetic"]["end"] - 180 * DAY
    value = oracle_expected_value(truth, cutoff, 180)
    orders = oracle_expected_purchases(truth, cutoff, 180)
    buy = _purchases(frames)
    buy = buy[(buy["timestamp"] >= cutoff) & buy["customer_id"].isin(value.dropna().index)]
    assert buy["amount"].sum() == pytest.approx(value.sum(), rel=0.05)
    assert buy["order_id"].nunique() == pytest.approx(orders.sum(), rel=0.03)


def test_oracle_state_agrees_with_the_truth_times(sim) -> None:
    _, truth = sim
    cutoff = truth.attrs["synthetic"]["start"] + 400 * DAY
    state = oracle_state(truth, cutoff)
    assert ((state == "not_acquired") == (truth["signup_time"] >= cutoff)).all()
    assert ((state == "dropped") == (truth["dropout_time"] <= cutoff)).all()
    p = oracle_churn_probability(truth, cutoff, 90)
    assert p[state == "dropped"].eq(1).all() and p[state == "not_acquired"].isna().all()
    assert p[state == "fading"].mean() > p[state == "active"].mean()


def test_chain_solution_matches_monte_carlo() -> None:
    """The closed-form active -> fading -> dropped solution, with a purchase boost."""
    rng = np.random.default_rng(0)
    lam, base, trig, fading_days, horizon = 0.02, 0.004, 0.002, 30.0, 120.0
    boost = ("boost", 20.0, 30.0, np.ones(1), np.full(1, 1.5))
    no_purchase, expected = _propagate(
        0.0,
        horizon,
        np.ones(1, bool),
        np.zeros(1, bool),
        np.full(1, lam),
        np.full(1, base),
        np.full(1, trig),
        fading_days,
        [boost],
        transfer_at_start=False,
    )
    n = 400_000
    end = np.minimum(
        rng.exponential(1 / (base + trig), n) + rng.exponential(fading_days, n), horizon
    )
    boosted = np.clip(np.minimum(end, 50.0) - 20.0, 0, None)
    mean = lam * end + lam * 1.5 * boosted
    assert no_purchase[0] == pytest.approx(np.exp(-mean).mean(), abs=2e-3)
    assert expected[0] == pytest.approx(mean.mean(), rel=5e-3)


def test_chain_solution_with_a_win_back_matches_monte_carlo() -> None:
    """A fading customer treated by a retention wave at day 10 (effect 0.5, 60-day window)."""
    rng = np.random.default_rng(1)
    lam, base, trig, fading_days, horizon = 0.02, 0.01, 0.002, 30.0, 150.0
    retain = ("retain", 10.0, 60.0, np.ones(1), np.full(1, 0.5))
    no_purchase, expected = _propagate(
        0.0,
        horizon,
        np.zeros(1, bool),
        np.ones(1, bool),
        np.full(1, lam),
        np.full(1, base),
        np.full(1, trig),
        fading_days,
        [retain],
        transfer_at_start=False,
    )
    n = 400_000
    end = rng.exponential(fading_days, n)
    won = (end > 10.0) & (rng.random(n) < 0.5)
    budget, inside = rng.exponential(1.0, n), 0.5 * base + trig
    fading = np.where(
        budget < 60 * inside, 10 + budget / inside, 70 + (budget - 60 * inside) / (base + trig)
    )
    end = np.minimum(np.where(won, fading + rng.exponential(fading_days, n), end), horizon)
    assert no_purchase[0] == pytest.approx(np.exp(-lam * end).mean(), abs=2e-3)
    assert expected[0] == pytest.approx(lam * end.mean(), rel=5e-3)
