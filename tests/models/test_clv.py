"""CLVModel and conformal_quantile: the estimator contract, each kind's predictions checked
against independent computations, point-in-time BTYD features, and interval coverage."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from cxml.datasets import load_cdnow, make_synthetic
from cxml.errors import DataValidationError, ModelFitError, ParameterError
from cxml.features import FeatureSpec, build_training_frame
from cxml.models import BTYDModel
from cxml.models.clv import BTYD_FEATURES, CLVModel, conformal_quantile

LABELS = ["churned", "future_transactions", "future_value"]
HORIZON = "13W"
SPEC = FeatureSpec(groups=("btyd", "recency", "orders", "windows"), windows=(90, 365))
TRAIN_CUTOFFS = ["1997-04-01", "1997-07-01", "1997-10-01"]
#: Small, fast boosters; one thread because the machine is shared.
FAST = {"n_estimators": 200, "learning_rate": 0.1, "n_jobs": 1}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cdnow():
    """CDNOW sample training frame with its rows shuffled and the latest cut-off first (so
    row order says nothing about time), and a later cut-off's features to predict on."""
    tables = load_cdnow(sample=True)
    frame = build_training_frame(tables, TRAIN_CUTOFFS, HORIZON, SPEC)
    frame = frame.sample(frac=1.0, random_state=0).sort_values("cutoff", ascending=False)
    holdout = build_training_frame(tables, ["1998-01-01"], HORIZON, SPEC)
    X = frame.drop(columns=LABELS)
    X_new = holdout.drop(columns=[*LABELS, "cutoff"])
    return X, frame["future_value"], X_new


@pytest.fixture(scope="module")
def latest_rows(cdnow):
    X, _, _ = cdnow
    return X[X["cutoff"] == X["cutoff"].max()].drop(columns="cutoff")


@pytest.fixture(scope="module")
def reference_btyd(latest_rows):
    """The BTYD model the btyd and hybrid kinds should predict with."""
    return BTYDModel().fit(latest_rows)


@pytest.fixture(scope="module")
def fitted(cdnow):
    X, y, _ = cdnow
    kinds = {
        "btyd": {"kind": "btyd"},
        "gbm": {"kind": "gbm"},
        "hybrid": {"kind": "hybrid"},
        "tweedie": {"kind": "hybrid", "objective": "tweedie"},
    }
    return {
        name: CLVModel(**params, horizon=HORIZON, **FAST).fit(X, y)
        for name, params in kinds.items()
    }


def btyd_features(btyd: BTYDModel, X: pd.DataFrame, *, spend: bool = True) -> pd.DataFrame:
    """The hybrid's extra columns, computed directly from a BTYDModel (without the spend
    model's columns unless `spend`)."""
    columns = {
        "btyd_p_alive": btyd.predict_alive(X),
        "btyd_expected_purchases": btyd.predict_purchases(X, HORIZON),
    }
    if spend:
        columns["btyd_expected_spend"] = btyd.predict_spend(X)
        columns["btyd_clv"] = btyd.predict_clv(X, HORIZON, period="1M")
    return pd.DataFrame(columns, index=X.index)


# --------------------------------------------------------------------------- conformal_quantile


def test_conformal_quantile_is_the_ceil_n_plus_1_c_th_smallest_score():
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        c = float(rng.uniform(0.01, 0.99))
        # Integer scores so that ties occur too.
        scores = rng.integers(0, 20, n).astype(float) if rng.random() < 0.5 else rng.normal(size=n)
        rank = next(k for k in range(1, n + 2) if k >= (n + 1) * c)
        expected = sorted(scores)[rank - 1] if rank <= n else math.inf
        assert conformal_quantile(scores, c) == expected, (n, c)


