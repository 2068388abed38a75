"""The one module that imports lifetimes: its fitters, with its side effects contained.

cxml fits Pareto/NBD with `ParetoNBDFitter`; the BG/NBD, MBG/NBD and Gamma-Gamma fitters
are the reference that cxml's own fits (`cxml.models.btyd`) are tested and benchmarked
against.

lifetimes 0.11.3 changes the process when used: importing it emits a pandas deprecation
warning and calls ``warnings.simplefilter("ignore", FutureWarning)``; its BG/NBD, MBG/NBD
and Gamma-Gamma likelihoods call that again on every evaluation; and a failed fit prints
the optimizer's report to stdout. Everything here runs inside `contained`, which restores
``warnings.filters`` exactly and captures stdout. ``lifetimes.datasets`` is never imported
(it needs ``pkg_resources``, gone from setuptools >= 82).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator

# lifetimes' dependencies are imported first, outside `contained`, so that the warning
# filters they install at import time (numpy's, scipy's) stay in place.
import numpy  # noqa: F401
import pandas  # noqa: F401
import scipy.optimize
import scipy.special  # noqa: F401


@contextlib.contextmanager
def contained() -> Iterator[io.StringIO]:
    """Run lifetimes code: warning filters restored on exit, stdout captured and yielded."""
    captured = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(captured):
        # Overflow and invalid-value warnings from trial points of the optimizer are noise;
        # a failed fit is detected from its result, not from these.
        warnings.simplefilter("ignore")
        yield captured


with contained():
    from lifetimes import (
        BetaGeoFitter,
        GammaGammaFitter,
        ModifiedBetaGeoFitter,
        ParetoNBDFitter,
    )
    from lifetimes.utils import ConvergenceError

__all__ = [
    "BetaGeoFitter",
    "ConvergenceError",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
    "contained",
]
