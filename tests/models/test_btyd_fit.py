"""BTYDModel's own BG/NBD, MBG/NBD and Gamma-Gamma maximum likelihood: the objective equals
lifetimes' at any point (Gamma-Gamma's on spend in units of its mean), its gradient equals
finite differences, and the fit equals lifetimes' fit on CDNOW and on simulated customers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxml.datasets import load_cdnow, make_synthetic
from cxml.features import FeatureSpec, build_snapshot
from cxml.models import BTYDModel, btyd
from cxml.models import lifetimes_compat as lt

EXTRA = {"bgnbd": 0, "mbgnbd": 1}
FITTERS = {"bgnbd": lt.BetaGeoFitter, "mbgnbd": lt.ModifiedBetaGeoFitter}
THETAS = [np.full(4, 0.1), np.array([-1.4, -2.2, -0.2, 0.9]), np.array([0.7, 1.5, 1.2, -0.8])]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return build_snapshot(
        load_cdnow(sample=True), "1997-10-01", FeatureSpec(groups=("btyd",), time_unit="W")
    )


def _simulate(n: int, seed: int) -> pd.DataFrame:
    """BG/NBD purchasing (r=0.5, alpha=5 weeks, a=0.8, b=3) and Gamma-Gamma spend (p=6, q=4,
    gamma=15), observed for 1 to 104 whole weeks and recorded to the day, so that histories
    repeat."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 105, n) * 1.0
    rate, dropout = rng.gamma(0.5, 1 / 5, n), rng.beta(0.8, 3.0, n)
    immortal = rng.poisson(rate * T)  # purchases in (0, T] without drop-out
    x = np.minimum(immortal, rng.geometric(dropout))  # drop-out right after the k-th
    # The x-th of `immortal` uniform purchase times in (0, T].
    last = T * rng.beta(np.maximum(x, 1), immortal - x + 1)
    tx = np.where(x > 0, np.floor(last * 7) / 7, 0.0)
    nu = rng.gamma(4.0, 1 / 15.0, n)
    m = np.where(x > 0, rng.gamma(6.0 * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)
    return pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary_value": m})


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return _simulate(20_000, seed=7)


def _columns(X: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(X[c].to_numpy(dtype="float64") for c in btyd.BTYD_COLUMNS)


def _repeaters(X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    repeaters = X[X["frequency"] > 0]
    return repeaters["frequency"].to_numpy(float), repeaters["monetary_value"].to_numpy(float)


# ------------------------------------------------------------------ objective and gradient


@pytest.mark.parametrize("model", EXTRA)
@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_purchase_objective_equals_lifetimes_negative_log_likelihood(request, model, data):
    X = request.getfixturevalue(data)
    x, tx, T = _columns(X)
    likelihood = btyd._BetaGeometricLikelihood(EXTRA[model], x, tx, T)
    scale = 1 / T.max()
    for theta in THETAS:
        ours, _ = likelihood(theta)
        with lt.contained():
            theirs = FITTERS[model]._negative_log_likelihood(
                theta, x.astype(int), tx * scale, T * scale, np.ones(len(x)), 0.0
            )
        # lifetimes rescales time so that the largest T is 1: its log-likelihood is larger
        # by x log(max T) per customer.
        assert ours == pytest.approx(theirs + x.mean() * np.log(T.max()), rel=1e-12)


def _mean_repeat_purchase(x: np.ndarray, m: np.ndarray) -> float:
    return (x * m).sum() / x.sum()


@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_spend_objective_equals_lifetimes_negative_log_likelihood(request, data):
    x, m = _repeaters(request.getfixturevalue(data))
    likelihood = btyd._GammaGammaLikelihood(x, m)
    # The spends are fitted in units of the mean value of a repeat purchase.
    scaled = m / _mean_repeat_purchase(x, m)
    for theta in (np.full(3, 0.1), np.array([1.8, 1.3, 2.7]), np.array([-0.5, 2.0, 0.3])):
        with lt.contained():
            theirs = lt.GammaGammaFitter._negative_log_likelihood(
                theta, x, scaled, np.ones(len(x)), 0.0
            )
        assert likelihood(theta)[0] == pytest.approx(theirs, rel=1e-12)


def _finite_difference(likelihood, theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    return np.array(
        [
            (likelihood(theta + e)[0] - likelihood(theta - e)[0]) / (2 * step)
            for e in np.eye(len(theta)) * step
        ]
    )


@pytest.mark.parametrize("model", EXTRA)
def test_purchase_gradient_equals_finite_differences(simulated, model):
    likelihood = btyd._BetaGeometricLikelihood(EXTRA[model], *_columns(simulated))
    for theta in THETAS:
        _, gradient = likelihood(theta)
        np.testing.assert_allclose(
            gradient, _finite_difference(likelihood, theta), rtol=1e-6, atol=1e-8
        )


def test_spend_gradient_equals_finite_differences(simulated):
    likelihood = btyd._GammaGammaLikelihood(*_repeaters(simulated))
    for theta in (np.full(3, 0.1), np.array([1.8, 1.3, 2.7]), np.array([-0.5, 2.0, 0.3])):
        _, gradient = likelihood(theta)
        np.testing.assert_allclose(
            gradient, _finite_difference(likelihood, theta), rtol=1e-6, atol=1e-8
        )


def test_histories_too_varied_for_one_code_are_fitted_uncollapsed(simulated, monkeypatch):
    x, tx, T = _columns(simulated)
    collapsed = btyd._BetaGeometricLikelihood(0, x, tx, T)
    monkeypatch.setattr(btyd, "_MAX_HISTORY_CODE", 0)
    uncollapsed = btyd._BetaGeometricLikelihood(0, x, tx, T)
    assert len(collapsed.w) < len(uncollapsed.w) == (x > 0).sum()
    for theta in THETAS:
        np.testing.assert_allclose(uncollapsed(theta)[0], collapsed(theta)[0], rtol=1e-13)
        np.testing.assert_allclose(uncollapsed(theta)[1], collapsed(theta)[1], rtol=1e-11)


# ------------------------------------------------------------------ fit = lifetimes' fit


def _lifetimes_fit(model: str, X: pd.DataFrame, penalizer: float):
    with lt.contained():
        return FITTERS[model](penalizer_coef=penalizer).fit(X["frequency"], X["recency"], X["T"])


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
@pytest.mark.parametrize("model", EXTRA)
@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_purchase_fit_equals_lifetimes_fit(request, data, model, penalizer):
    X = request.getfixturevalue(data)
    ours = BTYDModel(model, spend=None, penalizer=penalizer, time_unit="W").fit(X)
    theirs = _lifetimes_fit(model, X, penalizer)
    # lifetimes' BFGS stops at a gradient of 1e-7, this fit at 1e-9: both are the optimum
    # to ~1e-6.
    np.testing.assert_allclose(ours.params_.to_numpy(), theirs.params_.to_numpy(), rtol=1e-5)
    x, tx, T = _columns(X)
    scale = 1 / T.max()
    ours_scaled = np.log(ours.params_.to_numpy() * [1, scale, 1, 1])
    with lt.contained():
        ours_by_theirs = theirs._negative_log_likelihood(
            ours_scaled, x.astype(int), tx * scale, T * scale, np.ones(len(x)), penalizer
        )
    # By lifetimes' own objective, this optimum is at least as good as lifetimes'.
    assert ours_by_theirs <= theirs._negative_log_likelihood_ + 1e-12
    if penalizer == 0:
        theirs_log_likelihood = -len(X) * theirs._negative_log_likelihood_
        unscaled = theirs_log_likelihood - x.sum() * np.log(T.max())
        assert ours.log_likelihood_ == pytest.approx(unscaled, rel=1e-6)


@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_spend_fit_equals_lifetimes_fit(request, data):
    X = request.getfixturevalue(data)
    x, m = _repeaters(X)
    ours = BTYDModel(time_unit="W").fit(X)
    with lt.contained():
        theirs = lt.GammaGammaFitter().fit(x, m)
        ours_by_theirs = theirs._negative_log_likelihood(
            np.log(ours.spend_params_.to_numpy()), x, m, np.ones(len(x)), 0.0
        )
    np.testing.assert_allclose(ours.spend_params_.to_numpy(), theirs.params_.to_numpy(), rtol=1e-5)
    assert ours_by_theirs <= theirs._negative_log_likelihood_ + 1e-12
    assert ours.spend_log_likelihood_ == pytest.approx(
        -len(x) * theirs._negative_log_likelihood_, rel=1e-6
    )


@pytest.mark.parametrize("data", ["cdnow", "simulated"])
def test_penalized_spend_fit_is_lifetimes_fit_in_units_of_the_mean_repeat_purchase(request, data):
    """The penalty is on p, q and gamma / mean repeat purchase, all unitless; lifetimes'
    GammaGammaFitter penalizes gamma in currency units."""
    X = request.getfixturevalue(data)
    x, m = _repeaters(X)
    scale = _mean_repeat_purchase(x, m)
    ours = BTYDModel(penalizer=0.01, time_unit="W").fit(X).spend_params_.to_numpy()
    with lt.contained():
        theirs = lt.GammaGammaFitter(penalizer_coef=0.01).fit(x, m / scale)
    np.testing.assert_allclose(ours, theirs.params_.to_numpy() * [1, 1, scale], rtol=1e-5)


def test_a_line_search_that_stalls_near_the_optimum_is_finished_by_newton_steps():
    """L-BFGS-B stopped ABNORMAL at 3e-7 from the Gamma-Gamma optimum of this simulated
    snapshot (largest gradient 1.5e-7, lifetimes' test 1e-7) and the fit was refused."""
    tables, _ = make_synthetic(4000, seed=5)
    X = build_snapshot(tables, "2023-04-01", FeatureSpec(time_unit="D", windows=(30,)))
    x, m = _repeaters(X)
    ours = BTYDModel().fit(X).spend_params_.to_numpy()
    with lt.contained():
        theirs = lt.GammaGammaFitter().fit(x, m)
    np.testing.assert_allclose(ours, theirs.params_.to_numpy(), rtol=1e-5)


def test_newton_steps_reach_a_minimum_and_stop_where_there_is_none():
    def bowl(theta: np.ndarray) -> tuple[float, np.ndarray]:
        shifted = theta - [1.0, -2.0]
        return float(shifted @ shifted + shifted[0] ** 4), 2 * shifted + [4 * shifted[0] ** 3, 0]

    start = np.array([1.001, -1.999])
    theta, value, gradient = btyd._newton(bowl, start, *bowl(start))
    np.testing.assert_allclose(theta, [1.0, -2.0], atol=1e-9)
    assert np.max(np.abs(gradient)) <= 1e-7
    assert value == pytest.approx(0.0, abs=1e-15)

    def saddle(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(theta[0] ** 2 - theta[1] ** 2), np.array([2 * theta[0], -2 * theta[1]])

    start = np.array([0.1, 0.1])
    theta, *_ = btyd._newton(saddle, start, *saddle(start))
    np.testing.assert_array_equal(theta, start)


def test_fit_recovers_the_simulated_parameters():
    X = _simulate(200_000, seed=11)
    model = BTYDModel(time_unit="W").fit(X)
    np.testing.assert_allclose(model.params_.to_numpy(), [0.5, 5.0, 0.8, 3.0], rtol=0.1)
    np.testing.assert_allclose(model.spend_params_.to_numpy(), [6.0, 4.0, 15.0], rtol=0.1)