def test_conformal_quantile_is_infinite_when_the_rank_exceeds_the_scores():
    assert conformal_quantile(np.array([3.0, 1.0, 2.0]), 0.8) == math.inf  # rank 4 of 3
    assert conformal_quantile(np.array([]), 0.5) == math.inf
    assert conformal_quantile(np.array([3.0, 1.0, 2.0, 0.5]), 0.8) == 3.0  # rank 4 of 4
    assert conformal_quantile(np.array([3.0, 1.0, 2.0, 0.5]), 0.2) == 0.5  # rank 1


def test_conformal_quantile_does_not_reorder_its_input():
    scores = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    conformal_quantile(scores, 0.5)
    np.testing.assert_array_equal(scores, [5.0, 1.0, 4.0, 2.0, 3.0])


@pytest.mark.parametrize(("n", "coverage"), [(19, 0.8), (9, 0.9), (50, 0.5), (200, 0.8)])
def test_split_conformal_interval_covers_a_new_exchangeable_point_at_the_nominal_rate(n, coverage):
    rng = np.random.default_rng(n)
    trials = 20_000
    # Absolute residuals of a fixed predictor on i.i.d. data: n calibration + 1 new point.
    scores = np.abs(rng.standard_t(3, size=(trials, n + 1)))
    covered = np.array([s[n] <= conformal_quantile(s[:n], coverage) for s in scores])
    # Exact for continuous scores: P(cover) = ceil((n + 1) c) / (n + 1) in [c, c + 1/(n+1)).
    exact = math.ceil((n + 1) * coverage) / (n + 1)
    se = math.sqrt(exact * (1 - exact) / trials)
    assert covered.mean() >= coverage - 3 * se
    assert abs(covered.mean() - exact) < 4 * se


# --------------------------------------------------------------------------- estimator contract


def test_init_stores_parameters_as_given_without_validating():
    offset = pd.DateOffset(months=3)
    model = CLVModel(kind="nonsense", horizon=offset, coverage=5.0, n_estimators=-1)
    params = model.get_params()
    assert params["kind"] == "nonsense"
    assert params["horizon"] is offset
    assert params["coverage"] == 5.0 and params["n_estimators"] == -1
    assert set(params) == {
        "kind",
        "objective",
        "horizon",
        "time_unit",
        "discount_rate",
        "btyd_model",
        "spend",
        "penalizer",
        "coverage",
        "n_estimators",
        "learning_rate",
        "num_leaves",
        "min_child_samples",
        "reg_lambda",
        "colsample_bytree",
        "early_stopping_rounds",
        "validation_fraction",
        "refit",
        "time_column",
        "random_state",
        "n_jobs",
    }


def test_set_params_and_clone_round_trip():
    model = CLVModel().set_params(kind="gbm", objective="tweedie", coverage=0.9, refit=False)
    assert (model.kind, model.objective, model.coverage, model.refit) == (
        "gbm",
        "tweedie",
        0.9,
        False,
    )
    copy = clone(model)
    assert copy is not model
    assert copy.get_params() == model.get_params()


def test_invalid_parameters_fail_at_fit_with_cxml_parameter_error(cdnow):
    """As BTYDModel does, not scikit-learn's InvalidParameterError."""
    X, y, _ = cdnow
    with pytest.raises(ParameterError, match="'kind' parameter of CLVModel"):
        CLVModel(kind="nonsense").fit(X, y)
    with pytest.raises(ParameterError, match="'coverage' parameter of CLVModel"):
        CLVModel(kind="btyd", coverage=1.0).fit(X, y)
    with pytest.raises(ParameterError, match="'spend' parameter of CLVModel"):
        CLVModel(spend="lognormal").fit(X, y)


def test_fit_returns_self_and_sets_only_trailing_underscore_attributes(cdnow):
    X, y, _ = cdnow
    model = CLVModel(kind="gbm", **FAST)
    before = set(vars(model))
    assert model.fit(X, y) is model
    added = set(vars(model)) - before
    assert added and all(name.endswith("_") for name in added)
    assert {"interval_scale_", "interval_quantile_", "validation_cutoff_"} <= added
    assert model.get_params() == CLVModel(kind="gbm", **FAST).get_params()


