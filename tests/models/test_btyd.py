"""BTYDModel: the published CDNOW fits, its formulas against lifetimes and against a
brute-force simulation, collapsing, failures, and the scikit-learn estimator contract."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

from cxml.datasets import load_cdnow, make_synthetic
from cxml.errors import DataValidationError, ModelFitError, ParameterError
from cxml.features import FeatureSpec, build_snapshot
from cxml.models import BTYDModel
from cxml.models import lifetimes_compat as lt

MODELS = ("bgnbd", "pareto", "mbgnbd")
FITTERS = {
    "bgnbd": lt.BetaGeoFitter,
    "pareto": lt.ParetoNBDFitter,
    "mbgnbd": lt.ModifiedBetaGeoFitter,
}
YEAR_WEEKS = 365.25 / 7


def _cdnow(time_unit: str) -> pd.DataFrame:
    return build_snapshot(
        load_cdnow(sample=True), "1997-10-01", FeatureSpec(groups=("btyd",), time_unit=time_unit)
    )


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return _cdnow("W")


@pytest.fixture(scope="module")
def fitted(cdnow) -> dict[str, BTYDModel]:
    return {m: BTYDModel(m, time_unit="W").fit(cdnow) for m in MODELS}


def _lifetimes_twin(model: BTYDModel):
    """lifetimes fitters carrying `model`'s parameters, to compare formulas only."""
    fitter = FITTERS[model.model]()
    fitter.params_ = model.params_.copy()
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    spend = lt.GammaGammaFitter()
    spend.params_ = model.spend_params_.rename({"gamma": "v"})
    return fitter, spend


def _unweighted_lifetimes_fit(model: str, X: pd.DataFrame, penalizer: float = 0.0):
    kwargs = {"initial_params": np.ones(4), "tol": 1e-6, "maxiter": 10_000}
    with lt.contained():
        return FITTERS[model](penalizer_coef=penalizer).fit(
            X["frequency"], X["recency"], X["T"], **(kwargs if model == "pareto" else {})
        )


# ------------------------------------------------------------------ published CDNOW fits


def test_bgnbd_reproduces_the_published_cdnow_fit(fitted):
    model = fitted["bgnbd"]
    assert model.params_.round(3).tolist() == [0.243, 4.414, 0.793, 2.426]
    assert round(model.log_likelihood_, 1) == -9582.4


def test_pareto_nbd_reproduces_the_published_cdnow_fit(fitted):
    model = fitted["pareto"]
    assert model.params_.round(3).tolist() == [0.553, 10.578, 0.606, 11.669]
    assert round(model.log_likelihood_, 1) == -9595.0


def test_gamma_gamma_reproduces_the_published_fit_on_the_946_repeaters(cdnow, fitted):
    repeaters = cdnow[cdnow["frequency"] > 0]
    assert len(repeaters) == 946 and (repeaters["monetary_value"] > 0).all()
    spend = fitted["bgnbd"].spend_params_
    assert spend.round(2).tolist() == [6.25, 3.74, 15.44]
    # The log density of the mean spends in dollars (CLVTools checks its fit against -4055.9177).
    assert round(fitted["bgnbd"].spend_log_likelihood_, 1) == -4055.9


# ------------------------------------------------------------------ fit = lifetimes' fit

#: Pareto/NBD: lifetimes' Nelder-Mead on collapsed vs uncollapsed data, stopping at its
#: tolerance. BG/NBD, MBG/NBD: cxml's L-BFGS (gradient 1e-9) vs lifetimes' BFGS (gradient
#: 1e-7), see test_btyd_fit.py.
RTOL = {"pareto": 1e-6, "bgnbd": 1e-5, "mbgnbd": 1e-5}


