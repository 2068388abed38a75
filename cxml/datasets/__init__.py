"""Bundled and generated data sets."""

from cxml.datasets.cdnow import load_cdnow
from cxml.datasets.synthetic import (
    CampaignWave,
    SyntheticParams,
    make_synthetic,
    make_synthetic_frames,
    oracle_churn_probability,
    oracle_expected_purchases,
    oracle_expected_value,
    oracle_state,
)

__all__ = [
    "CampaignWave",
    "SyntheticParams",
    "load_cdnow",
    "make_synthetic",
    "make_synthetic_frames",
    "oracle_churn_probability",
    "oracle_expected_purchases",
    "oracle_expected_value",
    "oracle_state",
]