def test_predicting_before_fit_raises_not_fitted(cdnow):
    _, _, X_new = cdnow
    model = CLVModel(kind="gbm")
    with pytest.raises(NotFittedError):
        model.predict(X_new)
    with pytest.raises(NotFittedError):
        model.predict_interval(X_new)


def test_validation_cutoff_is_the_latest_and_is_not_a_feature(fitted):
    model = fitted["gbm"]
    assert model.validation_cutoff_ == pd.Timestamp(TRAIN_CUTOFFS[-1])
    assert "cutoff" not in model.feature_names_in_
    assert list(model.feature_importances_.index.sort_values()) == sorted(model.feature_names_in_)


# --------------------------------------------------------------------------- kind="btyd"


def test_btyd_kind_predicts_the_latest_cutoffs_btyd_clv(fitted, reference_btyd, cdnow):
    _, _, X_new = cdnow
    model = fitted["btyd"]
    assert model.classifier_ is None and model.regressor_ is None
    np.testing.assert_allclose(model.btyd_.params_, reference_btyd.params_, rtol=1e-12)
    expected = reference_btyd.predict_clv(X_new, HORIZON, period="1M").to_numpy()
    np.testing.assert_array_equal(model.predict(X_new), expected)


def test_btyd_kind_predicts_zero_for_customers_without_purchases(fitted, cdnow):
    _, _, X_new = cdnow
    X = X_new.head(4).copy()
    X.loc[X.index[:2], ["frequency", "recency", "T", "monetary_value"]] = np.nan
    predicted = fitted["btyd"].predict(X)
    np.testing.assert_array_equal(predicted[:2], 0.0)
    assert np.all(predicted[2:] > 0)


def test_btyd_kind_intervals_are_calibrated_on_the_latest_cutoff(fitted, reference_btyd, cdnow):
    X, y, _ = cdnow
    model = fitted["btyd"]
    latest = (X["cutoff"] == X["cutoff"].max()).to_numpy()
    f = np.nan_to_num(reference_btyd.predict_clv(X[latest], HORIZON, period="1M").to_numpy())
    scale = f.mean()
    scores = np.sort(np.abs(y.to_numpy()[latest] - f) / (f + scale))
    rank = math.ceil((len(scores) + 1) * 0.8)
    assert model.interval_scale_ == pytest.approx(scale, rel=1e-12)
    assert model.interval_quantile_ == pytest.approx(scores[rank - 1], rel=1e-12)


# --------------------------------------------------------------------------- kind="hybrid"


def test_hybrid_predicts_with_the_btyd_model_of_the_latest_cutoff(fitted, reference_btyd):
    # The training rows are shuffled, so "latest" must come from the dates, not row order.
    np.testing.assert_allclose(fitted["hybrid"].btyd_.params_, reference_btyd.params_, rtol=1e-12)
    np.testing.assert_allclose(fitted["tweedie"].btyd_.params_, reference_btyd.params_, rtol=1e-12)


def test_hybrid_btyd_features_of_each_cutoff_come_from_that_cutoff_alone(cdnow):
    X, _, _ = cdnow
    model = CLVModel(kind="hybrid", horizon=HORIZON)
    frame = X.drop(columns="cutoff").reset_index(drop=True)
    cutoffs = X["cutoff"].to_numpy()
    groups = pd.factorize(cutoffs)[0]
    _, outputs = model._fit_btyd(frame, pd.Series(cutoffs), groups)
    assert list(outputs.columns) == list(BTYD_FEATURES)
    np.testing.assert_array_equal(outputs.index, frame.index)
    for cutoff in TRAIN_CUTOFFS:
        rows = cutoffs == np.datetime64(cutoff)
        # A BTYD model that never saw later snapshots (nor any label).
        alone = BTYDModel().fit(frame[rows])
        np.testing.assert_allclose(
            outputs[rows].to_numpy(), btyd_features(alone, frame[rows]).to_numpy(), rtol=1e-12
        )