@pytest.mark.parametrize("model", MODELS)
def test_fit_equals_lifetimes_unweighted_fit(cdnow, fitted, model):
    ours = fitted[model]
    theirs = _unweighted_lifetimes_fit(model, cdnow)
    rtol = RTOL[model]
    np.testing.assert_allclose(ours.params_.to_numpy(), theirs.params_.to_numpy(), rtol=rtol)
    # lifetimes reports a mean (BG) or total (Pareto) negative LL on time rescaled by max T.
    n = len(cdnow) if model != "pareto" else 1
    rescaled = -theirs._negative_log_likelihood_ * n
    unscaled = rescaled - cdnow["frequency"].sum() * np.log(cdnow["T"].max())
    assert ours.log_likelihood_ == pytest.approx(unscaled, rel=1e-7)


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_penalized_fit_equals_lifetimes_unweighted_fit(cdnow, model):
    ours = BTYDModel(model, spend=None, penalizer=0.05, time_unit="W").fit(cdnow)
    theirs = _unweighted_lifetimes_fit(model, cdnow, penalizer=0.05)
    np.testing.assert_allclose(ours.params_.to_numpy(), theirs.params_.to_numpy(), rtol=RTOL[model])


def test_gamma_gamma_equals_lifetimes_unweighted_fit(cdnow, fitted):
    repeaters = cdnow[cdnow["frequency"] > 0]
    with lt.contained():
        theirs = lt.GammaGammaFitter().fit(repeaters["frequency"], repeaters["monetary_value"])
    np.testing.assert_allclose(
        fitted["bgnbd"].spend_params_.to_numpy(), theirs.params_.to_numpy(), rtol=1e-5
    )


# ------------------------------------------------------------------ formulas vs lifetimes


@pytest.mark.parametrize("model", MODELS)
def test_p_alive_and_expected_purchases_equal_lifetimes(cdnow, fitted, model):
    ours = fitted[model]
    fitter, _ = _lifetimes_twin(ours)
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    with lt.contained():
        alive = fitter.conditional_probability_alive(f, r, T)
        purchases = {t: fitter.predict(t, f, r, T) for t in (1, 10, 39, 104)}
    np.testing.assert_allclose(ours.predict_alive(cdnow), alive, rtol=1e-10, atol=1e-14)
    for t, expected in purchases.items():
        np.testing.assert_allclose(ours.predict_purchases(cdnow, t), expected, rtol=1e-9)


def test_pareto_no_purchase_probability_equals_lifetimes_conditional_pmf(cdnow, fitted):
    ours = fitted["pareto"]
    fitter, _ = _lifetimes_twin(ours)
    args = (cdnow["frequency"].to_numpy(), cdnow["recency"].to_numpy(), cdnow["T"].to_numpy())
    for t in (4, 39):
        with lt.contained():
            expected = fitter.conditional_probability_of_n_purchases_up_to_time(0, t, *args)
        np.testing.assert_allclose(ours.predict_no_purchase(cdnow, t), expected, rtol=1e-10)


def test_expected_spend_equals_lifetimes(cdnow, fitted):
    ours = fitted["bgnbd"]
    _, spend = _lifetimes_twin(ours)
    expected = spend.conditional_expected_average_profit(
        cdnow["frequency"], cdnow["monetary_value"]
    )
    np.testing.assert_allclose(ours.predict_spend(cdnow), expected, rtol=1e-12)


@pytest.mark.parametrize("model", MODELS)
def test_clv_equals_lifetimes_customer_lifetime_value(cdnow, fitted, model):
    ours = fitted[model]
    fitter, spend = _lifetimes_twin(ours)
    month = 4.345  # lifetimes' month in weeks; it discounts 1 % per such month
    with lt.contained():
        expected = spend.customer_lifetime_value(
            fitter,
            cdnow["frequency"],
            cdnow["recency"],
            cdnow["T"],
            cdnow["monetary_value"],
            time=12,
            discount_rate=0.01,
            freq="W",
        )
    annual = 1.01 ** (YEAR_WEEKS / month) - 1
    clv = ours.predict_clv(cdnow, 12 * month, discount_rate=annual, period=month)
    np.testing.assert_allclose(clv, expected, rtol=1e-6)


# ------------------------------------------------------------------ formulas vs simulation


