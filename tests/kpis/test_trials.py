"""Trial-to-paid conversion from the optional trial columns of the customers table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from cxml.errors import DataValidationError
from cxml.kpis import compute_kpis
from tests.kpis.shop import CUSTOMERS, END, START, shop, values


def trial_rates(customers: pd.DataFrame) -> dict[str, float]:
    result = compute_kpis(
        shop(customers=customers), start=START, end=END, kpis=["trial_to_paid_rate"]
    )
    return values(result, "trial_to_paid_rate")


def test_conversion_by_paid_start_counts_only_payments_before_the_end() -> None:
    # Jan trials: 1 (paid Jan 17), 2 (never) -> 1/2; Feb: 3 (paid Apr 15, after the end) -> 0/1;
    # Mar: no trial -> undefined
    rates = trial_rates(CUSTOMERS)
    assert rates["2023-01"] == 0.5 and rates["2023-02"] == 0.0 and math.isnan(rates["2023-03"])


def test_conversion_by_a_converted_flag_takes_the_flag_as_it_stands() -> None:
    flagged = CUSTOMERS.drop(columns="paid_start").assign(converted=[True, False, True, False])
    # Jan 1/2; Feb 1/1
    rates = trial_rates(flagged)
    assert (rates["2023-01"], rates["2023-02"]) == (0.5, 1.0)
    # An unknown flag is not a conversion: Jan 1/2 again with customer 2's flag missing
    unknown = flagged.assign(converted=pd.array([True, None, True, False], dtype="boolean"))
    assert trial_rates(unknown)["2023-01"] == 0.5


@pytest.mark.parametrize("drop", [["trial_start"], ["paid_start"]])
def test_without_trial_fields_conversion_is_not_available(drop: list[str]) -> None:
    result = compute_kpis(
        shop(customers=CUSTOMERS.drop(columns=drop)),
        start=START,
        end=END,
        kpis=["trial_to_paid_rate"],
    )
    assert not result["available"].any() and result["value"].isna().all()
    assert (
        result["reason"].iloc[0]
        == "the customers table needs trial_start and paid_start or converted"
    )


def test_a_trial_start_that_is_not_a_timestamp_is_a_validation_error() -> None:
    text = CUSTOMERS.assign(trial_start=["soon", "later", None, None])
    with pytest.raises(DataValidationError, match="trial_start"):
        compute_kpis(shop(customers=text), start=START, end=END, kpis=["trial_to_paid_rate"])
