"""Bundled and generated data sets."""

from cxml.datasets.cdnow import load_cdnow

__all__ = ["load_cdnow"]