def _simulate(model: str, params, x: float, tx: float, T: float, h: float, n: int, rng):
    """Brute force: draw latent traits from the prior, weight each draw by the likelihood of
    the history, draw alive/gone given the draw, then play the next `h` time units event by
    event. Returns the weighted mean and its standard error of alive, purchases, none."""
    if model == "pareto":
        r, alpha, s, beta = params
        lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
        like_alive = lam**x * np.exp(-(lam + mu) * T)
        like_gone = lam**x * mu / (lam + mu) * (np.exp(-(lam + mu) * tx) - np.exp(-(lam + mu) * T))
        purchases = rng.poisson(lam * np.minimum(rng.exponential(1 / mu), h))
    else:
        r, alpha, a, b = params
        extra = int(model == "mbgnbd")  # MBG/NBD: a drop-out chance after the first purchase
        lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
        like_alive = (1 - p) ** (x + extra) * lam**x * np.exp(-lam * T)
        chances = x + extra
        like_gone = p * (1 - p) ** max(chances - 1, 0) * lam**x * np.exp(-lam * tx) * (chances > 0)
        # Alive customers buy at rate lambda and drop out right after a purchase w.p. p.
        purchases = np.minimum(rng.poisson(lam * h), rng.geometric(p))
    weight = like_alive + like_gone
    alive = rng.random(n) * weight < like_alive
    bought = np.where(alive, purchases, 0)
    weight = weight / weight.sum()
    out = {}
    for name, v in {"alive": alive, "purchases": bought, "none": bought == 0}.items():
        mean = weight @ v
        out[name] = (mean, np.sqrt(weight**2 @ (v - mean) ** 2))
    return out


HISTORIES = pd.DataFrame(
    {
        "frequency": [0, 0, 1, 3, 7, 2],
        "recency": [0.0, 0.0, 2.0, 30.0, 35.0, 5.0],
        "T": [5.0, 38.0, 38.0, 32.0, 36.0, 37.0],
    },
    index=pd.Index(list("abcdef"), name="customer_id"),
)


@pytest.mark.parametrize("model", MODELS)
def test_predictions_match_a_brute_force_simulation(fitted, model):
    ours = BTYDModel(model, spend=None, time_unit="W")
    ours.params_ = fitted[model].params_
    horizon = 26.0
    predicted = {
        "alive": ours.predict_alive(HISTORIES),
        "purchases": ours.predict_purchases(HISTORIES, horizon),
        "none": ours.predict_no_purchase(HISTORIES, horizon),
    }
    rng = np.random.default_rng(2024)
    for customer, (x, tx, T) in HISTORIES.iterrows():
        simulated = _simulate(model, ours.params_.to_numpy(), x, tx, T, horizon, 200_000, rng)
        for name, (mean, se) in simulated.items():
            assert abs(predicted[name][customer] - mean) <= 5 * se + 1e-9, (customer, name)


# ------------------------------------------------------------------ predictions


def test_customers_without_purchases_get_nan_and_the_index_is_kept(cdnow, fitted):
    X = pd.concat(
        [
            cdnow,
            pd.DataFrame(
                np.nan, index=pd.Index([-1, -2], name="customer_id"), columns=cdnow.columns
            ),
        ]
    )
    model = fitted["bgnbd"]
    refit = BTYDModel(time_unit="W").fit(X)
    np.testing.assert_allclose(refit.params_, model.params_, rtol=1e-12)
    for prediction in (
        model.predict_alive(X),
        model.predict_purchases(X, 10),
        model.predict_no_purchase(X, 10),
        model.predict_spend(X),
        model.predict_clv(X, 52),
    ):
        assert prediction.index.equals(X.index)
        assert prediction.loc[[-1, -2]].isna().all()
        assert prediction.loc[cdnow.index].notna().all()


def test_time_unit_makes_day_and_week_snapshots_agree(cdnow, fitted):
    days = _cdnow("D")
    by_day = BTYDModel(time_unit="D").fit(days)
    by_week = fitted["bgnbd"]
    np.testing.assert_allclose(by_day.params_["alpha"], 7 * by_week.params_["alpha"], rtol=1e-5)
    np.testing.assert_allclose(
        by_day.predict_no_purchase(days, "26W"), by_week.predict_no_purchase(cdnow, 26), rtol=1e-5
    )
    np.testing.assert_allclose(
        by_day.predict_clv(days, "1Y", discount_rate=0.1),
        by_week.predict_clv(cdnow, YEAR_WEEKS, discount_rate=0.1, period=YEAR_WEEKS / 12),
        rtol=1e-5,
    )