def test_hybrid_passes_spend_none_to_the_btyd_model_of_every_cutoff(cdnow):
    """Without a spend model the hybrid keeps P(alive) and expected purchases as features."""
    X, y, X_new = cdnow
    model = CLVModel(kind="hybrid", spend=None, horizon=HORIZON, **FAST).fit(X, y)
    assert model.btyd_.spend is None and model.btyd_.spend_params_ is None
    assert list(model.regressor_.feature_name_) == [*X_new.columns, *BTYD_FEATURES[:2]]
    latest = X[X["cutoff"] == X["cutoff"].max()].drop(columns="cutoff")
    alone = BTYDModel(spend=None).fit(latest)
    np.testing.assert_allclose(model.btyd_.params_, alone.params_, rtol=1e-12)
    prepared = pd.concat([X_new, btyd_features(alone, X_new, spend=False)], axis=1)
    expected = model.classifier_.predict_proba(prepared)[:, 1] * model.regressor_.predict(prepared)
    np.testing.assert_array_equal(model.predict(X_new), expected)


def test_a_model_saved_before_spend_existed_predicts_with_the_spend_model(fitted, cdnow):
    _, _, X_new = cdnow
    model = fitted["hybrid"]
    state = {k: v for k, v in model.__getstate__().items() if k != "spend"}
    old = CLVModel.__new__(CLVModel)
    old.__setstate__(state)
    assert old.spend == "gamma_gamma"
    np.testing.assert_array_equal(old.predict(X_new), model.predict(X_new))


def test_btyd_kind_needs_the_spend_model(cdnow):
    X, y, _ = cdnow
    with pytest.raises(ParameterError, match=r"kind='btyd'.*spend='gamma_gamma'"):
        CLVModel(kind="btyd", spend=None).fit(X, y)


def _without_repeat_buyers(X: pd.DataFrame, cutoff: str) -> pd.DataFrame:
    """X with no repeat purchase at `cutoff`: Gamma-Gamma has nobody to fit there."""
    X = X.copy()
    rows = X["cutoff"] == pd.Timestamp(cutoff)
    X.loc[rows, ["frequency", "recency"]] = 0.0
    X.loc[rows, "monetary_value"] = np.nan
    return X


@pytest.mark.parametrize(("kind", "cutoff"), [("hybrid", "1997-04-01"), ("btyd", "1997-10-01")])
def test_a_failed_btyd_fit_names_its_cutoff(cdnow, kind, cutoff):
    """The auditor's case: the error did not say which training cut-off had no repeat buyers."""
    X, y, _ = cdnow
    with pytest.raises(ModelFitError) as info:
        CLVModel(kind=kind, horizon=HORIZON, **FAST).fit(_without_repeat_buyers(X, cutoff), y)
    assert type(info.value) is ModelFitError
    assert str(info.value).startswith(
        f"CLVModel's BTYD fit at cut-off {cutoff}: Gamma-Gamma needs customers with repeat "
        "purchases"
    )
    assert isinstance(info.value.__cause__, ModelFitError)


def test_a_cutoff_without_buyers_is_named_in_the_data_error(cdnow):
    X, y, _ = cdnow
    X = X.copy()
    X.loc[X["cutoff"] == pd.Timestamp("1997-07-01"), ["frequency", "recency", "T"]] = np.nan
    with pytest.raises(DataValidationError) as info:
        CLVModel(kind="hybrid", horizon=HORIZON, **FAST).fit(X, y)
    assert info.value.column == "frequency"
    assert "(CLVModel's BTYD fit at cut-off 1997-07-01)" in str(info.value)


