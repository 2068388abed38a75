"""Scoring rows cast to the model signature: the lower end of the int64 id range, found
untested by a second mutation audit (the upper end is in tests/test_tracking.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.types import ColSpec, Schema

from cxml.errors import DataValidationError
from cxml.tracking import _conform

INTEGER_IDS = Schema([ColSpec("long", "customer_id")])


def test_text_ids_down_to_the_smallest_int64_are_cast_and_below_it_refused() -> None:
    lowest = str(-(2**63))
    conformed = _conform(pd.DataFrame({"customer_id": [lowest, "1"]}), INTEGER_IDS)
    assert conformed["customer_id"].tolist() == [-(2**63), 1]
    assert conformed["customer_id"].dtype == "int64"
    below = str(-(2**63) - 1)
    with pytest.raises(DataValidationError, match=f"(?s)integer ids.*e.g. '{below}'"):
        _conform(pd.DataFrame({"customer_id": ["1", below]}), INTEGER_IDS)
