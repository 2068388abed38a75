"""A corpus of malformed inputs: each must fail at the edge with one exact, named error.

Every case states the exception class, the table, the column and the rule it must report,
and a piece of the detail (usually an offending value) that must appear in the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxml.data import Tables
from cxml.errors import CxmlError, DataValidationError, ParameterError, SourceError

TOMORROW = f"{dt.datetime.now(dt.UTC) + dt.timedelta(days=1):%Y-%m-%d}"
DEFAULT_RANGE = f"[1970-01-01, {TOMORROW}]"
RANGE_2000S = ("2000-01-01", "2030-01-01")


def tx(**columns: Any) -> pd.DataFrame:
    """Three valid transaction lines; keyword arguments replace or add columns."""
    base = {
        "customer_id": [101, 102, 103],
        "timestamp": pd.to_datetime(["2023-01-01 00:00", "2023-01-02 12:00", "2023-01-03 00:00"]),
        "amount": [10.0, 20.0, 30.0],
    }
    return pd.DataFrame({**base, **columns})


def ix(**columns: Any) -> pd.DataFrame:
    """Three valid interactions of the customers in `tx`."""
    base = {
        "customer_id": [101, 102, 103],
        "timestamp": pd.to_datetime(["2023-01-01", "2023-01-02", "2023-01-03"]),
        "event_type": ["web_visit", "nps", "csat"],
        "value": [None, 9.0, 4.0],
    }
    return pd.DataFrame({**base, **columns})


def cu(**columns: Any) -> pd.DataFrame:
    """Three valid customers."""
    base = {
        "customer_id": [101, 102, 103],
        "signup_date": pd.to_datetime(["2022-01-01", "2022-06-01", "2022-12-01"]),
        "segment": ["a", "b", "a"],
    }
    return pd.DataFrame({**base, **columns})


def write_csv(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def write_parquet(folder: Path, name: str, frame: pd.DataFrame) -> str:
    path = folder / name
    frame.to_parquet(path, index=False)
    return str(path)


def csv_lines(rows: list[str], header: str = "customer_id,timestamp,amount") -> str:
    return "\n".join([header, *rows]) + "\n"


@dataclass(frozen=True)
class Case:
    """One malformed input and the error it must raise.

    `build` returns the keyword arguments of `Tables` (given a temporary folder). For a
    `DataValidationError`, `rule` must equal `err.rule`; for other errors it must occur in
    the message, as must ``table '<table>'``.
    """

    id: str
    build: Callable[[Path], dict[str, Any]]
    error: type[CxmlError]
    table: str
    column: str | None
    rule: str
    detail: str


CASES: list[Case] = [
    # --- transactions, pandas: columns and types -------------------------------------------
    Case(
        "missing_required_column",
        lambda p: {"transactions": tx().drop(columns="amount")},
        DataValidationError,
        "transactions",
        "amount",
        "missing required column(s) ['amount']",
        "columns present: ['customer_id', 'timestamp']",
    ),
    Case(
        "missing_columns_suggests_mapping",
        lambda p: {"transactions": tx().set_axis(["CustomerID", "InvoiceDate", "Total"], axis=1)},
        DataValidationError,
        "transactions",
        "customer_id",
        "missing required column(s) ['customer_id', 'timestamp', 'amount']",
        "'CustomerID': 'customer_id'",
    ),
    Case(
        "no_columns_at_all",
        lambda p: {"transactions": pd.DataFrame()},
        DataValidationError,
        "transactions",
        None,
        "the table is empty",
        "no columns",
    ),
    Case(
        "duplicate_column_names",
        lambda p: {"transactions": pd.concat([tx(), tx()[["amount"]]], axis=1)},
        DataValidationError,
        "transactions",
        "amount",
        "duplicate column names",
        "rename or drop the repeated columns",
    ),
    Case(
        "transactions_not_given",
        lambda p: {"transactions": None},
        DataValidationError,
        "transactions",
        None,
        "the table is required",
        "pass a DataFrame",
    ),
    Case(
        "unsupported_source_type",
        lambda p: {"transactions": 42},
        SourceError,
        "transactions",
        None,
        "unsupported source of type int",
        "CSV or Parquet path",
    ),
    Case(
        "empty_transactions",
        lambda p: {"transactions": tx().iloc[:0]},
        DataValidationError,
        "transactions",
        None,
        "the table is empty",
        "pass at least one row",
    ),
    Case(
        "amount_as_booleans",
        lambda p: {"transactions": tx(amount=[True, False, True])},
        DataValidationError,
        "transactions",
        "amount",
        "wrong type: expected float, got BOOLEAN",
        "convert the column to numbers",
    ),
    Case(
        "amount_as_datetimes",
        lambda p: {"transactions": tx(amount=pd.to_datetime(["2023-01-01"] * 3))},
        DataValidationError,
        "transactions",
        "amount",
        "wrong type: expected float, got TIMESTAMP",
        "convert the column to numbers",
    ),
    Case(
        "amount_mixed_python_objects",
        lambda p: {"transactions": tx(amount=[10, "12,50 €", 30.5])},
        DataValidationError,
        "transactions",
        "amount",
        "unparseable values: expected float",
        "12,50 €",
    ),
    Case(
        "amount_pandas_period_dtype",
        lambda p: {"transactions": tx(amount=pd.period_range("2023-01", periods=3, freq="M"))},
        DataValidationError,
        "transactions",
        "amount",
        "unparseable values: expected float",
        "2023-01",
    ),
    Case(
        "timestamp_as_epoch_integers",
        lambda p: {"transactions": tx(timestamp=[1672531200, 1672617600, 1672704000])},
        DataValidationError,
        "transactions",
        "timestamp",
        "wrong type: expected timestamp, got BIGINT",
        "unit='s'",
    ),
    Case(
        "timestamp_as_timedelta",
        lambda p: {"transactions": tx(timestamp=pd.to_timedelta([1, 2, 3], unit="D"))},
        DataValidationError,
        "transactions",
        "timestamp",
        "wrong type: expected timestamp, got INTERVAL",
        "convert the column to datetimes",
    ),
    Case(
        "timestamp_unparseable_string",
        lambda p: {"transactions": tx(timestamp=["2023-01-01", "yesterday", "2023-01-03"])},
        DataValidationError,
        "transactions",
        "timestamp",
        "unparseable values: expected timestamp",
        "yesterday",
    ),
    # DuckDB's and Spark's own casts accept some of these, each different ones: text must
    # be ISO 8601 on both engines.
    *(
        Case(
            f"timestamp_not_iso_{value}",
            lambda p, value=value: {
                "transactions": tx(timestamp=["2023-01-01", value, "2023-01-03"])
            },
            DataValidationError,
            "transactions",
            "timestamp",
            "unparseable values: expected timestamp",
            value,
        )
        for value in ("2023/01/02", "2023-01-02 24:00:00", "2023", "2023-01", "20230102")
    ),
    *(
        Case(
            f"amount_not_plain_{value}",
            lambda p, value=value: {"transactions": tx(amount=["10", value, "30.5"])},
            DataValidationError,
            "transactions",
            "amount",
            "unparseable values: expected float",
            value,
        )
        for value in ("1.5d", "1.5f", "1_000", "0x10")
    ),
    Case(
        "timestamp_mixed_python_objects",
        lambda p: {"transactions": tx(timestamp=[dt.datetime(2023, 1, 1), "2023-01-02", 5])},
        DataValidationError,
        "transactions",
        "timestamp",
        "unparseable values: expected timestamp",
        "103",
    ),
    Case(
        "customer_id_as_lists",
        lambda p: {"transactions": tx(customer_id=[[1], [2], [3]])},
        DataValidationError,
        "transactions",
        "customer_id",
        "wrong type: expected id, got INTEGER[]",
        "integers or text",
    ),
    Case(
        "customer_id_as_datetimes",
        lambda p: {"transactions": tx(customer_id=pd.to_datetime(["2023-01-01"] * 3))},
        DataValidationError,
        "transactions",
        "customer_id",
        "wrong type: expected id, got TIMESTAMP",
        "integers or text",
    ),
    Case(
        "customer_id_fractional_float",
        lambda p: {"transactions": tx(customer_id=[101.0, 102.5, 103.0])},
        DataValidationError,
        "transactions",
        "customer_id",
        "unparseable values: expected id",
        "102.5",
    ),
    Case(
        "is_return_garbage_strings",
        lambda p: {"transactions": tx(is_return=["no", "yes", "maybe"])},
        DataValidationError,
        "transactions",
        "is_return",
        "unparseable values: expected bool",
        "maybe",
    ),
    Case(
        "is_return_integer_not_0_or_1",
        lambda p: {"transactions": tx(is_return=[0, 7, 1])},
        DataValidationError,
        "transactions",
        "is_return",
        "unparseable values: expected bool",
        "7",
    ),
    # --- transactions, pandas: values --------------------------------------------------------
    Case(
        "null_customer_id",
        lambda p: {"transactions": tx(customer_id=[101, None, 103])},
        DataValidationError,
        "transactions",
        "customer_id",
        "null or blank customer ids",
        "2023-01-02 12:00:00",
    ),
    Case(
        "blank_customer_id",
        lambda p: {"transactions": tx(customer_id=["a", "   ", "c"])},
        DataValidationError,
        "transactions",
        "customer_id",
        "null or blank customer ids",
        "1 offending row(s)",
    ),
    Case(
        "all_null_customer_ids",
        lambda p: {"transactions": tx(customer_id=[None, None, None])},
        DataValidationError,
        "transactions",
        "customer_id",
        "null or blank customer ids",
        "3 offending row(s)",
    ),
    Case(
        "null_timestamp",
        lambda p: {
            "transactions": tx(timestamp=pd.to_datetime(["2023-01-01", None, "2023-01-03"]))
        },
        DataValidationError,
        "transactions",
        "timestamp",
        "null timestamps",
        "102",
    ),
    Case(
        "all_null_timestamps",
        lambda p: {"transactions": tx(timestamp=[None, None, None])},
        DataValidationError,
        "transactions",
        "timestamp",
        "null timestamps",
        "3 offending row(s)",
    ),
    Case(
        "nan_amount",
        lambda p: {"transactions": tx(amount=[10.0, np.nan, 30.0])},
        DataValidationError,
        "transactions",
        "amount",
        "amounts must be finite numbers (no null, NaN or inf)",
        "102",
    ),
    Case(
        "inf_amount",
        lambda p: {"transactions": tx(amount=[10.0, np.inf, 30.0])},
        DataValidationError,
        "transactions",
        "amount",
        "amounts must be finite numbers (no null, NaN or inf)",
        "inf",
    ),
    Case(
        "amount_too_large_to_add_exactly",
        lambda p: {"transactions": tx(amount=[10.0, 1e19, 30.0])},
        DataValidationError,
        "transactions",
        "amount",
        "amounts must be below 1e+15 in size (they are added exactly, in millionths)",
        "1.000000e+19",
    ),
    Case(
        "all_null_amounts",
        lambda p: {"transactions": tx(amount=[None, None, None])},
        DataValidationError,
        "transactions",
        "amount",
        "amounts must be finite numbers (no null, NaN or inf)",
        "3 offending row(s)",
    ),
    Case(
        "negative_amount_without_return_flag",
        lambda p: {"transactions": tx(amount=[10.0, -5.25, 30.0])},
        DataValidationError,
        "transactions",
        "amount",
        "negative amounts must be flagged as returns",
        "-5.25",
    ),
    Case(
        "negative_amount_with_return_flag_false",
        lambda p: {"transactions": tx(amount=[10.0, 20.0, -7.5], is_return=[True, False, False])},
        DataValidationError,
        "transactions",
        "amount",
        "negative amounts must be flagged as returns",
        "-7.5",
    ),
    Case(
        "negative_amount_with_return_flag_missing",  # a missing flag is not a return
        lambda p: {
            "transactions": tx(amount=[10.0, -5.0, 30.0], is_return=pd.array([True, None, False]))
        },
        DataValidationError,
        "transactions",
        "amount",
        "negative amounts must be flagged as returns",
        "-5.0",
    ),
    Case(
        "negative_quantity_not_a_return",
        lambda p: {"transactions": tx(quantity=[1.0, -2.0, 1.0])},
        DataValidationError,
        "transactions",
        "quantity",
        "quantities must be finite and >= 0 where given (negative only on returns)",
        "-2.0",
    ),
    Case(
        "infinite_quantity",
        lambda p: {"transactions": tx(quantity=[1.0, np.inf, 1.0])},
        DataValidationError,
        "transactions",
        "quantity",
        "quantities must be finite and >= 0 where given (negative only on returns)",
        "inf",
    ),
    Case(
        "negative_discount",
        lambda p: {"transactions": tx(discount=[0.0, -1.5, 0.0])},
        DataValidationError,
        "transactions",
        "discount",
        "discounts must be finite and >= 0 where given",
        "-1.5",
    ),
    Case(
        "mixed_naive_and_offset_strings",
        lambda p: {
            "transactions": tx(timestamp=["2023-01-01", "2023-01-02T00:00:00+02:00", "2023-01-03"])
        },
        DataValidationError,
        "transactions",
        "timestamp",
        "mixed time zones: some values carry a UTC offset or zone, others do not",
        "2023-01-02T00:00:00+02:00",
    ),
    Case(
        "mixed_naive_and_aware_datetime_objects",
        lambda p: {
            "transactions": tx(
                timestamp=[
                    pd.Timestamp("2023-01-01", tz="UTC"),
                    pd.Timestamp("2023-01-02"),
                    pd.Timestamp("2023-01-03", tz="Europe/Paris"),
                ]
            )
        },
        DataValidationError,
        "transactions",
        "timestamp",
        "mixed time zones: some values carry a UTC offset or zone, others do not",
        "2023-01-02 00:00:00",
    ),
    Case(
        "future_timestamp",
        lambda p: {
            "transactions": tx(timestamp=pd.to_datetime(["2023-01-01", "2999-01-01", "2023-01-03"]))
        },
        DataValidationError,
        "transactions",
        "timestamp",
        f"timestamps outside the plausible range {DEFAULT_RANGE}",
        "2999-01-01",
    ),
    Case(
        "timestamp_in_1900",
        lambda p: {
            "transactions": tx(timestamp=pd.to_datetime(["2023-01-01", "1900-01-01", "2023-01-03"]))
        },
        DataValidationError,
        "transactions",
        "timestamp",
        f"timestamps outside the plausible range {DEFAULT_RANGE}",
        "1900-01-01",
    ),
    Case(
        "timestamp_outside_given_range",
        lambda p: {"transactions": tx(), "plausible_range": ("2023-01-02", "2030-01-01")},
        DataValidationError,
        "transactions",
        "timestamp",
        "timestamps outside the plausible range [2023-01-02, 2030-01-01]",
        "2023-01-01",
    ),
    Case(
        "duplicate_rows_default_policy",
        lambda p: {"transactions": pd.concat([tx(), tx().iloc[[1]]])},
        DataValidationError,
        "transactions",
        None,
        "duplicate rows",
        "1 row(s) repeat another row exactly on every column cxml reads",
    ),
    # --- mapping -----------------------------------------------------------------------------
    Case(
        "mapped_column_missing",
        lambda p: {"transactions": tx(), "mapping": {"transactions": {"cust": "customer_id"}}},
        DataValidationError,
        "transactions",
        "cust",
        "mapped column not found in the source",
        "fix the key 'cust'",
    ),
    Case(
        "two_columns_mapped_onto_one",
        lambda p: {
            "transactions": tx(total=[1.0, 2.0, 3.0]),
            "mapping": {"transactions": {"total": "amount"}},
        },
        DataValidationError,
        "transactions",
        "amount",
        "two source columns map onto the same name",
        "['amount', 'total']",
    ),
    Case(
        "mapping_names_unknown_table",
        lambda p: {"transactions": tx(), "mapping": {"orders": {"cust": "customer_id"}}},
        DataValidationError,
        "orders",
        None,
        "mapping names an unknown table",
        "tables are ['customers', 'interactions', 'transactions']",
    ),
    Case(
        "mapping_targets_non_contract_column",
        lambda p: {
            "transactions": tx(cust=[1, 2, 3]),
            "mapping": {"transactions": {"cust": "client"}},
        },
        DataValidationError,
        "transactions",
        "client",
        "mapping targets a column that is not in the contract",
        "fix the value for 'cust'",
    ),
    Case(
        "mapping_for_table_not_a_dict",
        lambda p: {"transactions": tx(), "mapping": {"transactions": ["customer_id"]}},
        ParameterError,
        "transactions",
        None,
        "must be a dict of source column -> canonical column",
        "['customer_id']",
    ),
    # --- files ---------------------------------------------------------------------------------
    Case(
        "csv_garbage_amount",
        lambda p: {
            "transactions": write_csv(
                p, "t.csv", csv_lines(["1,2023-01-01,10", "2,2023-01-02,ten", "3,2023-01-03,5"])
            )
        },
        DataValidationError,
        "transactions",
        "amount",
        "unparseable values: expected float",
        "ten",
    ),
    Case(
        "csv_garbage_after_thousands_of_good_rows",
        lambda p: {
            "transactions": write_csv(
                p,
                "t.csv",
                csv_lines([f"{i},2023-01-01,1.5" for i in range(30_000)] + ["x,2023-01-02,oops"]),
            )
        },
        DataValidationError,
        "transactions",
        "amount",
        "unparseable values: expected float",
        "oops",
    ),
    Case(
        "csv_mixed_offsets",
        lambda p: {
            "transactions": write_csv(
                p,
                "t.csv",
                csv_lines(["1,2023-01-01 10:00:00,10", "2,2023-01-02 10:00:00+05:00,20"]),
            )
        },
        DataValidationError,
        "transactions",
        "timestamp",
        "mixed time zones: some values carry a UTC offset or zone, others do not",
        "2023-01-02 10:00:00+05:00",
    ),
    Case(
        "csv_header_only",
        lambda p: {"transactions": write_csv(p, "t.csv", csv_lines([]))},
        DataValidationError,
        "transactions",
        None,
        "the table is empty",
        "pass at least one row",
    ),
    Case(
        "parquet_int_timestamp",
        lambda p: {"transactions": write_parquet(p, "t.parquet", tx(timestamp=[1672531200] * 3))},
        DataValidationError,
        "transactions",
        "timestamp",
        "wrong type: expected timestamp, got BIGINT",
        "unit='s'",
    ),
    Case(
        "parquet_glob_with_a_bad_file",
        lambda p: {
            "transactions": (
                write_parquet(p, "part-1.parquet", tx()),
                write_parquet(p, "part-2.parquet", tx(customer_id=[7, 8, 9], amount=[1, -3.5, 2])),
                str(p / "part-*.parquet"),
            )[-1]
        },
        DataValidationError,
        "transactions",
        "amount",
        "negative amounts must be flagged as returns",
        "-3.5",
    ),
    Case(
        "glob_matching_nothing",
        lambda p: {"transactions": str(p / "nothing-*.parquet")},
        SourceError,
        "transactions",
        None,
        "no file matches the pattern",
        "nothing-*.parquet",
    ),
    Case(
        "nonexistent_path",
        lambda p: {"transactions": p / "missing.csv"},
        SourceError,
        "transactions",
        None,
        "file not found",
        "missing.csv",
    ),
    Case(
        "folder_instead_of_file",
        lambda p: {"transactions": p},
        SourceError,
        "transactions",
        None,
        "is a folder",
        "*.parquet",
    ),
    Case(
        "unknown_extension",
        lambda p: {"transactions": write_csv(p, "t.xlsx", "not a spreadsheet")},
        SourceError,
        "transactions",
        None,
        "cannot tell the format",
        "use a .csv or .parquet file",
    ),
    Case(
        "glob_of_mixed_formats",
        lambda p: {
            "transactions": (
                write_parquet(p, "t-1.parquet", tx()),
                write_csv(p, "t-2.csv", csv_lines(["1,2023-01-01,10"])),
                str(p / "t-*"),
            )[-1]
        },
        SourceError,
        "transactions",
        None,
        "matches files of different formats",
        "pass CSV and Parquet files separately",
    ),
    Case(
        "csv_ragged_line_after_thousands_of_good_rows",
        lambda p: {
            "transactions": write_csv(
                p,
                "t.csv",
                csv_lines([f"{i},2023-01-01,1.5" for i in range(30_000)] + ["1,2023-01-02,2,9"]),
            )
        },
        DataValidationError,
        "transactions",
        None,
        "values the engine cannot read",
        "Line: 30002",
    ),
    Case(
        "csv_cut_short_in_a_line_near_the_start",
        lambda p: {
            "transactions": write_csv(
                p,
                "t.csv",
                "customer_id,timestamp,amount,order_id\n1,2023-01-01,10,a\n2,2023-01-0",
            )
        },
        SourceError,
        "transactions",
        None,
        "line 3 of",
        "has 2 fields, the header 4",
    ),
    Case(
        "csv_without_header",
        lambda p: {"transactions": write_csv(p, "t.csv", "1,2023-01-01,10\n2,2023-01-02,20\n")},
        SourceError,
        "transactions",
        None,
        "found no header row",
        "the first line must name the columns",
    ),
    Case(
        "empty_csv_file",
        lambda p: {"transactions": write_csv(p, "t.csv", "")},
        SourceError,
        "transactions",
        None,
        "found no header row",
        "t.csv",
    ),
    Case(
        "corrupt_parquet",
        lambda p: {"transactions": write_csv(p, "t.parquet", "this is not parquet")},
        SourceError,
        "transactions",
        None,
        "cannot read",
        "valid, complete CSV or Parquet file",
    ),
    # --- interactions --------------------------------------------------------------------------
    Case(
        "interactions_missing_event_type",
        lambda p: {"transactions": tx(), "interactions": ix().drop(columns="event_type")},
        DataValidationError,
        "interactions",
        "event_type",
        "missing required column(s) ['event_type']",
        "columns present",
    ),
    Case(
        "interactions_empty",
        lambda p: {"transactions": tx(), "interactions": ix().iloc[:0]},
        DataValidationError,
        "interactions",
        None,
        "the table is empty",
        "pass at least one row",
    ),
    Case(
        "null_event_type",
        lambda p: {
            "transactions": tx(),
            "interactions": ix(event_type=["web_visit", None, "csat"]),
        },
        DataValidationError,
        "interactions",
        "event_type",
        "null or blank event types",
        "102",
    ),
    Case(
        "blank_event_type",
        lambda p: {"transactions": tx(), "interactions": ix(event_type=["web_visit", "nps", "  "])},
        DataValidationError,
        "interactions",
        "event_type",
        "null or blank event types",
        "103",
    ),
    Case(
        "interactions_null_timestamp",
        lambda p: {"transactions": tx(), "interactions": ix(timestamp=[None, "2023-01-02", None])},
        DataValidationError,
        "interactions",
        "timestamp",
        "null timestamps",
        "2 offending row(s)",
    ),
    Case(
        "nps_of_11",
        lambda p: {"transactions": tx(), "interactions": ix(value=[None, 11.0, 4.0])},
        DataValidationError,
        "interactions",
        "value",
        "'nps' answers must be given as whole points from 0 to 10",
        "11.0",
    ),
    Case(
        "csat_of_0",
        lambda p: {"transactions": tx(), "interactions": ix(value=[None, 9.0, 0.0])},
        DataValidationError,
        "interactions",
        "value",
        "'csat' answers must be given as whole points from 1 to 5",
        "csat",
    ),
    Case(
        "ces_of_8",
        lambda p: {
            "transactions": tx(),
            "interactions": ix(event_type=["web_visit", "nps", "ces"], value=[None, 9.0, 8.0]),
        },
        DataValidationError,
        "interactions",
        "value",
        "'ces' answers must be given as whole points from 1 to 7",
        "8.0",
    ),
    Case(
        "nps_between_points",  # a detractor in the features, a passive in the KPI
        lambda p: {"transactions": tx(), "interactions": ix(value=[None, 6.5, 4.0])},
        DataValidationError,
        "interactions",
        "value",
        "'nps' answers must be given as whole points from 0 to 10",
        "6.5",
    ),
    Case(
        "survey_without_an_answer",
        lambda p: {"transactions": tx(), "interactions": ix(value=[None, None, 4.0])},
        DataValidationError,
        "interactions",
        "value",
        "'nps' answers must be given as whole points from 0 to 10",
        "102",
    ),
    Case(
        "nps_out_of_range_after_event_type_mapping",
        lambda p: {
            "transactions": tx(),
            "interactions": ix(event_type=["web_visit", "NPS survey", "csat"], value=[None, 42, 4]),
            "event_types": {"NPS survey": "nps"},
        },
        DataValidationError,
        "interactions",
        "value",
        "'nps' answers must be given as whole points from 0 to 10",
        "42",
    ),
    Case(
        "infinite_interaction_value",
        lambda p: {
            "transactions": tx(),
            "interactions": ix(event_type=["support_ticket"] * 3, value=[1.0, np.inf, 2.0]),
        },
        DataValidationError,
        "interactions",
        "value",
        "values must be finite where given (no NaN or inf)",
        "inf",
    ),
    Case(
        "treatment_flag_garbage",
        lambda p: {
            "transactions": tx(),
            "interactions": ix(treatment=["true", "false", "perhaps"]),
        },
        DataValidationError,
        "interactions",
        "treatment",
        "unparseable values: expected bool",
        "perhaps",
    ),
    Case(
        "interactions_duplicate_rows",
        lambda p: {"transactions": tx(), "interactions": pd.concat([ix(), ix()])},
        DataValidationError,
        "interactions",
        None,
        "duplicate rows",
        "3 row(s) repeat another row exactly",
    ),
    Case(
        "interactions_csv_with_garbage_value",
        lambda p: {
            "transactions": tx(),
            "interactions": write_csv(
                p,
                "i.csv",
                csv_lines(
                    ["101,2023-01-01,nps,9", "102,2023-01-02,nps,n/a"],
                    header="customer_id,timestamp,event_type,value",
                ),
            ),
        },
        DataValidationError,
        "interactions",
        "value",
        "unparseable values: expected float",
        "n/a",
    ),
    # --- customers ----------------------------------------------------------------------------
    Case(
        "customers_duplicate_ids",
        lambda p: {"transactions": tx(), "customers": cu(customer_id=[101, 102, 101])},
        DataValidationError,
        "customers",
        "customer_id",
        "duplicate customer_ids: each may occur on one row only",
        "1 row(s) repeat a customer_id",
    ),
    Case(
        "customers_signup_before_range",
        lambda p: {
            "transactions": tx(),
            "customers": cu(signup_date=pd.to_datetime(["2022-01-01", "1850-05-01", "2022-12-01"])),
            "plausible_range": RANGE_2000S,
        },
        DataValidationError,
        "customers",
        "signup_date",
        "signup dates outside the plausible range [2000-01-01, 2030-01-01]",
        "1850-05-01",
    ),
    Case(
        "customers_signup_in_the_future",
        lambda p: {
            "transactions": tx(),
            "customers": cu(signup_date=["2022-01-01", "2022-02-01", "2099-12-31"]),
        },
        DataValidationError,
        "customers",
        "signup_date",
        f"signup dates outside the plausible range {DEFAULT_RANGE}",
        "2099-12-31",
    ),
    Case(
        "customers_signup_unparseable",
        lambda p: {"transactions": tx(), "customers": cu(signup_date=["2022-01-01", "soon", None])},
        DataValidationError,
        "customers",
        "signup_date",
        "unparseable values: expected timestamp",
        "soon",
    ),
    Case(
        "customers_empty",
        lambda p: {"transactions": tx(), "customers": cu().iloc[:0]},
        DataValidationError,
        "customers",
        None,
        "the table is empty",
        "pass at least one row",
    ),
    Case(
        "customers_missing_id",
        lambda p: {"transactions": tx(), "customers": cu().drop(columns="customer_id")},
        DataValidationError,
        "customers",
        "customer_id",
        "missing required column(s) ['customer_id']",
        "columns present: ['signup_date', 'segment']",
    ),
    Case(
        "customers_null_id",
        lambda p: {"transactions": tx(), "customers": cu(customer_id=["101", None, "103"])},
        DataValidationError,
        "customers",
        "customer_id",
        "null or blank customer ids",
        "1 offending row(s)",
    ),
    Case(
        "customers_reserved_column_name",
        lambda p: {"transactions": tx(), "customers": cu(__raw_segment=["x", "y", "z"])},
        DataValidationError,
        "customers",
        "__raw_segment",
        "column names starting with '__raw_' are reserved",
        "rename the column",
    ),
    Case(
        "customers_parquet_signup_as_integers",
        lambda p: {
            "transactions": tx(),
            "customers": write_parquet(p, "c.parquet", cu(signup_date=[20220101] * 3)),
        },
        DataValidationError,
        "customers",
        "signup_date",
        "wrong type: expected timestamp, got BIGINT",
        "unit='s'",
    ),
]


def test_the_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 45
    assert len({case.id for case in CASES}) == len(CASES)


def _raise(case: Case, folder: Path) -> CxmlError:
    with pytest.raises(CxmlError) as info:
        Tables(**case.build(folder))
    return info.value


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_input_raises_its_exact_error(case: Case, tmp_path: Path) -> None:
    err = _raise(case, tmp_path)
    assert type(err) is case.error, str(err)
    message = str(err)
    if isinstance(err, DataValidationError):
        assert (err.table, err.column, err.rule) == (case.table, case.column, case.rule), message
        assert case.detail in err.detail, message
    else:
        assert f"table '{case.table}'" in message
        assert case.rule in message
        assert case.detail in message


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_malformed_input_never_leaks_an_engine_exception(case: Case, tmp_path: Path) -> None:
    err = _raise(case, tmp_path)
    assert isinstance(err, CxmlError)
    assert "table '" in str(err)
    # No pandas/duckdb/narwhals exception is chained into the traceback.
    assert err.__cause__ is None
    assert err.__context__ is None or err.__suppress_context__


def test_offending_rows_are_capped_at_five() -> None:
    frame = tx(amount=[-1.0] * 3)
    frame = pd.concat([frame.assign(customer_id=frame["customer_id"] + 10 * i) for i in range(4)])
    with pytest.raises(DataValidationError) as info:
        Tables(frame)
    detail = info.value.detail
    assert detail.startswith("12 offending row(s); first 5:")
    table_lines = detail.split("\n")[2:]  # after the count line and the header
    assert len([line for line in table_lines if "-1.0" in line]) == 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"duplicates": "sometimes"}, "duplicates must be 'error', 'drop' or 'keep'"),
        ({"plausible_range": ("soon", "later")}, "plausible_range must be (earliest, latest)"),
        ({"plausible_range": ("2030-01-01", "2000-01-01")}, "earliest < latest"),
        ({"event_types": {"visit": 5}}, "event_types must be a dict"),
        ({"mapping": ["customer_id"]}, "mapping must be a dict"),
    ],
    ids=["duplicates", "range_unparseable", "range_reversed", "event_types", "mapping"],
)
def test_malformed_arguments_raise_parameter_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Tables(tx(), **kwargs)
