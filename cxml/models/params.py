"""The parameter check every cxml estimator runs at fit."""

from __future__ import annotations

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import InvalidParameterError

from cxml.errors import ParameterError


def validate_params(estimator: BaseEstimator) -> None:
    """scikit-learn's check of `estimator`'s parameters against its
    ``_parameter_constraints``, failing with cxml's ParameterError instead of scikit-learn's
    InvalidParameterError."""
    try:
        estimator._validate_params()
    except InvalidParameterError as exc:
        raise ParameterError(str(exc)) from None
