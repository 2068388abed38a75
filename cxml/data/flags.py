"""True/false columns as users hand them over: booleans, or the numbers 1 and 0."""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_flags(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """`values` as an object Series of True, False and None (missing), and the values that
    are neither booleans nor 1/0 (empty when every value is a flag; the flags are then
    valid). Text such as "no" is never read as a flag."""
    present = values.notna().to_numpy()
    known = values[present]
    if pd.api.types.is_bool_dtype(values.dtype):
        bad = known.iloc[:0]
    elif pd.api.types.is_numeric_dtype(values.dtype):
        bad = known[~known.isin([0, 1])]
    else:  # object or categorical: Python booleans only
        bad = known[[not isinstance(v, bool | np.bool_) for v in known]]
    flags = pd.Series([None] * len(values), index=values.index, dtype=object)
    if bad.empty:
        flags[present] = known.to_numpy(dtype=bool)
    return flags, bad
