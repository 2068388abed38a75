"""The data contract: cxml's canonical tables, their columns and the event-type vocabulary.

User tables are mapped onto these names once, at the edge (see `cxml.data.Tables`); every
layer below reads only canonical names and types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "timestamp", "float", "bool", "string"]


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, logical kind and whether a table must have it."""

    name: str
    kind: Kind
    required: bool
    description: str


@dataclass(frozen=True)
class TableSchema:
    """A canonical table. `keep_extra` says whether unmapped user columns are passed through."""

    name: str
    columns: tuple[Column, ...]
    keep_extra: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TRANSACTIONS = TableSchema(
    "transactions",
    (
        Column("customer_id", "id", True, "who bought"),
        Column("timestamp", "timestamp", True, "when (naive UTC after loading)"),
        Column("amount", "float", True, "order-line value, >= 0; a return's refunded value"),
        Column("order_id", "id", False, "groups lines into orders"),
        Column("quantity", "float", False, "units"),
        Column("category", "string", False, "product category"),
        Column("channel", "string", False, "sales channel"),
        Column("discount", "float", False, "discount given on the line, same currency as amount"),
        Column("is_return", "bool", False, "the line is a return (amount is refunded)"),
    ),
)

INTERACTIONS = TableSchema(
    "interactions",
    (
        Column("customer_id", "id", True, "who interacted"),
        Column("timestamp", "timestamp", True, "when (naive UTC after loading)"),
        Column("event_type", "string", True, "what happened; see EVENT_TYPES"),
        Column("channel", "string", False, "web, app, email, phone, store, ..."),
        Column("value", "float", False, "survey score, or support resolution time in hours"),
        Column("resolved_first_contact", "bool", False, "support ticket solved at first contact"),
        Column("campaign_id", "string", False, "campaign or action id of a contact"),
        Column("treatment", "bool", False, "contact was treated (True) or held out (False)"),
    ),
)

CUSTOMERS = TableSchema(
    "customers",
    (
        Column("customer_id", "id", True, "one row per customer"),
        Column("signup_date", "timestamp", False, "when the customer was acquired"),
    ),
    keep_extra=True,
)

SCHEMAS: dict[str, TableSchema] = {s.name: s for s in (TRANSACTIONS, INTERACTIONS, CUSTOMERS)}

#: Canonical interaction event types and what their `value` means. Other types are allowed
#: and kept; the feature catalogue counts the types it is asked to.
EVENT_TYPES: dict[str, str] = {
    "web_visit": "a web session",
    "app_visit": "an app session",
    "email_sent": "a marketing e-mail delivered",
    "email_open": "a marketing e-mail opened",
    "email_click": "a click in a marketing e-mail",
    "support_ticket": "a support contact; value = resolution time in hours",
    "nps": "Net Promoter survey answer; value in 0..10",
    "csat": "satisfaction survey answer; value in 1..5",
    "ces": "Customer Effort Score answer; value in 1..7 (higher = more effort)",
    "referral": "the customer referred someone",
    "campaign_contact": "a marketing action reached the customer (campaign_id, treatment)",
    "cancellation": "a contract was cancelled (contractual churn)",
}

#: Event types the business starts (and keeps sending after a customer has gone).
FIRM_INITIATED = ("email_sent", "campaign_contact")
#: Event types that are not a customer's engagement: those and the end of a contract.
NOT_TOUCHES = (*FIRM_INITIATED, "cancellation")

#: Valid ranges of `value` for survey event types (inclusive).
SURVEY_RANGES: dict[str, tuple[float, float]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
