"""The engine underneath `Tables`: one set of functions, run by DuckDB or by Spark.

Everything above the data layer is narwhals expressions and calls these functions; which
engine runs them follows from the connection or frame they are given (a DuckDB connection
or relation, or a Spark session or DataFrame). The engine-specific code lives in
`cxml.data.duckdb_engine` and `cxml.data.spark_engine`; only this module picks one.
pyspark is imported only when a Spark object is passed (it is an optional dependency).
"""

from __future__ import annotations

import importlib
import os
import warnings
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any, Literal, TypeAlias

import narwhals as nw
import pandas as pd

from cxml.data.contract import Kind, TableSchema
from cxml.errors import DataValidationError, ParameterError

#: A DuckDB connection or a Spark session.
Connection: TypeAlias = Any
#: A DuckDB relation or a Spark DataFrame.
Relation: TypeAlias = Any
Engine = Literal["duckdb", "spark"]

#: Prefix of the text copies kept next to columns whose cast can fail (see `coerce`).
RAW_PREFIX = "__raw_"
_ZONE = r"\s*(Z|z|[+-]\d\d(:?\d\d){0,2}|[A-Za-z][A-Za-z0-9_/+-]*)"
#: A timestamp string that ends in a UTC offset or a zone name or abbreviation (run inside
#: the engine): "Z", "+01", "+0100", "+01:00:00", "UTC", "EST", "Europe/Berlin", "Etc/GMT-1".
#: Such strings are cast with their zone (an unknown zone fails the cast, and validation
#: reports the value); others are taken as UTC.
TZ_SUFFIX = r"\d:\d\d(:\d\d(\.\d+)?)?" + _ZONE + "$"
#: The text the engines read as a timestamp: an ISO 8601 date, optionally with a time of
#: day (hours 0-23) and a zone as in `TZ_SUFFIX`. DuckDB's and Spark's own casts each accept
#: more, and differently ("2023/02/01", "24:00:00", "2023"), so text must match this first.
TIMESTAMP_TEXT = (
    r"^\d{4}-\d\d?-\d\d?([T ]([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(" + _ZONE + ")?)?$"
)
#: The text the engines read as a number: a plain decimal, optionally with an exponent, or
#: inf/nan (rejected later as not finite). Spark alone accepts "1.5d", DuckDB alone "1_000".
NUMBER_TEXT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|(?i:inf|infinity|nan))$"
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")