def test_zero_inflated_hybrid_is_purchase_probability_times_spend_given_purchase(
    fitted, reference_btyd, cdnow
):
    _, _, X_new = cdnow
    model = fitted["hybrid"]
    prepared = pd.concat([X_new, btyd_features(reference_btyd, X_new)], axis=1)
    expected = model.classifier_.predict_proba(prepared)[:, 1] * model.regressor_.predict(prepared)
    np.testing.assert_array_equal(model.predict(X_new), expected)
    assert model.regressor_.objective == "gamma"
    assert list(model.regressor_.feature_name_) == [*X_new.columns, *BTYD_FEATURES]


def test_zero_inflated_gbm_is_purchase_probability_times_spend_given_purchase(fitted, cdnow):
    _, _, X_new = cdnow
    model = fitted["gbm"]
    expected = model.classifier_.predict_proba(X_new)[:, 1] * model.regressor_.predict(X_new)
    np.testing.assert_array_equal(model.predict(X_new), expected)
    assert model.btyd_ is None


def test_tweedie_uses_one_regressor_and_no_classifier(fitted, reference_btyd, cdnow):
    _, _, X_new = cdnow
    model = fitted["tweedie"]
    assert model.classifier_ is None
    assert model.regressor_.objective == "tweedie"
    prepared = pd.concat([X_new, btyd_features(reference_btyd, X_new)], axis=1)
    np.testing.assert_array_equal(model.predict(X_new), model.regressor_.predict(prepared))


def test_gbm_needs_no_btyd_columns(cdnow):
    X, y, X_new = cdnow
    drop = ["frequency", "recency", "T", "monetary_value"]
    model = CLVModel(kind="gbm", **FAST).fit(X.drop(columns=drop), y)
    assert model.predict(X_new.drop(columns=drop)).shape == (len(X_new),)


# --------------------------------------------------------------------------- intervals


@pytest.mark.parametrize("name", ["btyd", "gbm", "hybrid", "tweedie"])
def test_interval_is_clipped_at_zero_and_widens_with_the_prediction(fitted, cdnow, name):
    _, _, X_new = cdnow
    model = fitted[name]
    point = model.predict(X_new)
    interval = model.predict_interval(X_new)
    assert interval.shape == (len(X_new), 2)
    lower, upper = interval[:, 0], interval[:, 1]
    assert np.all(lower >= 0)
    assert np.all((lower <= point) & (point <= upper))
    half = model.interval_quantile_ * (point + model.interval_scale_)
    np.testing.assert_allclose(upper - point, half, rtol=1e-12)
    np.testing.assert_allclose(lower, np.maximum(point - half, 0.0), rtol=1e-12, atol=1e-12)
    assert 0 < model.interval_quantile_ < math.inf
    assert model.interval_scale_ > 0


@pytest.fixture(scope="module")
def synthetic():
    """8,000 simulated customers: three quarterly training cut-offs, and the next quarter as
    the holdout, whose label window starts where the last training window ends."""
    tables, _ = make_synthetic(8000, 0, with_campaigns=False)
    horizon = "90D"
    frame = build_training_frame(tables, ["2022-07-01", "2022-10-01", "2023-01-01"], horizon, SPEC)
    holdout = build_training_frame(tables, ["2023-04-01"], horizon, SPEC)
    return (
        frame.drop(columns=LABELS),
        frame["future_value"],
        holdout.drop(columns=[*LABELS, "cutoff"]),
        holdout["future_value"].to_numpy(),
        horizon,
    )


@pytest.mark.parametrize(
    ("kind", "coverage"), [("btyd", 0.8), ("gbm", 0.8), ("hybrid", 0.8), ("hybrid", 0.5)]
)
def test_intervals_cover_about_the_nominal_share_of_a_later_holdout(synthetic, kind, coverage):
    X, y, X_new, y_new, horizon = synthetic
    model = CLVModel(kind=kind, horizon=horizon, coverage=coverage, **FAST).fit(X, y)
    lower, upper = model.predict_interval(X_new).T
    covered = np.mean((y_new >= lower) & (y_new <= upper))
    assert abs(covered - coverage) < 0.04


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_negative_or_missing_target_is_rejected(cdnow, bad):
    X, y, _ = cdnow
    y = y.copy()
    y.iloc[5] = bad
    with pytest.raises(ParameterError, match="y"):
        CLVModel(kind="gbm", **FAST).fit(X, y)


