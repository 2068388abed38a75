"""ChurnModel: the scikit-learn contract, the time-based split, calibration, contributions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.estimator_checks import check_estimator

from cxml.datasets import make_synthetic
from cxml.errors import ParameterError
from cxml.features import FeatureSpec, build_training_frame
from cxml.models.churn import ChurnModel

#: scikit-learn checks that skip themselves for ChurnModel, and why.
SKIPPED_CHECKS = {
    "check_array_api_input": "array-API inputs are not claimed; scikit-learn runs this check "
    "only with SCIPY_ARRAY_API=1",
}


def test_scikit_learn_estimator_checks_pass():
    results = check_estimator(ChurnModel(n_estimators=30), on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    assert failed == {}
    assert skipped == set(SKIPPED_CHECKS)
    assert len(results) > 40


def _frame(
    n: int, seed: int, *, shift: float = 0.0, with_truth: bool = False
) -> tuple[pd.DataFrame, pd.Series] | tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """Churn depends on recency, a categorical segment and noise, with a known probability."""
    rng = np.random.default_rng(seed)
    recency = rng.exponential(60, n)
    segment = rng.choice(["gold", "silver", "bronze"], n)
    noise = rng.normal(size=n)
    logit = -2 + recency / 40 + np.where(segment == "bronze", 1.0, 0.0) + shift
    p = 1 / (1 + np.exp(-logit))
    X = pd.DataFrame({"recency": recency, "segment": pd.Categorical(segment), "noise": noise})
    y = pd.Series(rng.random(n) < p, name="churned").astype(int)
    return (X, y, p) if with_truth else (X, y)


def test_validation_slice_is_the_latest_cutoff():
    X1, y1 = _frame(3000, 1)
    X2, y2 = _frame(3000, 2)
    X = pd.concat(
        [
            X1.assign(cutoff=pd.Timestamp("2021-01-01")),
            X2.assign(cutoff=pd.Timestamp("2021-04-01")),
        ],
        ignore_index=True,
    )
    model = ChurnModel(n_estimators=200).fit(X, pd.concat([y1, y2], ignore_index=True))
    assert model.validation_cutoff_ == pd.Timestamp("2021-04-01")
    assert "cutoff" not in model.feature_names_in_
    assert model.booster_.n_features_in_ == 3


def test_calibrated_probabilities_match_observed_rates():
    X, y = _frame(20_000, 3)
    model = ChurnModel(n_estimators=300, calibration="auto").fit(X, y)
    X_test, _, truth = _frame(20_000, 4, with_truth=True)
    p = model.predict_proba(X_test)[:, 1]
    # Compare with the true churn probabilities, binned by prediction: only the model's
    # estimation error remains, not the test labels' sampling noise.
    bins = pd.qcut(p, 10, labels=False, duplicates="drop")
    gaps = pd.DataFrame({"p": p, "truth": truth, "b": bins}).groupby("b").mean()
    assert (gaps["p"] - gaps["truth"]).abs().max() < 0.04
    assert model.calibration_ in ("isotonic", "sigmoid")


def test_categories_unseen_at_fit_do_not_break_prediction():
    X, y = _frame(2000, 5)
    model = ChurnModel(n_estimators=50).fit(X, y)
    X_new = X.head(5).copy()
    X_new["segment"] = pd.Categorical(["platinum", "gold", "gold", "silver", "bronze"])
    p = model.predict_proba(X_new)[:, 1]
    assert np.isfinite(p).all()


def test_contributions_sum_to_the_raw_score():
    X, y = _frame(2000, 6)
    model = ChurnModel(n_estimators=50).fit(X, y)
    contrib = model.contributions(X.head(50))
    raw = model.booster_.predict(X.head(50), raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, rtol=1e-6, atol=1e-9)
    assert list(contrib.columns) == ["recency", "segment", "noise", "bias"]
    # recency drives churn; noise does not
    assert model.feature_importances_.index[0] == "recency"
    assert model.feature_importances_["noise"] < model.feature_importances_["recency"] / 2


def test_one_class_is_a_clear_error():
    X, _ = _frame(100, 7)
    with pytest.raises(ParameterError, match=r"both churned and retained.*1 class.*: 0\.0"):
        ChurnModel().fit(X, np.zeros(100))


def _with_missing(y: pd.Series, kind: str) -> pd.Series:
    """Churn labels `y` with the first 3 missing, as `kind` holds them."""
    gone = pd.Series(np.arange(len(y)) < 3, index=y.index)
    if kind == "boolean":
        return y.astype("boolean").mask(gone)
    if kind == "Int64":
        return y.astype("Int64").mask(gone)
    if kind == "object":
        return y.astype(bool).astype(object).mask(gone, None)
    return y.astype(float).mask(gone)


@pytest.mark.parametrize("kind", ["boolean", "Int64", "object", "float"])
def test_missing_labels_are_a_clear_error_that_says_to_leave_those_customers_out(kind):
    X, y = _frame(200, 7)
    with pytest.raises(ParameterError, match=r"3 missing churn label\(s\) out of 200") as info:
        ChurnModel(n_estimators=5).fit(X, _with_missing(y, kind))
    assert "frame[frame['churned'].notna()]" in str(info.value)


def test_contractual_churn_frame_with_customers_churned_already_is_refused_clearly():
    """The auditor's case: scikit-learn's "Unknown label type: unknown" instead."""
    tables, _ = make_synthetic(300, seed=1, cancellations=True)
    spec = FeatureSpec(event_types=("web_visit", "cancellation"))
    frame = build_training_frame(
        tables, ["2023-01-01", "2023-04-01"], "90D", spec, churn_event="cancellation"
    )
    missing = int(frame["churned"].isna().sum())
    assert missing > 0
    features = frame.drop(columns=["churned", "future_transactions", "future_value"])
    with pytest.raises(ParameterError, match=f"{missing:,} missing churn label"):
        ChurnModel(n_estimators=5, n_jobs=1).fit(features, frame["churned"])
    at_risk = frame["churned"].notna()
    model = ChurnModel(n_estimators=5, n_jobs=1).fit(features[at_risk], frame["churned"][at_risk])
    np.testing.assert_array_equal(model.classes_, [False, True])


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (lambda n: np.linspace(0.1, 0.9, n), "two classes of churn labels.*Unknown label type"),
        (lambda n: np.arange(n) % 3, r"3 class\(es\): 0, 1, 2"),
        (lambda n: np.arange(n) % 7, r"7 class\(es\): 0, 1, 2, 3, 4, \.\.\."),
    ],
)
def test_labels_other_than_two_classes_are_a_clear_error(labels, message):
    X, _ = _frame(210, 7)
    with pytest.raises(ParameterError, match=message):
        ChurnModel(n_estimators=5).fit(X, labels(210))


def test_labels_of_another_length_than_x_are_refused():
    X, y = _frame(100, 7)
    with pytest.raises(ParameterError, match="X has 100 rows but y has 99"):
        ChurnModel(n_estimators=5).fit(X, y.iloc[:-1])


@pytest.mark.parametrize(
    ("params", "name"),
    [({"n_estimators": 0}, "n_estimators"), ({"calibration": "platt"}, "calibration")],
)
def test_invalid_parameters_raise_cxml_parameter_error_at_fit(params, name):
    """As BTYDModel does, not scikit-learn's InvalidParameterError."""
    X, y = _frame(100, 7)
    with pytest.raises(ParameterError, match=f"'{name}' parameter of ChurnModel"):
        ChurnModel(**params).fit(X, y)