@pytest.mark.parametrize("unit", [0.01, 100.0, 1e8])
def test_penalized_fit_does_not_depend_on_the_currency(cdnow, unit):
    """Amounts in hundreds of dollars, in cents, in a currency of 1e-8 dollars: the same fit.
    Penalizing gamma in currency units, as lifetimes does, the fit in cents gave q = 0.35
    (an infinite mean spend) with penalizer=0.001, where the one in dollars gave q = 2.45."""
    other = cdnow.assign(monetary_value=cdnow["monetary_value"] * unit)
    dollars = BTYDModel(penalizer=0.001, time_unit="W").fit(cdnow)
    converted = BTYDModel(penalizer=0.001, time_unit="W").fit(other)
    np.testing.assert_allclose(
        converted.spend_params_.to_numpy(),
        dollars.spend_params_.to_numpy() * [1, 1, unit],
        rtol=1e-9,
    )
    np.testing.assert_allclose(
        converted.predict_clv(other, "1Y", discount_rate=0.1),
        dollars.predict_clv(cdnow, "1Y", discount_rate=0.1) * unit,
        rtol=1e-6,
    )
    # The density of monetary_value is in 1 / currency unit.
    n = (cdnow["frequency"] > 0).sum()
    assert converted.spend_log_likelihood_ == pytest.approx(
        dollars.spend_log_likelihood_ - n * np.log(unit), rel=1e-12
    )


def test_undiscounted_single_period_clv_is_purchases_times_spend(cdnow, fitted):
    model = fitted["pareto"]
    clv = model.predict_clv(cdnow, 52, period=52)
    np.testing.assert_allclose(
        clv, model.predict_purchases(cdnow, 52) * model.predict_spend(cdnow), rtol=1e-12
    )
    assert (model.predict_clv(cdnow, 52, discount_rate=0.2) < model.predict_clv(cdnow, 52)).all()


@pytest.mark.parametrize("name", MODELS)
def test_undiscounted_clv_counts_the_last_partial_period(cdnow, fitted, name):
    """Guards against dropping the last, shorter step (floor instead of ceil of H / period)."""
    model = fitted[name]
    # 52 weeks in steps of 5: ten full steps and a last one of 2 weeks.
    clv = model.predict_clv(cdnow, 52, period=5)
    expected = model.predict_purchases(cdnow, 52) * model.predict_spend(cdnow)
    np.testing.assert_allclose(clv, expected, rtol=1e-9)


def test_no_purchase_probability_falls_with_the_horizon_and_bounds_p_alive(cdnow, fitted):
    for model in fitted.values():
        short, long = model.predict_no_purchase(cdnow, 4), model.predict_no_purchase(cdnow, 52)
        assert (long <= short + 1e-12).all()
        assert (long >= 1 - model.predict_alive(cdnow) - 1e-12).all()


# ------------------------------------------------------------------ failures


def test_degenerate_data_raise_model_fit_error_saying_what_to_try(capsys):
    identical = pd.DataFrame(
        {"frequency": 3, "recency": 10.0, "T": 20.0, "monetary_value": 5.0}, index=range(50)
    )
    model = BTYDModel(spend=None, time_unit="W")
    with pytest.raises(ModelFitError, match=r"penalizer=0\.001") as info:
        model.fit(identical)
    assert not hasattr(model, "params_")
    assert "50 customers" in str(info.value)
    assert capsys.readouterr().out == ""  # lifetimes' optimizer report is not printed
    assert BTYDModel(spend=None, penalizer=0.001).fit(identical).params_.notna().all()


def test_parameters_at_the_edge_of_the_space_raise_model_fit_error():
    one = pd.DataFrame({"frequency": [2], "recency": [5.0], "T": [10.0]})
    with pytest.raises(ModelFitError, match="edge of the parameter space"):
        BTYDModel("pareto", spend=None).fit(one)


def test_spend_without_repeat_purchases_raises_model_fit_error():
    X = pd.DataFrame(
        {
            "frequency": [0, 0, 1],
            "recency": [0.0, 0.0, 3.0],
            "T": [5.0, 9.0, 9.0],
            "monetary_value": [0.0, 0.0, -2.0],
        }
    )
    with pytest.raises(ModelFitError, match="spend=None"):
        BTYDModel(penalizer=0.01).fit(X)


