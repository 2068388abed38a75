"""Churn and customer-value models."""

from cxml.models.btyd import BTYDModel
from cxml.models.churn import ChurnModel

__all__ = ["BTYDModel", "ChurnModel"]
