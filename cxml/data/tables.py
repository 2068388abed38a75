"""`Tables`: the validated, canonical customer histories every other layer reads."""

from __future__ import annotations

import copy
import datetime as dt
import difflib
from collections.abc import Callable, Mapping
from typing import Any

import narwhals as nw
import pandas as pd

from cxml.data import engine
from cxml.data.contract import EVENT_TYPES, SCHEMAS, TableSchema
from cxml.data.validation import (
    DuplicatePolicy,
    Scope,
    apply_duplicate_policy,
    check_required,
    check_rules,
    check_unique,
    report_early_end,
    report_miscased_events,
    report_orphans,
    report_unused_event_types,
    rules_for,
)
from cxml.errors import DataValidationError, ParameterError

DEFAULT_EARLIEST = dt.datetime(1970, 1, 1)


class Tables:
    """Transactions, optional interactions and optional customers, validated once.

    Parameters
    ----------
    transactions, interactions, customers
        A pandas DataFrame, a CSV or Parquet path (globs allowed), a DuckDB relation, a
        Spark DataFrame, an Arrow table or a narwhals frame; on Spark, also the name of a
        table in the session's catalog. Only ``transactions`` is required.
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
        The engine to run on: a DuckDB connection or a Spark session. By default the session
        of the Spark DataFrames passed, else a fresh in-memory DuckDB connection; relations
        passed as tables must belong to it. On Spark everything stays lazy in the session.

    Attributes
    ----------
    transactions, interactions, customers : narwhals.LazyFrame or None
        Canonical columns and types; timestamps are naive UTC; ``is_return`` is always
        present on transactions, and amounts and quantities of returns are >= 0.
    observed_from : datetime.datetime
        The first event (purchase or interaction).
    observed_until : datetime.datetime
        Exclusive end of the observed history: the day after the last event.
    observed_event_types : frozenset of str
        The distinct event types of the interactions (empty without them).
    warnings : list of str
        Data-quality findings that are allowed but reported.

    Raises
    ------
    DataValidationError
        A table breaks the contract; the message names the table, column, rule and rows.
    SourceError
        A file or glob cannot be found or read.
    ParameterError
        An argument other than the tables is malformed.
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
        connection: engine.Connection | None = None,
    ) -> None:
        if duplicates not in ("error", "drop", "keep"):
            raise ParameterError(
                f"duplicates must be 'error', 'drop' or 'keep', got {duplicates!r}"
            )
        if transactions is None:
            raise DataValidationError(
                "transactions", None, "the table is required", "pass a DataFrame, path or relation"
            )
        mappings = _check_mapping(mapping)
        event_types = _check_event_types(event_types)
        scope = _scope(plausible_range)
        sources = {
            "transactions": transactions,
            "interactions": interactions,
            "customers": customers,
        }
        self.connection = engine.connection_for(list(sources.values()), connection)
        self.warnings: list[str] = []
        loaded = {
            name: self._load(
                source, SCHEMAS[name], mappings.get(name, {}), scope, duplicates, event_types
            )
            for name, source in sources.items()
            if source is not None
        }
        rels = engine.align_id_types({name: rel for name, (rel, _) in loaded.items()})
        self.transactions: nw.LazyFrame = engine.to_lazy(rels["transactions"])
        self.interactions: nw.LazyFrame | None = (
            engine.to_lazy(rels["interactions"]) if "interactions" in rels else None
        )
        self.customers: nw.LazyFrame | None = (
            engine.to_lazy(rels["customers"]) if "customers" in rels else None
        )
        if self.customers is not None:
            with engine.reading("transactions", self.connection):
                known = self.customers.select("customer_id")
                message = report_orphans(
                    "transactions", self.transactions, known, "not in customers"
                )
            if message:
                self.warnings.append(message)
        self.observed_event_types: frozenset[str] = frozenset()
        if self.interactions is not None:
            with engine.reading("interactions", self.connection):
                known = self.transactions.select("customer_id")
                if self.customers is not None:
                    known = nw.concat([known, self.customers.select("customer_id")])
                message = report_orphans(
                    "interactions",
                    self.interactions,
                    known.unique(),
                    "in neither transactions nor customers",
                )
                found = engine.collect(self.interactions.select("event_type").unique())
                found = found["event_type"]
            self.observed_event_types = frozenset(found.dropna())
            miscased = report_miscased_events(self.observed_event_types)
            unused = report_unused_event_types(event_types, self.observed_event_types)
            self.warnings += [m for m in (message, miscased, unused) if m]
        with engine.reading("transactions", self.connection):
            early = report_early_end(self.transactions, {t: s for t, (_, s) in loaded.items()})
        if early:
            self.warnings.append(early)
        spans = [span for _, span in loaded.values() if span[0] is not None]
        self.observed_from = pd.Timestamp(min(first for first, _ in spans)).to_pydatetime()
        self.observed_until = (
            pd.Timestamp(max(last for _, last in spans)).normalize() + pd.Timedelta(days=1)
        ).to_pydatetime()

    def _load(
        self,
        source: Any,
        schema: TableSchema,
        mapping: Mapping[str, str],
        scope: Scope,
        duplicates: DuplicatePolicy,
        event_types: Mapping[str, str],
    ) -> tuple[engine.Relation, tuple[Any, Any]]:
        """Read, map, cast and validate one table; return it and its first and last
        timestamps (None without a timestamp column)."""
        table = schema.name
        with engine.reading(table, self.connection):
            # Read contract columns of CSV files as text: a sniffed type is only a guess from
            # a sample, and a later value that does not fit would fail mid-scan.
            contract = {src for src, target in mapping.items() if target in schema.names}
            contract |= set(schema.names) - set(mapping.values())
            rel = engine.read_source(source, table, self.connection, as_text=contract)
            renames = _checked_renames(engine.column_names(rel), mapping, schema)
            rel = engine.rename(rel, renames)
            check_required(engine.column_names(rel), schema)
            rel, parsed = engine.coerce(rel, schema)
            frame = _before_checks(engine.to_lazy(rel), table, event_types)
            columns = frame.collect_schema().names()
            summary = (
                {"first": nw.col("timestamp").min(), "last": nw.col("timestamp").max()}
                if "timestamp" in schema.names  # an event table (customers may hold any column)
                else {}
            )
            stats = check_rules(frame, rules_for(schema, columns, parsed), scope, table, summary)
            frame = _after_checks(frame, table, parsed)
            frame = apply_duplicate_policy(frame, duplicates, table, self.connection)
            if table == "customers":
                check_unique(frame, "customer_id", table, self.connection)
        return nw.to_native(frame), (stats.get("first"), stats.get("last"))

    def close(self) -> None:
        """Give back the engine's memory: a DuckDB connection is closed (the tables are
        unusable afterwards: do this once the frames you need are built); on Spark, what
        `cache` kept is released and the session is left open (it belongs to its creator)."""
        for frame in self.frames().values():
            engine.release(frame)
        engine.close(self.connection)

    def sample(self, fraction: float, seed: int = 0) -> Tables:
        """The same tables restricted to a random `fraction` of the customers, each with
        their whole history (chosen by a seeded hash of the id, lazily, on the engine).

        ``observed_from`` and ``observed_until`` stay those of the full data.
        """
        if not (isinstance(fraction, int | float) and 0 < fraction <= 1):
            raise ParameterError(f"sample fraction must lie in (0, 1], got {fraction!r}")
        if fraction == 1:
            return self
        return self._each(lambda frame: engine.sample_customers(frame, fraction, seed))

    def cache(self) -> Tables:
        """The same tables, kept by the engine once computed: Spark then reads and validates
        the sources once for the many queries of a training run, not once per query."""
        return self._each(engine.cache)

    def _each(self, change: Callable[[nw.LazyFrame], nw.LazyFrame]) -> Tables:
        """A copy with `change` applied to every table present."""
        changed = copy.copy(self)
        for name, frame in self.frames().items():
            setattr(changed, name, change(frame))
        return changed

    def frames(self) -> dict[str, nw.LazyFrame]:
        """The tables present, by name, in contract order."""
        return {n: getattr(self, n) for n in SCHEMAS if getattr(self, n) is not None}

    def to_pandas(self, table: str) -> pd.DataFrame | None:
        """One canonical table as a pandas DataFrame (None when absent)."""
        frame = getattr(self, table)
        return None if frame is None else engine.collect(frame)

    def __repr__(self) -> str:
        present = list(self.frames())
        return f"Tables({', '.join(present)}; observed until {self.observed_until:%Y-%m-%d})"


def _before_checks(frame: nw.LazyFrame, table: str, event_types: Mapping[str, str]) -> nw.LazyFrame:
    """Values the rules read: `is_return` present, event types trimmed and mapped."""
    if table == "transactions" and "is_return" not in frame.collect_schema().names():
        return frame.with_columns(is_return=nw.lit(False))
    if table == "interactions":
        event = nw.col("event_type").str.strip_chars()
        if event_types:
            event = event.replace_strict(dict(event_types), default=event, return_dtype=nw.String)
        return frame.with_columns(event_type=event)
    return frame


def _after_checks(frame: nw.LazyFrame, table: str, parsed: Mapping[str, Any]) -> nw.LazyFrame:
    """Drop the raw text copies; unknown `is_return` is False; returns get amounts >= 0."""
    frame = frame.drop([engine.RAW_PREFIX + c for c in parsed])
    if table == "transactions":
        # Validation let negative values through on returns only.
        signed = [c for c in ("amount", "quantity") if c in frame.collect_schema().names()]
        frame = frame.with_columns(
            nw.col("is_return").fill_null(False), *(nw.col(c).abs() for c in signed)
        )
    return frame


def _check_mapping(mapping: Any) -> dict[str, dict[str, str]]:
    """The `mapping` argument as plain dicts, after checking its shape and table names."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ParameterError(
            f"mapping must be a dict of table name -> {{source column: canonical column}}, "
            f"got {type(mapping).__name__}"
        )
    unknown = sorted(str(name) for name in mapping if name not in SCHEMAS)
    if unknown:
        raise DataValidationError(
            unknown[0],
            None,
            "mapping names an unknown table",
            f"tables are {sorted(SCHEMAS)}; fix the keys of `mapping`",
        )
    for name, renames in mapping.items():
        if not isinstance(renames, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in renames.items()
        ):
            raise ParameterError(
                f"mapping for table '{name}' must be a dict of source column -> canonical "
                f"column (strings), got {renames!r}"
            )
    return {name: dict(renames) for name, renames in mapping.items()}