@pytest.mark.parametrize("unit", [1.0, 100.0])
def test_spend_fit_error_advises_a_penalizer_that_works_in_any_currency(cdnow, unit):
    # Every repeater spends the same: no heterogeneity, q and gamma run off to infinity.
    same = cdnow.assign(monetary_value=np.where(cdnow["frequency"] > 0, 5.0 * unit, 0.0))
    with pytest.raises(ModelFitError, match=r"Gamma-Gamma .*penalizer=0\.001.*spend=None"):
        BTYDModel(time_unit="W").fit(same)
    for penalizer in (0.001, 0.01):  # the advice, and the advice if needed
        model = BTYDModel(penalizer=penalizer, time_unit="W").fit(same)
        assert model.spend_params_["q"] > 1
        assert np.isfinite(model.predict_clv(same, 52)[same["frequency"].notna()]).all()


def test_heavy_tailed_spend_error_advises_what_works_and_not_the_penalizer(cdnow):
    rng = np.random.default_rng(0)
    x = np.maximum(cdnow["frequency"].to_numpy(), 1)
    nu = rng.gamma(0.7, 1 / 5.0, len(cdnow))  # q = 0.7: the mean spend is infinite
    heavy = cdnow.assign(
        monetary_value=np.where(cdnow["frequency"] > 0, rng.gamma(2.0 * x, 1 / nu) / x, 0.0)
    )
    for penalizer in (0.0, 0.001, 0.01, 0.1):
        with pytest.raises(ModelFitError, match=r"q = .* <= 1") as info:
            BTYDModel(penalizer=penalizer, time_unit="W").fit(heavy)
        assert "penalizer=" not in str(info.value)
    assert "BTYDModel(spend=None)" in str(info.value)
    assert BTYDModel(spend=None, time_unit="W").fit(heavy).params_.notna().all()


@pytest.mark.parametrize("model", ["bgnbd", "pareto", "mbgnbd"])
def test_no_repeat_purchases_is_a_fit_error_that_says_so(model: str) -> None:
    """BG/NBD crashed with an IndexError in its likelihood set-up."""
    X = pd.DataFrame({"frequency": [0, 0, 0], "recency": 0.0, "T": [5.0, 9.0, 2.0]})
    with pytest.raises(ModelFitError, match=r"repeat purchases \(frequency > 0\); none of the 3"):
        BTYDModel(model, spend=None).fit(X)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda X: X.drop(columns="T"), DataValidationError, "column 'T'"),
        (lambda X: X.assign(recency=X["T"] + 1), DataValidationError, "recency <= T"),
        (lambda X: X.assign(frequency=X["frequency"] + 0.5), DataValidationError, "whole"),
        (lambda X: X.to_numpy(), ParameterError, "DataFrame"),
    ],
)
def test_invalid_input_is_rejected_with_a_specific_message(cdnow, change, error, match):
    with pytest.raises(error, match=match):
        BTYDModel(time_unit="W").fit(change(cdnow))


def test_recency_without_repeat_purchases_is_rejected(cdnow, fitted):
    """Guards against accepting recency > 0 for customers with frequency 0."""
    X = cdnow.copy()
    first = X.index[(X["frequency"] == 0) & (X["T"] > 1)][0]
    X.loc[first, "recency"] = 1.0
    with pytest.raises(DataValidationError, match="recency must be 0 when frequency is 0"):
        BTYDModel(time_unit="W").fit(X)
    with pytest.raises(DataValidationError, match="recency must be 0 when frequency is 0"):
        fitted["bgnbd"].predict_alive(X)


@pytest.mark.parametrize(
    "params", [{"model": "nbd"}, {"penalizer": -1.0}, {"spend": "lognormal"}, {"time_unit": "M"}]
)
def test_invalid_parameters_raise_parameter_error_at_fit(cdnow, params):
    with pytest.raises(ParameterError):
        BTYDModel(**params).fit(cdnow)


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (pd.DateOffset(months=3) * 2, "6M"),
        (pd.DateOffset(years=1, n=2), "2Y"),
        (pd.offsets.Day(90), "90D"),
        (pd.offsets.Week(2), "2W"),
    ],
)
def test_offset_horizons_count_their_multiplier(cdnow, fitted, offset, text):
    model = fitted["bgnbd"]
    expected = model.predict_purchases(cdnow, text)
    assert np.allclose(model.predict_purchases(cdnow, offset), expected, rtol=1e-12)
    assert np.allclose(model.predict_clv(cdnow, offset), model.predict_clv(cdnow, text))