@pytest.mark.parametrize("kind", ["btyd", "hybrid"])
def test_btyd_kinds_need_the_btyd_columns(cdnow, kind):
    X, y, _ = cdnow
    with pytest.raises(ParameterError, match="monetary_value"):
        CLVModel(kind=kind, **FAST).fit(X.drop(columns="monetary_value"), y)
    with pytest.raises(ParameterError, match="BTYD"):
        CLVModel(kind=kind, **FAST).fit(X.drop(columns="recency").to_numpy(), y)


@pytest.mark.parametrize("name", ["btyd", "hybrid"])
def test_btyd_kinds_need_the_btyd_columns_at_predict_time(fitted, cdnow, name):
    _, _, X_new = cdnow
    with pytest.raises(ParameterError, match="frequency"):
        fitted[name].predict(X_new.drop(columns="frequency"))


def test_x_and_y_of_different_lengths_are_rejected(cdnow):
    X, y, _ = cdnow
    with pytest.raises(ValueError, match="rows"):
        CLVModel(kind="gbm", **FAST).fit(X, y.iloc[:-3])


# --------------------------------------------------------------------------- refit, determinism


def test_refit_retrains_with_the_early_stopped_number_of_rounds(cdnow):
    X, y, X_new = cdnow
    kept = CLVModel(kind="gbm", refit=False, **FAST).fit(X, y)
    refitted = CLVModel(kind="gbm", refit=True, **FAST).fit(X, y)
    for booster in ("classifier_", "regressor_"):
        stopped = getattr(kept, booster)
        assert 0 < stopped.best_iteration_ < FAST["n_estimators"]
        assert getattr(refitted, booster).n_estimators == stopped.best_iteration_
    for model in (kept, refitted):
        assert np.all(np.isfinite(model.predict(X_new)))
    assert not np.allclose(kept.predict(X_new), refitted.predict(X_new))


def test_same_random_state_gives_identical_predictions(cdnow):
    X, y, X_new = cdnow
    first, second, other = (
        CLVModel(kind="hybrid", random_state=seed, **FAST).fit(X, y) for seed in (7, 7, 8)
    )
    np.testing.assert_array_equal(first.predict_interval(X_new), second.predict_interval(X_new))
    assert first.interval_quantile_ == second.interval_quantile_
    # Another seed splits the validation cut-off differently.
    assert other.interval_quantile_ != first.interval_quantile_


# --------------------------------------------------------------------------- BTYD settings, splits


def test_btyd_kind_discounts_its_clv_at_the_given_rate(cdnow, reference_btyd):
    """Guards against the BTYD CLV ignoring `discount_rate`."""
    X, y, X_new = cdnow
    model = CLVModel(kind="btyd", horizon=HORIZON, discount_rate=0.1).fit(X, y)
    expected = reference_btyd.predict_clv(X_new, HORIZON, discount_rate=0.1, period="1M")
    np.testing.assert_allclose(model.predict(X_new), expected.to_numpy(), rtol=1e-12)
    undiscounted = reference_btyd.predict_clv(X_new, HORIZON, period="1M")
    assert (expected < undiscounted).sum() > 0.9 * undiscounted.notna().sum()


def test_btyd_kind_fits_on_the_latest_cutoff_whatever_the_row_order(cdnow, reference_btyd):
    """Guards against fitting the BTYD model on the first row's cut-off instead of the latest."""
    X, y, _ = cdnow
    order = np.argsort(X["cutoff"].to_numpy(), kind="stable")  # earliest cut-off first
    model = CLVModel(kind="btyd", horizon=HORIZON).fit(X.iloc[order], y.iloc[order])
    np.testing.assert_allclose(model.btyd_.params_, reference_btyd.params_, rtol=1e-12)


