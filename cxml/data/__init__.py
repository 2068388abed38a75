"""Data layer: the canonical contract, validated `Tables`, and the engine underneath."""

from cxml.data.contract import (
    CUSTOMERS,
    EVENT_TYPES,
    FIRM_INITIATED,
    INTERACTIONS,
    NOT_TOUCHES,
    TRANSACTIONS,
)
from cxml.data.tables import Tables
from cxml.data.validation import DataQualityWarning
from cxml.errors import DataValidationError

__all__ = [
    "CUSTOMERS",
    "EVENT_TYPES",
    "FIRM_INITIATED",
    "INTERACTIONS",
    "NOT_TOUCHES",
    "TRANSACTIONS",
    "DataQualityWarning",
    "DataValidationError",
    "Tables",
]
