"""Pipeline settings a second mutation audit found unchecked by the tests: risk thresholds
that leave a risk segment empty are refused before any work."""

from __future__ import annotations

import pytest

from cxml.errors import ParameterError
from cxml.pipeline import Pipeline
from tests.kpis.shop import shop


@pytest.mark.parametrize("thresholds", [(0.5, 0.5), (0.0, 0.5), (0.5, 1.0)])
def test_risk_thresholds_that_leave_a_segment_empty_are_refused(thresholds) -> None:
    """Equal thresholds leave no medium risk; 0 no low risk, 1 no high risk."""
    pipeline = Pipeline(["2023-02-01"], "1M", risk_thresholds=thresholds)
    with pytest.raises(ParameterError, match=r"risk_thresholds must satisfy 0 < low < high < 1"):
        pipeline.fit(shop())