def _checked_renames(
    columns: list[str], mapping: Mapping[str, str], schema: TableSchema
) -> dict[str, str]:
    """The renames of one table, after checking them against its source columns and schema."""
    table = schema.name
    for source, target in mapping.items():
        if source not in columns:
            raise DataValidationError(
                table,
                source,
                "mapped column not found in the source",
                f"columns present: {columns}\nhint: fix the key '{source}' in mapping['{table}']",
            )
        if not schema.keep_extra and target not in schema.names:
            raise DataValidationError(
                table,
                target,
                "mapping targets a column that is not in the contract",
                f"canonical columns are {list(schema.names)}\n"
                f"hint: fix the value for '{source}' in mapping['{table}']",
            )
    targets = [mapping.get(c, c) for c in columns]
    for target in dict.fromkeys(targets):
        sources = [c for c, t in zip(columns, targets, strict=True) if t == target]
        if len(sources) > 1:
            raise DataValidationError(
                table,
                target,
                "two source columns map onto the same name",
                f"source columns {sources} would all be called '{target}'\n"
                "hint: map only one of them, or drop the others before loading",
            )
    return {s: t for s, t in mapping.items() if s != t}


def _check_event_types(event_types: Any) -> dict[str, str]:
    """The `event_types` argument as a plain dict of trimmed strings."""
    if event_types is None:
        return {}
    if not isinstance(event_types, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in event_types.items()
    ):
        raise ParameterError(
            "event_types must be a dict of your event type -> canonical event type (non-empty "
            f"strings), got {event_types!r}"
        )
    mapped = {k.strip(): v.strip() for k, v in event_types.items()}
    for key, target in mapped.items():
        if target not in EVENT_TYPES:
            near = difflib.get_close_matches(target, EVENT_TYPES, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ParameterError(
                f"event_types maps {key!r} to {target!r}, which is not a canonical event "
                f"type{hint}; the canonical types are {list(EVENT_TYPES)}"
            )
    return mapped


def _scope(plausible_range: Any) -> Scope:
    """The plausible time range, with defaults for missing ends."""
    default_latest = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)
    if plausible_range is None:
        return Scope(DEFAULT_EARLIEST, default_latest)
    try:
        low, high = plausible_range
        earliest = DEFAULT_EARLIEST if low is None else _naive_utc(low)
        latest = default_latest if high is None else _naive_utc(high)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"plausible_range must be (earliest, latest) as datetimes or date strings, "
            f"got {plausible_range!r} ({exc})"
        ) from None
    if not earliest < latest:
        raise ParameterError(
            f"plausible_range must have earliest < latest, got {plausible_range!r}"
        )
    return Scope(earliest, latest)


def _naive_utc(value: Any) -> dt.datetime:
    """A datetime or date string as a naive UTC datetime."""
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        raise ValueError("not a time")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()
