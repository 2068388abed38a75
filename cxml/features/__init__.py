"""Point-in-time customer snapshots and labels."""

from cxml.features.catalogue import catalogue
from cxml.features.labels import build_labels, build_training_frame
from cxml.features.snapshot import build_snapshot
from cxml.features.spec import FeatureSpec, parse_horizon

__all__ = [
    "FeatureSpec",
    "build_labels",
    "build_snapshot",
    "build_training_frame",
    "catalogue",
    "parse_horizon",
]
