"""Trial-to-paid conversion from the optional trial columns of the customers table."""

from __future__ import annotations

import math
from pathlib import Path

import narwhals as nw
import pandas as pd
import pytest

from cxml.data import Tables
from cxml.errors import DataValidationError
from cxml.kpis import compute_kpis
from tests.kpis.shop import CUSTOMERS, END, START, TRANSACTIONS, shop, values


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


#: Trials dated by day: 1 starts Jan 31 and pays Mar 31; 2 starts Feb 1 and pays Apr 1, the end
#: (a date is its midnight: not before the end); 3 starts Mar 31 and never pays.
BY_DAY = CUSTOMERS.assign(
    trial_start=pd.to_datetime(["2023-01-31", "2023-02-01", "2023-03-31", None]),
    paid_start=pd.to_datetime(["2023-03-31", "2023-04-01", None, None]),
)
#: Jan: 1 paid Mar 31 -> 1/1; Feb: 2 paid at the end -> 0/1; Mar: 3 -> 0/1
BY_DAY_RATES = {"2023-01": 1.0, "2023-02": 0.0, "2023-03": 0.0}


@pytest.mark.parametrize("dates", [["trial_start"], ["paid_start"], ["trial_start", "paid_start"]])
def test_trial_columns_may_be_dates_taken_at_midnight(dates: list[str]) -> None:
    customers = BY_DAY.astype(dict.fromkeys(dates, "date32[pyarrow]"))
    assert trial_rates(BY_DAY) == BY_DAY_RATES  # as timestamps
    assert trial_rates(customers) == BY_DAY_RATES


def test_iso_dates_in_a_csv_file_are_trial_dates(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    BY_DAY.to_csv(path, index=False, date_format="%Y-%m-%d")
    tables = Tables(TRANSACTIONS, customers=str(path))
    assert tables.customers.collect_schema()["trial_start"] == nw.Date
    result = compute_kpis(tables, start=START, end=END, kpis=["trial_to_paid_rate"])
    assert values(result, "trial_to_paid_rate") == BY_DAY_RATES


@pytest.mark.parametrize(
    "trial_start", [["soon", "later", None, None], [20230103, 20230110, 20230201, 0]]
)
def test_a_trial_start_that_is_not_a_time_is_a_validation_error(trial_start: list) -> None:
    customers = CUSTOMERS.assign(trial_start=trial_start)
    with pytest.raises(DataValidationError, match="trial_start': must be a timestamp or a date"):
        compute_kpis(shop(customers=customers), start=START, end=END, kpis=["trial_to_paid_rate"])
