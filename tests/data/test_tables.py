"""`Tables` on well-formed (if untidy) input: what the edge canonicalises and what it allows."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxml.data import DataQualityWarning, DataValidationError, Tables
from cxml.errors import ParameterError


def tx(**columns: object) -> pd.DataFrame:
    base = {
        "customer_id": [101, 102, 103],
        "timestamp": pd.to_datetime(["2023-01-01", "2023-01-02", "2023-01-03"]),
        "amount": [10.0, 20.0, 30.0],
    }
    return pd.DataFrame({**base, **columns})


def ix(**columns: object) -> pd.DataFrame:
    base = {
        "customer_id": [101, 102, 103],
        "timestamp": pd.to_datetime(["2023-01-01", "2023-01-02", "2023-01-05"]),
        "event_type": ["web_visit", "nps", "csat"],
        "value": [None, 9.0, 4.0],
    }
    return pd.DataFrame({**base, **columns})


def test_tz_aware_pandas_timestamps_become_naive_utc() -> None:
    local = pd.to_datetime(["2023-01-01 05:00"] * 3).tz_localize("America/New_York")
    out = Tables(tx(timestamp=local)).to_pandas("transactions")
    assert out["timestamp"].dt.tz is None
    assert out["timestamp"].iloc[0] == pd.Timestamp("2023-01-01 10:00")


def test_timestamp_strings_with_offsets_are_converted_to_utc() -> None:
    stamps = ["2023-01-02T00:00:00+02:00", "2023-01-02 10:00:00Z", "2023-01-02T10:00-05:00"]
    out = Tables(tx(timestamp=stamps)).to_pandas("transactions")
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2023-01-01 22:00"),
        pd.Timestamp("2023-01-02 10:00"),
        pd.Timestamp("2023-01-02 15:00"),
    ]


def test_zone_abbreviations_second_offsets_and_etc_zones_are_not_read_as_utc() -> None:
    """They used to lose their zone: 12:00 EST read as 12:00 UTC (a leak into snapshots)."""
    stamps = [
        "2024-03-01 12:00:00 EST",
        "2024-03-01T12:00:00+01:00:00",
        "2024-03-01 12:00 Etc/GMT-1",
    ]
    out = Tables(tx(timestamp=stamps)).to_pandas("transactions")
    assert out["timestamp"].tolist() == [
        pd.Timestamp("2024-03-01 17:00"),
        pd.Timestamp("2024-03-01 11:00"),
        pd.Timestamp("2024-03-01 11:00"),
    ]
    with pytest.raises(DataValidationError, match="unparseable values"):
        Tables(tx(timestamp=["2024-03-01 12:00:00 XYZ"] * 3))


def test_nanosecond_zoned_arrow_timestamps_become_naive_utc(tmp_path: Path) -> None:
    """timestamp[ns, tz] is what pyarrow and pandas 2 write; DuckDB calls it TIMESTAMPTZ_NS."""
    local = pd.to_datetime(["2023-01-01 05:00"] * 3).tz_localize("Europe/Berlin")
    zoned = pd.Series(local).astype(pd.ArrowDtype(pa.timestamp("ns", tz="Europe/Berlin")))
    tx(timestamp=zoned).to_parquet(tmp_path / "tx.parquet")
    for source in (tx(timestamp=zoned), str(tmp_path / "tx.parquet")):
        out = Tables(source).to_pandas("transactions")
        assert out["timestamp"].tolist() == [pd.Timestamp("2023-01-01 04:00")] * 3


def test_naive_timestamp_strings_are_taken_as_utc() -> None:
    out = Tables(tx(timestamp=["2023-01-01", "2023-01-02 08:30", " 2023-01-03 "]))
    assert out.to_pandas("transactions")["timestamp"].tolist() == [
        pd.Timestamp("2023-01-01"),
        pd.Timestamp("2023-01-02 08:30"),
        pd.Timestamp("2023-01-03"),
    ]


def test_duplicates_drop_removes_exact_copies() -> None:
    tables = Tables(pd.concat([tx(), tx().iloc[[0, 0]]]), duplicates="drop")
    assert len(tables.to_pandas("transactions")) == 3


def test_duplicates_keep_keeps_every_row() -> None:
    tables = Tables(pd.concat([tx(), tx().iloc[[0, 0]]]), duplicates="keep")
    assert len(tables.to_pandas("transactions")) == 5


def test_orphan_interaction_ids_warn_but_do_not_fail() -> None:
    with pytest.warns(DataQualityWarning, match="1 customer id"):
        tables = Tables(tx(), ix(customer_id=[101, 102, 999]))
    assert len(tables.warnings) == 1
    assert "999" in tables.warnings[0]
    assert len(tables.to_pandas("interactions")) == 3


def test_event_types_that_differ_from_canonical_ones_only_in_case_warn() -> None:
    """'Cancellation' silently did not count as churn, and 'NPS' of 85 skipped the range."""
    with pytest.warns(DataQualityWarning, match="differ from a canonical one only in case"):
        tables = Tables(tx(), ix(event_type=["Cancellation", "NPS", "Web_Visit"], value=85.0))
    assert (
        "{'Cancellation': 'cancellation', 'NPS': 'nps', 'Web_Visit': 'web_visit'}"
        in (tables.warnings[0])
    )
    mapped = {"Cancellation": "cancellation", "NPS": "nps", "Web_Visit": "web_visit"}
    with pytest.raises(DataValidationError, match="'nps' answers"):
        Tables(
            tx(),
            ix(event_type=["Cancellation", "NPS", "Web_Visit"], value=85.0),
            event_types=mapped,
        )
    assert Tables(tx(), ix(event_type=["custom_thing", "nps", "csat"])).warnings == []


def test_ids_known_from_customers_are_not_orphans() -> None:
    customers = pd.DataFrame({"customer_id": [101, 102, 103, 999]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        tables = Tables(tx(), ix(customer_id=[101, 102, 999]), customers)
    assert tables.warnings == []


def test_buyers_without_a_customers_row_warn_naming_the_ids() -> None:
    """Ids written differently in the two tables (text 0101 against 101) do not match."""
    customers = pd.DataFrame({"customer_id": ["0101", "102", "103"]})
    with pytest.warns(DataQualityWarning, match="1 customer id"):
        tables = Tables(tx(), None, customers)
    assert len(tables.warnings) == 1
    assert "occur in transactions but not in customers" in tables.warnings[0]
    assert "['101']" in tables.warnings[0]


def test_ids_of_different_types_across_tables_become_text() -> None:
    tables = Tables(tx(), ix(customer_id=["101", "102", "103"]))
    assert tables.warnings == []
    assert tables.to_pandas("transactions")["customer_id"].tolist() == ["101", "102", "103"]
    assert tables.to_pandas("interactions")["customer_id"].tolist() == ["101", "102", "103"]


def test_whole_float_ids_are_read_as_integers() -> None:
    tables = Tables(tx(), ix(customer_id=[101.0, 102.0, 103.0]))
    assert tables.warnings == []
    assert tables.to_pandas("interactions")["customer_id"].tolist() == [101, 102, 103]


def test_object_ids_of_mixed_python_types_are_text() -> None:
    out = Tables(tx(customer_id=[101, "b-2", 3.5])).to_pandas("transactions")
    assert out["customer_id"].tolist() == ["101", "b-2", "3.5"]


def test_returns_get_non_negative_amounts_and_quantities() -> None:
    frame = tx(amount=[10.0, -20.0, 30.0], quantity=[1.0, -2.0, 3.0], is_return=[False, True, None])
    out = Tables(frame).to_pandas("transactions")
    assert out["amount"].tolist() == [10.0, 20.0, 30.0]
    assert out["quantity"].tolist() == [1.0, 2.0, 3.0]
    assert out["is_return"].tolist() == [False, True, False]


def test_is_return_is_false_when_absent() -> None:
    out = Tables(tx()).to_pandas("transactions")
    assert out["is_return"].tolist() == [False, False, False]


def test_is_return_reads_text_and_0_1_flags() -> None:
    assert Tables(tx(is_return=["true", "F", None])).to_pandas("transactions")[
        "is_return"
    ].tolist() == [True, False, False]
    assert Tables(tx(is_return=[1, 0, 0])).to_pandas("transactions")["is_return"].tolist() == [
        True,
        False,
        False,
    ]


def test_blank_strings_in_optional_numbers_are_missing_values() -> None:
    out = Tables(tx(quantity=["1", " ", "2.5"])).to_pandas("transactions")
    assert out["quantity"].iloc[0] == 1.0
    assert pd.isna(out["quantity"].iloc[1])


def test_an_optional_column_of_nulls_is_allowed() -> None:
    out = Tables(tx(discount=[None, None, None])).to_pandas("transactions")
    assert out["discount"].isna().all()


def test_event_types_are_trimmed_and_mapped_and_unknown_types_kept() -> None:
    tables = Tables(
        tx(),
        ix(event_type=[" visit ", "nps", "chatbot"]),
        event_types={"visit": "web_visit"},
    )
    assert tables.to_pandas("interactions")["event_type"].tolist() == [
        "web_visit",
        "nps",
        "chatbot",
    ]


def test_an_event_type_mapped_to_a_non_canonical_type_is_refused() -> None:
    """{'visit': 'webvisit'} made every visit a custom type: web-visit features read 0."""
    with pytest.raises(
        ParameterError,
        match=r"event_types maps 'visit' to 'webvisit', which is not a canonical event type "
        r"\(did you mean 'web_visit'\?\)",
    ):
        Tables(tx(), ix(event_type=["visit", "nps", "nps"]), event_types={"visit": "webvisit"})


def test_an_event_type_mapping_that_matches_no_interaction_warns() -> None:
    """{'vist': 'web_visit'} (misspelt) mapped nothing, silently."""
    with pytest.warns(DataQualityWarning, match="event_types maps"):
        tables = Tables(
            tx(),
            ix(event_type=["visit", "nps", "nps"]),
            event_types={"vist": "web_visit", "nps": "nps"},
        )
    assert tables.warnings == [
        "table 'interactions', column 'event_type': event_types maps {'vist': 'web_visit'}, "
        "but no interaction has these types; check their spelling against the data"
    ]


def test_observed_span_runs_from_the_first_event_to_the_day_after_the_last_in_any_table() -> None:
    early = ix(
        timestamp=pd.to_datetime(["2022-12-30 10:00", "2023-01-02 00:00", "2023-01-05 00:00"])
    )
    tables = Tables(tx(), early)
    assert tables.observed_from == dt.datetime(2022, 12, 30, 10)
    assert tables.observed_until == dt.datetime(2023, 1, 6)


def test_plausible_range_can_be_widened() -> None:
    old = tx(timestamp=pd.to_datetime(["1901-01-01", "1902-01-01", "1903-01-01"]))
    tables = Tables(old, plausible_range=("1900-01-01", "1950-01-01"))
    assert tables.observed_until == dt.datetime(1903, 1, 2)


def test_customers_keep_extra_columns_with_zoned_times_in_utc() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": [101, 102, 103],
            "signup_date": ["2022-01-01", None, "2022-03-01"],
            "segment": ["a", "b", "a"],
            "last_login": pd.to_datetime(["2023-01-01 01:00"] * 3).tz_localize("Europe/Paris"),
        }
    )
    out = Tables(tx(), customers=customers).to_pandas("customers")
    assert list(out.columns) == ["customer_id", "signup_date", "segment", "last_login"]
    assert out["last_login"].iloc[0] == pd.Timestamp("2023-01-01 00:00")


def test_a_named_index_is_read_as_a_column() -> None:
    frame = tx().set_index("customer_id")
    assert Tables(frame).to_pandas("transactions")["customer_id"].tolist() == [101, 102, 103]


def test_mapping_renames_user_columns() -> None:
    frame = tx().rename(columns={"customer_id": "cust", "amount": "total"})
    tables = Tables(frame, mapping={"transactions": {"cust": "customer_id", "total": "amount"}})
    assert list(tables.to_pandas("transactions").columns) == [
        "customer_id",
        "timestamp",
        "amount",
        "is_return",
    ]


def test_csv_and_parquet_globs_are_read_whole(tmp_path: Path) -> None:
    tx().to_parquet(tmp_path / "a.parquet")
    tx(customer_id=[104, 105, 106]).to_parquet(tmp_path / "b.parquet")
    assert len(Tables(str(tmp_path / "*.parquet")).to_pandas("transactions")) == 6
    tx().to_csv(tmp_path / "t.csv", index=False)
    out = Tables(tmp_path / "t.csv").to_pandas("transactions")
    assert out["timestamp"].iloc[1] == pd.Timestamp("2023-01-02")


def test_arrow_tables_and_duckdb_relations_are_sources() -> None:
    con = duckdb.connect()
    relation = con.from_df(tx())
    assert len(Tables(relation, connection=con).to_pandas("transactions")) == 3
    assert len(Tables(pa.Table.from_pandas(tx())).to_pandas("transactions")) == 3


def test_a_column_of_python_dates_is_a_date_column() -> None:
    """It was read as text: no days_since_<column>, and the trial KPIs refused it."""
    dates = [dt.date(2023, 1, 2), None, None]
    customers = pd.DataFrame({"customer_id": [101, 102, 103], "paid_start": dates})
    read = Tables(tx(), customers=customers).to_pandas("customers")
    assert read["paid_start"].tolist()[0] == pd.Timestamp("2023-01-02")
    assert pd.isna(read["paid_start"].iloc[1])


def test_a_duckdb_connection_outside_utc_is_refused(tmp_path: Path) -> None:
    """DuckDB reads a Parquet glob of naive and zoned files in the session's zone: with New
    York's, the naive 00:00 became 05:00."""
    tx().to_parquet(tmp_path / "a.parquet")
    zoned = tx(customer_id=[7, 8, 9])
    zoned["timestamp"] = zoned["timestamp"].dt.tz_localize("Europe/Berlin")
    zoned.to_parquet(tmp_path / "b.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    with pytest.raises(ParameterError, match=r"TimeZone='America/New_York'.*needs UTC"):
        Tables(str(tmp_path / "*.parquet"), connection=con)
    con.execute("SET TimeZone = 'UTC'")
    read = Tables(str(tmp_path / "*.parquet"), connection=con).to_pandas("transactions")
    naive = read.set_index("customer_id")["timestamp"]
    assert naive[[101, 102, 103]].tolist() == tx()["timestamp"].tolist()


def test_relations_of_another_connection_fail_with_a_hint() -> None:
    relation = duckdb.connect().from_df(ix())
    with pytest.raises(DataValidationError, match="connection="):
        Tables(tx(), relation)


def test_nan_in_interaction_value_is_a_missing_value() -> None:
    tables = Tables(tx(), ix(event_type=["web_visit", "nps", "web_visit"], value=[np.nan, 9, None]))
    assert tables.to_pandas("interactions")["value"].isna().tolist() == [True, False, True]


def test_the_plausible_range_includes_both_of_its_ends() -> None:
    ends = pd.to_datetime(["2000-01-01", "2010-06-01", "2030-01-01"])
    tables = Tables(tx(timestamp=ends), plausible_range=("2000-01-01", "2030-01-01"))
    assert tables.to_pandas("transactions")["timestamp"].tolist() == list(ends)
    late = ends.insert(3, pd.Timestamp("2030-01-01 00:00:01"))[1:]
    with pytest.raises(DataValidationError, match="outside the plausible range"):
        Tables(tx(timestamp=late), plausible_range=("2000-01-01", "2030-01-01"))


def _daily(start: str, days: int, customers: int = 1, every: int = 1) -> pd.DataFrame:
    """`customers` purchases (one per customer) every `every` days for `days` days."""
    stamps = pd.date_range(start, periods=days, freq=f"{every}D").repeat(customers)
    ids = np.tile(np.arange(customers), days)
    return pd.DataFrame({"customer_id": ids, "timestamp": stamps, "amount": 1.0})


def _visits(until: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"customer_id": [0], "timestamp": [pd.Timestamp(until)], "event_type": ["web_visit"]}
    )


