"""days_since_contact: which interactions count as contacts and which one is the last."""

from __future__ import annotations

import pandas as pd

from cxml.actions.contacts import days_since_contact
from cxml.data import Tables

TX = pd.DataFrame(
    {"customer_id": ["x", "y"], "timestamp": pd.Timestamp("2023-01-01"), "amount": 1.0}
)


def since(events: list[tuple[str, str, str]]) -> dict[str, float]:
    """Days since the last email contact at 2023-03-10 from (customer, date, event) rows."""
    customers, dates, kinds = zip(*events, strict=True)
    ix = pd.DataFrame(
        {
            "customer_id": list(customers),
            "timestamp": pd.to_datetime(list(dates)),
            "event_type": list(kinds),
            "channel": "email",
        }
    )
    frame = days_since_contact(
        Tables(TX, ix), "2023-03-10", ["email"], ["campaign_contact", "email_sent"]
    )
    return frame["days_since_contact_email"].to_dict()


def test_days_are_counted_from_the_last_contact() -> None:
    """With two contacts on a channel the cool-down runs from the later one, not the first."""
    given = [("x", "2023-02-01", "email_sent"), ("x", "2023-03-05", "campaign_contact")]
    assert since(given) == {"x": 5.0}


def test_an_interaction_that_is_not_a_contact_does_not_count() -> None:
    """A web visit on the channel is not the firm contacting the customer."""
    given = [("x", "2023-03-01", "email_sent"), ("x", "2023-03-08", "web_visit")]
    given.append(("y", "2023-03-09", "web_visit"))
    assert since(given) == {"x": 9.0}