#: Object columns whose values pandas infers as one of these are handed to the engine as is;
#: others (datetimes with and without zones, mixed objects) are passed as text.
_PLAIN_OBJECTS = {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean"}
_WANTED = {
    "id": "integers or text",
    "float": "numbers",
    "bool": "booleans (true/false or 1/0)",
    "timestamp": "datetimes or ISO 8601 strings",
}
_MODULES = {"duckdb": "cxml.data.duckdb_engine", "spark": "cxml.data.spark_engine"}


class DriverMemoryWarning(UserWarning):
    """A distributed result about to be collected looks too big for this machine's memory."""


def _backend(obj: Any) -> ModuleType:
    """The engine module that runs `obj` (a connection, relation or narwhals frame)."""
    if isinstance(obj, nw.LazyFrame | nw.DataFrame):
        obj = nw.to_native(obj)
    return importlib.import_module(_MODULES[engine_of(obj)])


def engine_of(obj: Any) -> Engine:
    """Which engine a connection, relation or DataFrame belongs to (by its type's package)."""
    return "spark" if type(obj).__module__.startswith("pyspark") else "duckdb"


def connect(engine: Engine = "duckdb", **settings: Any) -> Connection:
    """A new DuckDB connection (``threads``) or a Spark session (``master``, ``options``)."""
    if engine not in _MODULES:
        raise ParameterError(f"engine must be 'duckdb' or 'spark', got {engine!r}")
    return importlib.import_module(_MODULES[engine]).connect(**settings)


def connection_for(sources: Sequence[Any], connection: Connection | None) -> Connection:
    """The connection to run `sources` on: the one given, else the session of the first
    Spark DataFrame among them, else a new in-memory DuckDB connection."""
    if connection is not None:
        return connection
    for source in sources:
        native = nw.to_native(source) if isinstance(source, nw.LazyFrame) else source
        if engine_of(native) == "spark" and hasattr(native, "sparkSession"):
            return native.sparkSession
    return connect("duckdb")


def reading(table: str, con: Connection) -> AbstractContextManager[None]:
    """Report an engine failure while reading `table` as a `DataValidationError`.

    Sources are read lazily, so values that the engine cannot convert surface only when a
    query runs; this keeps them from escaping as engine tracebacks.
    """
    return _backend(con).reading(table)


def read_source(
    source: Any, table: str, con: Connection, as_text: Collection[str] = ()
) -> Relation:
    """A relation over a DataFrame, Arrow table, CSV/Parquet path or glob, relation, or (on
    Spark) a table of the session's catalog.

    CSV columns named in `as_text` are read as text where the engine would guess their
    type from a sample, so that validation can report each value that does not parse.
    """
    if isinstance(source, nw.LazyFrame | nw.DataFrame):
        source = nw.to_native(source)
    if isinstance(source, pd.DataFrame):
        source = prepared_pandas(source, table)
    return _backend(con).read_source(source, table, con, as_text)


def column_names(rel: Relation) -> list[str]:
    """The column names of a relation."""
    return list(rel.columns)


def rename(rel: Relation, mapping: Mapping[str, str]) -> Relation:
    """Rename columns (source name -> new name)."""
    return _backend(rel).rename(rel, mapping) if mapping else rel


def coerce(rel: Relation, schema: TableSchema) -> tuple[Relation, dict[str, Kind]]:
    """Cast contract columns to canonical types, dropping other columns unless the table keeps them.

    Where a cast can fail (text to number, say), a text copy `__raw_<col>` is kept so that
    validation can report the values that did not parse; the returned dict names those columns.
    Raises `DataValidationError` for a column whose type cannot hold its kind at all.
    """
    reserved = [c for c in column_names(rel) if c.startswith(RAW_PREFIX)]
    if reserved and schema.keep_extra:
        raise DataValidationError(
            schema.name,
            reserved[0],
            f"column names starting with '{RAW_PREFIX}' are reserved",
            "rename the column",
        )
    return _backend(rel).coerce(rel, schema)


def empty_table(table: str) -> DataValidationError:
    """The error for a table without rows."""
    return DataValidationError(table, None, "the table is empty", "pass at least one row")


def wrong_type(table: str, column: str, kind: Kind, dtype: str, numeric: bool) -> Exception:
    """The error for a column whose engine type cannot hold its kind (`numeric`: a number)."""
    hint = f"convert the column to {_WANTED[kind]} before loading, or map another column onto it"
    if kind == "timestamp" and numeric:
        hint = (
            "numbers are not read as timestamps because their unit is ambiguous; convert them "
            "first, e.g. pd.to_datetime(df[col], unit='s')"
        )
    return DataValidationError(table, column, f"wrong type: expected {kind}, got {dtype}", hint)


def align_id_types(rels: Mapping[str, Relation]) -> dict[str, Relation]:
    """Make `customer_id` text in every table when the tables disagree on its type."""
    first = next(iter(rels.values()))
    return _backend(first).align_id_types(rels)


def rows_with_repeated_hash(
    frame: nw.LazyFrame, columns: Sequence[str], con: Connection
) -> nw.LazyFrame | None:
    """The rows of `frame` whose 64-bit hash of `columns` occurs more than once, or None.

    A pre-filter for duplicate detection: rows with a unique hash are unique. Rows returned
    may still differ (a hash collision), so compare them on `columns`.
    """
    return _backend(frame).rows_with_repeated_hash(frame, columns, con)


def distinct(frame: nw.LazyFrame) -> nw.LazyFrame:
    """Drop exact duplicate rows."""
    return _backend(frame).distinct(frame)


def sample_customers(frame: nw.LazyFrame, fraction: float, seed: int) -> nw.LazyFrame:
    """The rows of a fraction of the customers, chosen by a seeded hash of ``customer_id``
    (so every table keeps the same customers, with their whole history)."""
    return _backend(frame).sample_customers(frame, fraction, seed)


def cache(frame: nw.LazyFrame) -> nw.LazyFrame:
    """The frame kept by the engine once computed, for queries that read it again."""
    return _backend(frame).cache(frame)


def release(frame: nw.LazyFrame) -> None:
    """Drop what the engine keeps of a cached frame (nothing to do on DuckDB)."""
    _backend(frame).release(frame)


def to_lazy(rel: Relation) -> nw.LazyFrame:
    """Wrap a relation as a narwhals LazyFrame."""
    return nw.from_native(rel)


def collect(frame: nw.LazyFrame | nw.DataFrame) -> pd.DataFrame:
    """Execute a narwhals frame and return pandas."""
    if isinstance(frame, nw.DataFrame):
        return frame.to_native()
    return _backend(frame).collect(frame)


TRAINING_HINT = (
    "train on a sample of customers (spark.sample in the config, Tables.sample in Python) or "
    "give the driver more memory (spark.driver.memory, spark.driver.maxResultSize)"
)


def check_collect_size(rows: int, columns: int, con: Connection, hint: str = TRAINING_HINT) -> None:
    """Warn (`DriverMemoryWarning`, ending with `hint`) when a frame of rows x columns
    numbers, held twice while it is converted, would take more than half of this machine's
    free memory or exceed the engine's limit on one result (spark.driver.maxResultSize)."""
    size = rows * columns * 8
    limit = _backend(con).result_limit(con)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not a POSIX system that says
        free = 0
    if (free and 2 * size > free / 2) or (limit and size > limit):
        warnings.warn(
            f"collecting about {rows:,} rows x {columns} columns (~{size / 2**30:.2f} GiB) to "
            f"this machine ({free / 2**30:.1f} GiB free"
            + (f", result limit {limit / 2**30:.1f} GiB" if limit else "")
            + f"); {hint}",
            DriverMemoryWarning,
            stacklevel=2,
        )


def close(con: Connection) -> None:
    """Give back the engine's memory (a DuckDB connection is closed; a Spark session is left
    to its owner)."""
    _backend(con).close(con)


def source_format(path: str) -> str | None:
    """``"parquet"`` or ``"csv"`` by a file name's suffix, else None."""
    lower = path.lower()
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    return None


def prepared_pandas(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """A DataFrame ready for an engine: named index as a column, unique text column names,
    and object columns the engine would misread converted: Python dates to midnight
    timestamps, others (e.g. datetimes with mixed zones) to text."""
    if frame.shape[1] == 0:
        raise DataValidationError(
            table, None, "the table is empty", "the DataFrame has no columns; pass at least one row"
        )
    # A named index (e.g. customer_id set as index) is data; a default one is not.
    frame = frame.reset_index(drop=all(name is None for name in frame.index.names))
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataValidationError(
            table,
            repeated[0],
            "duplicate column names",
            f"columns present: {names}; rename or drop the repeated columns",
        )
    frame.columns = names
    objects = {
        c: pd.api.types.infer_dtype(frame[c], skipna=True)
        for c in names
        if frame[c].dtype == object
    }
    changed = {
        c: pd.to_datetime(frame[c]).astype("datetime64[us]")
        if kind == "date"
        else as_text(frame[c])
        for c, kind in objects.items()
        if kind == "date" or _is_ambiguous(frame[c], kind)
    }
    return frame.assign(**changed) if changed else frame


def _is_ambiguous(column: pd.Series, kind: str) -> bool:
    """An object column of inferred `kind` that the engine cannot type reliably (e.g.
    datetimes with mixed zones)."""
    return kind not in _PLAIN_OBJECTS and not any(
        isinstance(v, list | tuple | dict | set) for v in column.head(1000)
    )


def as_text(column: pd.Series) -> pd.Series:
    """A column as Python strings, missing values as None."""
    return column.map(str, na_action="ignore").astype(object).where(column.notna(), None)


def summary(exc: BaseException) -> str:
    """The first lines of an engine message, without its query echo."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    lines = [line for line in lines[:3] if not line.startswith("LINE ")]
    return " ".join(lines) or type(exc).__name__