def test_transactions_that_stop_long_before_the_interactions_warn() -> None:
    """The label of every cut-off after the transactions' end read 'churned' for everyone,
    silently. 100 days of 3 lines a day, then 30 silent days: e**-90 is no chance."""
    with pytest.warns(DataQualityWarning, match="was the export cut short"):
        tables = Tables(_daily("2023-01-01", 100, customers=3), _visits("2023-05-10 08:00"))
    assert tables.warnings == [
        "table 'transactions', column 'timestamp': the transactions end 2023-04-10, 30 days "
        "before the interactions table (2023-05-10 08:00), after 3.0 lines a day: was the "
        "export cut short? Every label window after 2023-04-10 would count every customer "
        "as churned"
    ]
    # A line every 5 days: 40 silent days (e**-8) are no chance, 30 (e**-6) may be.
    sparse = _daily("2023-01-01", 30, every=5)  # the last on 2023-05-26
    with pytest.warns(DataQualityWarning, match="40 days before"):
        Tables(sparse, _visits("2023-07-05"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        assert Tables(sparse, _visits("2023-06-25")).warnings == []


def test_a_quiet_week_at_the_end_does_not_warn() -> None:
    """Six silent days after 3 lines a day: unlikely, but a business may pause a week."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        tables = Tables(_daily("2023-01-01", 100, customers=3), _visits("2023-04-16"))
    assert tables.warnings == []