def test_anchored_offset_horizons_last_as_long_as_they_reach(cdnow, fitted):
    """MonthBegin(6) from the reference day 2000-01-01 reaches 2000-07-01: 182 days."""
    model = fitted["bgnbd"]
    found = model.predict_purchases(cdnow, pd.offsets.MonthBegin(6))
    assert np.allclose(found, model.predict_purchases(cdnow, "182D"), rtol=1e-12)


def test_invalid_horizons_raise_parameter_error(cdnow, fitted):
    model = fitted["bgnbd"]
    for horizon in (0, -3, "soon", True):
        with pytest.raises(ParameterError):
            model.predict_purchases(cdnow, horizon)
    with pytest.raises(ParameterError, match="spend=None"):
        BTYDModel(spend=None, time_unit="W").fit(cdnow).predict_clv(cdnow, 52)


# ------------------------------------------------------------------ estimator contract


@pytest.mark.parametrize(
    "check",
    [
        estimator_checks.check_no_attributes_set_in_init,
        estimator_checks.check_parameters_default_constructible,
        estimator_checks.check_get_params_invariance,
        estimator_checks.check_set_params,
        estimator_checks.check_estimator_cloneable,
        estimator_checks.check_estimator_repr,
        estimator_checks.check_do_not_raise_errors_in_init_or_set_params,
    ],
    ids=lambda check: check.__name__,
)
def test_scikit_learn_estimator_checks(check):
    check("BTYDModel", BTYDModel())


def test_a_fitted_model_pickles_without_lifetimes_objects(cdnow, fitted):
    model = fitted["mbgnbd"]
    copy = pickle.loads(pickle.dumps(model))
    assert "lifetimes" not in pickle.dumps(model).decode("latin-1")
    pd.testing.assert_series_equal(copy.predict_clv(cdnow, 52), model.predict_clv(cdnow, 52))


def test_predicting_before_fit_raises_not_fitted(cdnow):
    with pytest.raises(NotFittedError):
        BTYDModel().predict_alive(cdnow)


def test_fit_returns_self_and_clone_is_unfitted(cdnow, fitted):
    model = BTYDModel("mbgnbd", penalizer=0.0, time_unit="W")
    assert model.fit(cdnow) is model
    copy = clone(fitted["pareto"])
    assert copy.get_params() == fitted["pareto"].get_params()
    assert not hasattr(copy, "params_")


# ------------------------------------------------------------------ lifetimes is contained


def test_importing_and_fitting_leave_warning_filters_and_stdout_alone():
    script = textwrap.dedent(
        """
        import sys, warnings
        import numpy, pandas, scipy.optimize, scipy.special, sklearn.base
        from cxml.datasets import load_cdnow
        from cxml.features import FeatureSpec, build_snapshot
        X = build_snapshot(load_cdnow(sample=True), "1997-10-01", FeatureSpec(groups=("btyd",)))
        assert "lifetimes" not in sys.modules
        before = list(warnings.filters)
        import cxml.models
        assert "lifetimes" in sys.modules and "lifetimes.datasets" not in sys.modules
        assert warnings.filters == before, "import changed the warning filters"
        cxml.models.BTYDModel().fit(X)
        assert warnings.filters == before, "fitting changed the warning filters"
        assert "lifetimes.datasets" not in sys.modules
        """
    )
    run = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""


def test_fit_whose_predictions_overflow_is_refused_with_advice():
    # On this simulated cut-off BG/NBD ends near its no-heterogeneity limit (a ~ 7e4,
    # b ~ 1.6e6), where the expected-purchase closed form is NaN for every customer.
    tables, _ = make_synthetic(8000, seed=1)
    X = build_snapshot(tables, "2022-07-01")
    with pytest.raises(ModelFitError, match=r"predictions overflow .*penalizer=0\.001"):
        BTYDModel().fit(X)
    penalized = BTYDModel(penalizer=0.001).fit(X)
    expected = penalized.predict_purchases(X, "13W")
    assert expected[X["frequency"].notna()].notna().all()