def test_btyd_kind_passes_the_time_unit_to_its_btyd_model(cdnow):
    """Guards against the BTYD model reading a weekly snapshot as days."""
    X, y, X_new = cdnow
    columns = ["recency", "T"]
    by_day = CLVModel(kind="btyd", horizon=HORIZON).fit(X, y)
    weekly, weekly_new = X.copy(), X_new.copy()
    weekly[columns] = weekly[columns] / 7
    weekly_new[columns] = weekly_new[columns] / 7
    by_week = CLVModel(kind="btyd", horizon=HORIZON, time_unit="W").fit(weekly, y)
    assert by_week.btyd_.time_unit == "W"
    np.testing.assert_allclose(by_week.predict(weekly_new), by_day.predict(X_new), rtol=1e-5)


def _calibration_rows(model: CLVModel, X: pd.DataFrame) -> np.ndarray:
    """The validation rows early stopping does not use, recomputed from the documented split."""
    val = (X["cutoff"] == X["cutoff"].max()).to_numpy()
    rows = np.flatnonzero(val)
    stop = np.random.default_rng(model.random_state).permutation(rows)[: len(rows) // 2]
    calibration = val.copy()
    calibration[stop] = False
    return calibration


def test_conformal_quantile_uses_only_the_calibration_half(fitted, cdnow):
    """Guards against calibrating on the early-stopping rows too (all validation rows)."""
    X, y, _ = cdnow
    model = fitted["gbm"]
    calibration = _calibration_rows(model, X)
    f = model.predict(X[calibration])
    scale = f.mean()
    scores = np.sort(np.abs(y.to_numpy()[calibration] - f) / (f + scale))
    rank = math.ceil((len(scores) + 1) * model.coverage)
    assert model.interval_scale_ == pytest.approx(scale, rel=1e-12)
    assert model.interval_quantile_ == pytest.approx(scores[rank - 1], rel=1e-12)


def test_boosters_never_train_on_the_calibration_rows(fitted, cdnow):
    """Guards against training on every row but the early-stopping half (calibration leaks)."""
    X, y, _ = cdnow
    model = fitted["gbm"]
    learnt = ~_calibration_rows(model, X)  # earlier cut-offs + early-stopping half (refit)
    bought = y.to_numpy() > 0
    for booster, rows in ((model.classifier_, learnt), (model.regressor_, learnt & bought)):
        trees = booster.booster_.trees_to_dataframe()
        root = trees[(trees["tree_index"] == 0) & (trees["node_depth"] == 1)]
        assert int(root["count"].iloc[0]) == rows.sum()  # rows the first tree was grown on


def test_gbm_row_predicts_alone_as_in_a_batch_whatever_categories_the_batch_holds():
    """Guards against rebuilding categories from the batch at predict time (codes shift)."""
    rng = np.random.default_rng(3)
    n = 3000
    segment = rng.choice(["bronze", "gold", "silver"], n)
    rate = np.select([segment == "bronze", segment == "gold"], [0.2, 0.8], 0.5)
    value = np.where(rng.random(n) < rate, rng.gamma(2.0, 20.0, n), 0.0)
    X = pd.DataFrame(
        {"segment": segment, "noise": rng.normal(size=n), "cutoff": np.repeat([1, 2], n // 2)}
    )
    model = CLVModel(kind="gbm", **FAST).fit(X, value)
    X_new = X.drop(columns="cutoff").head(200)
    together = model.predict(X_new)
    for i in np.flatnonzero(X_new["segment"] != "bronze")[:6]:  # absent levels come first
        assert model.predict(X_new.iloc[[i]])[0] == together[i]