def test_clone_keeps_parameters_and_drops_state():
    model = ChurnModel(num_leaves=7, calibration="sigmoid")
    X, y = _frame(500, 8)
    copy = clone(model.fit(X, y))
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "booster_")


def test_booster_never_trains_on_the_validation_cutoff():
    X1, y1 = _frame(1000, 9)
    X2, y2 = _frame(400, 10)
    X = pd.concat([X1.assign(cutoff=1), X2.assign(cutoff=2)], ignore_index=True)
    model = ChurnModel(n_estimators=20).fit(X, pd.concat([y1, y2], ignore_index=True))
    trees = model.booster_.booster_.trees_to_dataframe()
    root = trees[(trees["tree_index"] == 0) & (trees["node_depth"] == 1)]
    assert int(root["count"].iloc[0]) == 1000  # rows the first tree was grown on


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic", "none"])
def test_one_pass_probabilities_are_predict_proba_exactly(calibration):
    X, y = _frame(3000, 11)
    X.loc[X.index[::7], "segment"] = None  # missing categories take their own branch
    X["cutoff"] = np.repeat([1, 2], [2000, 1000])
    model = ChurnModel(n_estimators=60, calibration=calibration).fit(X, y)
    X_new, _ = _frame(500, 12)
    X_new["cutoff"] = 3
    probability, names, strengths = model.predict_with_drivers(X_new, k=2)
    expected = model.predict_proba(X_new)[:, 1]
    if calibration == "none":  # numpy's exp, not LightGBM's: equal to rounding
        np.testing.assert_allclose(probability, expected, rtol=1e-15, atol=0)
    else:
        np.testing.assert_array_equal(probability, expected)
    top_names, top_strengths = model.top_drivers(X_new, k=2)
    pd.testing.assert_frame_equal(names, top_names)
    pd.testing.assert_frame_equal(strengths, top_strengths)
    assert list(names.columns) == [1, 2] and (names.index == X_new.index).all()


