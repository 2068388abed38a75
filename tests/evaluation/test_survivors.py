"""Edge cases of the CLV metrics and of `evaluate` that a second mutation audit found
untested: undefined metrics come back as NaN without numpy or scipy warnings, an ambiguous
metric lookup is refused, and a bad holdout value is named as the argument the caller gave."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from cxml.errors import ParameterError
from cxml.evaluation import clv_metrics, normalized_gini
from cxml.evaluation.holdout import evaluate


def test_gini_of_values_that_sum_to_zero_is_nan_without_warnings() -> None:
    """Refunds can cancel purchases: the Lorenz curve divided by the zero total."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(normalized_gini([-5.0, 5.0, 0.0], [1.0, 2.0, 3.0]))


def test_spearman_of_a_constant_prediction_is_nan_without_warnings() -> None:
    """A constant predictor has no rank order; scipy warned about constant input."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        metrics = clv_metrics(np.arange(12.0), np.full(12, 3.0))
    assert math.isnan(metrics["spearman"])


def test_a_metric_two_tasks_give_one_model_name_is_refused_not_picked() -> None:
    """A model named the same for churn and CLV has two "n" rows; the first was returned."""
    result = evaluate(
        churned=[0, 1, 0, 1],
        churn_scores={"both": [0.1, 0.8, 0.3, 0.6]},
        value=[1.0, 2.0, 3.0, 4.0],
        clv_predictions={"both": [1.5, 2.0, 2.5, 4.0]},
        figures=False,
    )
    with pytest.raises(
        ParameterError, match=r"'n' of model 'both' is ambiguous: the tasks \['churn', 'clv'\]"
    ):
        result.metric("both", "n")
    assert result.metric("both", "roc_auc") == 1.0  # a metric of one task only is found


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1.0, math.nan], "value has 1 NaN or infinite value"),
        (["a", "b"], "value must be a 1-D array of numbers"),
    ],
)
def test_a_bad_holdout_value_is_refused_naming_the_value_argument(value, problem) -> None:
    """The CLV metrics' own check named it y_true, or text raised a bare ValueError."""
    with pytest.raises(ParameterError, match=problem):
        evaluate(value=value, clv_predictions={"clv": [1.0, 2.0]}, figures=False)
