"""`Tables`: the validated, canonical customer histories every other layer reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import duckdb
import narwhals as nw
import pandas as pd

from cxml.data import engine
from cxml.data.contract import INTERACTIONS, SCHEMAS, TRANSACTIONS, TableSchema
from cxml.data.validation import (
    DuplicatePolicy,
    check_mixed_time_zones,
    check_not_empty,
    check_required,
    check_rules,
    handle_duplicates,
    report_orphans,
    rules_for,
)
from cxml.errors import DataValidationError

DEFAULT_EARLIEST = dt.datetime(1970, 1, 1)


class Tables:
    """Transactions, optional interactions and optional customers, validated once.

    Parameters
    ----------
    transactions, interactions, customers
        A pandas DataFrame, a CSV or Parquet path (globs allowed), a DuckDB relation or a
        narwhals frame. Only ``transactions`` is required.
    mapping
        Per table, user column name -> canonical column name, e.g.
        ``{"transactions": {"cust": "customer_id", "ts": "timestamp", "total": "amount"}}``.
    event_types
        User event-type value -> canonical event type (see ``cxml.data.EVENT_TYPES``).
    duplicates
        What to do with exact duplicate rows: ``"error"`` (default), ``"drop"`` or ``"keep"``.
    plausible_range
        Earliest and latest allowed timestamps; default 1970-01-01 to one day after now.
    connection
        The DuckDB connection to run on (a fresh in-memory one by default).

    Attributes
    ----------
    transactions, interactions, customers : narwhals.LazyFrame or None
        Canonical columns and types; timestamps are naive UTC; amounts of returns are >= 0
        with ``is_return`` True.
    observed_until : datetime.datetime
        Exclusive end of the observed history: the day after the last event.
    warnings : list of str
        Data-quality findings that are allowed but reported.
    """

    def __init__(
        self,
        transactions: Any,
        interactions: Any = None,
        customers: Any = None,
        *,
        mapping: Mapping[str, Mapping[str, str]] | None = None,
        event_types: Mapping[str, str] | None = None,
        duplicates: DuplicatePolicy = "error",
        plausible_range: tuple[Any, Any] | None = None,
        connection: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        if duplicates not in ("error", "drop", "keep"):
            raise ValueError(f"duplicates must be 'error', 'drop' or 'keep', got {duplicates!r}")
        self.connection = connection or engine.connect()
        mapping = dict(mapping or {})
        unknown = set(mapping) - set(SCHEMAS)
        if unknown:
            raise DataValidationError(str(sorted(unknown)[0]), None,
                                      f"mapping names an unknown table; tables are {sorted(SCHEMAS)}")
        lo, hi = plausible_range or (DEFAULT_EARLIEST, None)
        time_range = (_as_datetime(lo), _as_datetime(hi) if hi is not None
                      else dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1))
        self.warnings: list[str] = []
        rels = {
            name: self._load(source, SCHEMAS[name], mapping.get(name, {}), time_range,
                             duplicates, event_types)
            for name, source in (("transactions", transactions), ("interactions", interactions),
                                 ("customers", customers))
            if source is not None
        }
        rels = _align_id_types(rels)
        self.transactions: nw.LazyFrame = engine.to_lazy(rels["transactions"])
        self.interactions: nw.LazyFrame | None = (
            engine.to_lazy(rels["interactions"]) if "interactions" in rels else None)
        self.customers: nw.LazyFrame | None = (
            engine.to_lazy(rels["customers"]) if "customers" in rels else None)
        if self.interactions is not None:
            known = self.transactions.select("customer_id")
            if self.customers is not None:
                known = nw.concat([known, self.customers.select("customer_id")])
            message = report_orphans(self.interactions, known.unique())
            if message:
                self.warnings.append(message)
        self.observed_until = self._observed_until()

    def _load(self, source: Any, schema: TableSchema, mapping: Mapping[str, str],
              time_range: tuple[dt.datetime, dt.datetime], duplicates: DuplicatePolicy,
              event_types: Mapping[str, str] | None) -> duckdb.DuckDBPyRelation:
        table = schema.name
        rel = engine.read_source(source, table, self.connection)
        rel = _rename(rel, mapping, table)
        check_required(rel.columns, schema, table)
        rel = engine.coerce(rel, schema, table)
        frame = engine.to_lazy(rel)
        check_not_empty(frame, table)
        for col in ("timestamp", "signup_date"):
            if engine.RAW_PREFIX + col in rel.columns:
                check_mixed_time_zones(frame, table, col)
        check_rules(frame, rules_for(schema, rel.columns, time_range), table)
        frame = frame.select([c for c in rel.columns if not c.startswith(engine.RAW_PREFIX)])
        frame = _canonical_values(frame, schema, event_types)
        if table == "customers":
            handle_duplicates(frame, "error", table, key=["customer_id"])
        frame = handle_duplicates(frame, duplicates, table)
        return nw.to_native(frame)

    def _observed_until(self) -> dt.datetime:
        frames = [self.transactions] + ([self.interactions] if self.interactions is not None else [])
        last = max(engine.collect(f.select(nw.col("timestamp").max())).iloc[0, 0] for f in frames)
        return (pd.Timestamp(last).normalize() + pd.Timedelta(days=1)).to_pydatetime()

    def to_pandas(self, table: str) -> pd.DataFrame | None:
        """One canonical table as a pandas DataFrame (None when absent)."""
        frame = getattr(self, table)
        return None if frame is None else engine.collect(frame)

    def __repr__(self) -> str:
        present = [n for n in SCHEMAS if getattr(self, n) is not None]
        return f"Tables({', '.join(present)}; observed until {self.observed_until:%Y-%m-%d})"


def _as_datetime(value: Any) -> dt.datetime:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def _rename(rel: duckdb.DuckDBPyRelation, mapping: Mapping[str, str], table: str) -> duckdb.DuckDBPyRelation:
    missing = [src for src in mapping if src not in rel.columns]
    if missing:
        raise DataValidationError(table, missing[0], "mapped column not found in the source",
                                  f"columns present: {list(rel.columns)}")
    if not mapping:
        return rel
    targets = [mapping.get(c, c) for c in rel.columns]
    clash = sorted({t for t in targets if targets.count(t) > 1})
    if clash:
        raise DataValidationError(table, clash[0], "two source columns map onto the same name",
                                  f"mapping: {dict(mapping)}")
    return engine.rename(rel, dict(mapping))


def _canonical_values(frame: nw.LazyFrame, schema: TableSchema,
                      event_types: Mapping[str, str] | None) -> nw.LazyFrame:
    cols = frame.collect_schema().names()
    if schema is TRANSACTIONS:
        if "is_return" in cols:
            frame = frame.with_columns(is_return=nw.col("is_return").fill_null(False),
                                       amount=nw.col("amount").abs())
        else:
            frame = frame.with_columns(is_return=nw.lit(False))
    if schema is INTERACTIONS:
        frame = frame.with_columns(event_type=nw.col("event_type").str.strip_chars())
        if event_types:
            frame = frame.with_columns(
                event_type=nw.col("event_type").replace_strict(
                    dict(event_types), default=nw.col("event_type"), return_dtype=nw.String))
    return frame


def _align_id_types(rels: dict[str, duckdb.DuckDBPyRelation]) -> dict[str, duckdb.DuckDBPyRelation]:
    types = {n: engine.column_types(r)["customer_id"] for n, r in rels.items()}
    if len(set(types.values())) <= 1:
        return rels
    return {n: engine.cast_ids_to_text(r) for n, r in rels.items()}