@pytest.fixture(scope="module")
def two_cutoffs() -> tuple[pd.DataFrame, pd.Series, ChurnModel]:
    """A frame with two cut-offs (the later one validates) and an auto-calibrated model."""
    X, y = _frame(3000, 13)
    X["cutoff"] = np.repeat([1, 2], [2000, 1000])
    return X, y, ChurnModel(n_estimators=60).fit(X, y)


def test_auto_calibration_picks_the_lower_cross_validated_log_loss(two_cutoffs):
    """Guards against "auto" choosing the calibrator with the higher validation log loss."""
    X, y, model = two_cutoffs
    val = (X["cutoff"] == 2).to_numpy()
    X_val, y_val = X[val].drop(columns="cutoff"), y.to_numpy()[val]
    folds = StratifiedKFold(2, shuffle=True, random_state=model.random_state)
    losses = {}
    for method in ("isotonic", "sigmoid"):
        calibrator = CalibratedClassifierCV(FrozenEstimator(model.booster_), method=method, cv=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            p = cross_val_predict(calibrator, X_val, y_val, cv=folds, method="predict_proba")
        losses[method] = log_loss(y_val, np.clip(p[:, 1], 1e-6, 1 - 1e-6), labels=[0, 1])
    assert losses["isotonic"] != losses["sigmoid"]
    assert model.calibration_ == min(losses, key=losses.get)


def test_calibrator_is_fitted_on_the_validation_cutoff_only(two_cutoffs):
    """Guards against calibrating on the booster's own training rows."""
    X, y, model = two_cutoffs
    val = (X["cutoff"] == 2).to_numpy()
    expected = CalibratedClassifierCV(
        FrozenEstimator(model.booster_), method=model.calibration_, cv=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected.fit(X[val].drop(columns="cutoff"), y.to_numpy()[val])
    X_new, _ = _frame(500, 14)
    np.testing.assert_array_equal(model.predict_proba(X_new), expected.predict_proba(X_new))


def test_a_row_predicts_alone_as_in_a_batch_whatever_categories_the_batch_holds(two_cutoffs):
    """Guards against rebuilding categories from the batch at predict time (codes shift)."""
    _, _, model = two_cutoffs
    X_new, _ = _frame(300, 15)
    silver = X_new.index[X_new["segment"] == "silver"][:5]
    together, names, drivers = model.predict_with_drivers(X_new, k=2)
    for i in silver:
        alone = X_new.loc[[i]].copy()
        alone["segment"] = alone["segment"].astype(str)  # only "silver" present
        p, n, d = model.predict_with_drivers(alone, k=2)
        assert p[0] == together[X_new.index.get_loc(i)]
        pd.testing.assert_frame_equal(n, names.loc[[i]])
        pd.testing.assert_frame_equal(d, drivers.loc[[i]])
