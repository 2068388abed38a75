"""Churn and customer-value models."""

from cxml.models.btyd import BTYDModel
from cxml.models.churn import ChurnModel
from cxml.models.clv import CLVModel

__all__ = ["BTYDModel", "CLVModel", "ChurnModel"]
