"""The embedded engine, DuckDB: connections, reading sources, casting, hashing, collecting.

The only module that imports DuckDB; `cxml.data.engine` dispatches to it. Every DuckDB error
that bad input can cause is turned into a `DataValidationError` or `SourceError` here.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import pyarrow as pa

from cxml.data.contract import Kind, TableSchema
from cxml.data.engine import (
    NUMBER_TEXT,
    RAW_PREFIX,
    TIMESTAMP_TEXT,
    TZ_SUFFIX,
    as_text,
    source_format,
    summary,
    wrong_type,
)
from cxml.errors import DataValidationError, ParameterError, SourceError

Connection: TypeAlias = duckdb.DuckDBPyConnection
Relation: TypeAlias = duckdb.DuckDBPyRelation

_HASH = "__cxml_row_hash"
_INTEGER = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_WIDE_INTEGER = {"UBIGINT", "HUGEINT", "UHUGEINT"}
_FLOAT = {"FLOAT", "DOUBLE"}
_TIMESTAMP = {"TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE"}
#: Zoned timestamps: microseconds, and nanoseconds (pyarrow's and pandas 2's timestamp[ns, tz]).
_TZ_TIMESTAMP = {"TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS"}

_SQL_TYPES = {
    "id": "VARCHAR",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "string": "VARCHAR",
}
_NUMERIC = ("integer", "wide_integer", "float")
_AS_TEXT = "CAST({q} AS VARCHAR)"
_TEXT = "NULLIF(TRIM(CAST({q} AS VARCHAR)), '')"  # blank strings are missing values
#: (kind, family of the source type) -> SQL of the cast and of the raw text copy kept for
#: validation (None where the cast cannot fail). `{q}` stands for the quoted column.
_CASTS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("id", "integer"): ("CAST({q} AS BIGINT)", None),
    ("id", "wide_integer"): (_AS_TEXT, None),
    # Ids stored as floats (pandas does that once a column has a NaN) must be whole.
    ("id", "float"): ("TRY_CAST(CASE WHEN {q} = trunc({q}) THEN {q} END AS BIGINT)", _AS_TEXT),
    ("id", "text"): (f"CASE WHEN TRIM({_AS_TEXT}) <> '' THEN {_AS_TEXT} END", None),
    **{("float", family): ("CAST({q} AS DOUBLE)", None) for family in _NUMERIC},
    ("float", "text"): (
        f"CASE WHEN regexp_matches({_TEXT}, '{NUMBER_TEXT}') THEN TRY_CAST({_TEXT} AS DOUBLE) END",
        _TEXT,
    ),
    ("bool", "bool"): ("{q}", None),
    **{
        ("bool", family): ("CASE WHEN {q} = 1 THEN TRUE WHEN {q} = 0 THEN FALSE END", _AS_TEXT)
        for family in _NUMERIC
    },
    ("bool", "text"): (f"TRY_CAST({_TEXT} AS BOOLEAN)", _TEXT),
    ("timestamp", "tz_timestamp"): ("timezone('UTC', {q})", None),
    ("timestamp", "timestamp"): ("CAST({q} AS TIMESTAMP)", None),
    # ISO strings with an offset are converted to UTC; naive ones are taken as UTC.
    ("timestamp", "text"): (
        f"CASE WHEN NOT regexp_matches({_TEXT}, '{TIMESTAMP_TEXT}') THEN NULL "
        f"WHEN regexp_matches({_TEXT}, '{TZ_SUFFIX}') "
        f"THEN timezone('UTC', TRY_CAST({_TEXT} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({_TEXT} AS TIMESTAMP) END",
        _TEXT,
    ),
}


def connect(threads: int | None = None) -> Connection:
    """A new in-memory DuckDB connection: UTC session time zone, no progress bar."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    with contextlib.suppress(duckdb.InvalidInputException):
        # Jupyter without ipywidgets: DuckDB refuses the change, and has the bar off there.
        con.execute("SET enable_progress_bar = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


@contextmanager
def reading(table: str) -> Iterator[None]:
    """Report an engine failure while reading `table` as a `DataValidationError`.

    Sources are read lazily, so values that the engine cannot convert surface only when a
    query runs; this keeps them from escaping as engine tracebacks.
    """
    try:
        yield
    except duckdb.Error as exc:
        hint = "fix the value or line the engine names, or give each column one type"
        if "different connections" in str(exc):
            hint = "pass connection= the DuckDB connection your relations come from"
        raise DataValidationError(
            table,
            None,
            "values the engine cannot read",
            f"the engine reported: {summary(exc)}\nhint: {hint}",
        ) from None


def read_source(
    source: Any, table: str, con: Connection, as_text: Collection[str] = ()
) -> Relation:
    """A relation over a (prepared) DataFrame, Arrow table, CSV/Parquet path or glob, or
    relation. CSV columns named in `as_text` are read as text, not typed by a sample of rows.
    """
    _check_session(con)
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    if isinstance(source, pd.DataFrame):
        return _read_pandas(source, table, con)
    if isinstance(source, pa.Table):
        try:
            return con.from_arrow(source)
        except duckdb.Error as exc:
            raise DataValidationError(
                table,
                None,
                "the Arrow table cannot be read",
                f"the engine reported: {summary(exc)}",
            ) from None
    if isinstance(source, str | os.PathLike):
        return _read_path(os.path.expanduser(os.fspath(source)), table, con, as_text)
    raise SourceError(
        f"table '{table}': unsupported source of type {type(source).__name__}; pass a pandas "
        "DataFrame, a CSV or Parquet path (globs allowed) or a DuckDB relation"
    )


def _check_session(con: Connection) -> None:
    """ParameterError for a connection whose session time zone is not UTC: DuckDB converts
    naive times to time-zone-aware ones in that zone (a Parquet glob mixing the two shifted
    the naive ones), and cxml compares times as naive UTC."""
    zone = con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    if zone not in ("UTC", "Etc/UTC"):
        raise ParameterError(
            f"the DuckDB connection has TimeZone={zone!r}; cxml compares times as naive UTC "
            "and needs UTC: run con.execute(\"SET TimeZone = 'UTC'\") or create the "
            "connection with cxml.data.engine.connect()"
        )


def _read_pandas(frame: pd.DataFrame, table: str, con: Connection) -> Relation:
    """A relation over a prepared DataFrame (see `engine.prepared_pandas`)."""
    try:
        return con.from_df(frame)
    except duckdb.Error:
        pass
    # Some pandas dtypes (period, interval, sparse, complex) have no engine type: pass as text.
    unreadable = {c: as_text(frame[c]) for c in frame.columns if not _engine_reads(frame[[c]], con)}
    try:
        return con.from_df(frame.assign(**unreadable))
    except duckdb.Error as exc:
        raise DataValidationError(
            table, None, "the DataFrame cannot be read", f"the engine reported: {summary(exc)}"
        ) from None


def _engine_reads(frame: pd.DataFrame, con: Connection) -> bool:
    try:
        con.from_df(frame.iloc[:0])
    except duckdb.Error:
        return False
    return True


def _ragged_line(files: list[str]) -> str | None:
    """The first CSV line whose number of fields differs from its file's header, as text."""
    for name in files:
        with open(name, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            for row in reader:
                if row and len(row) != len(header):
                    return (
                        f"line {reader.line_num} of '{name}' has {len(row)} fields, "
                        f"the header {len(header)}"
                    )
    return None


def _read_path(path: str, table: str, con: Connection, as_text: Collection[str]) -> Relation:
    """A relation over a CSV or Parquet file or glob, or a `SourceError` saying what is wrong."""
    if glob.has_magic(path):
        files = sorted(f for f in glob.glob(path) if Path(f).is_file())
        if not files:
            raise SourceError(f"table '{table}': no file matches the pattern '{path}'")
    elif Path(path).is_dir():
        raise SourceError(
            f"table '{table}': '{path}' is a folder; pass a file or a pattern such as "
            f"'{Path(path) / '*.parquet'}'"
        )
    elif not Path(path).is_file():
        raise SourceError(f"table '{table}': file not found: '{path}'")
    else:
        files = [path]
    formats = {source_format(f) for f in files}
    if formats == {None}:
        raise SourceError(
            f"table '{table}': cannot tell the format of '{path}' from its name; "
            "use a .csv or .parquet file"
        )
    if len(formats) > 1:
        raise SourceError(
            f"table '{table}': '{path}' matches files of different formats; "
            "pass CSV and Parquet files separately"
        )
    try:
        if formats == {"parquet"}:
            return con.read_parquet(files, union_by_name=True)
        rel = con.read_csv(files, union_by_name=True)
        ragged = _ragged_line(files) if len(rel.columns) == 1 and "," in rel.columns[0] else None
        if ragged:  # DuckDB then reads the whole header as one column name
            raise SourceError(
                f"table '{table}': {ragged}; every line must have as many fields as the "
                "header (was the file cut short?)"
            )
        if all(re.fullmatch(r"column\d+", c) for c in rel.columns):
            raise SourceError(
                f"table '{table}': found no header row in '{path}'; the first line must name "
                "the columns and every line must have as many fields as the header"
            )
        text = {c: "VARCHAR" for c in rel.columns if c in as_text}
        return con.read_csv(files, union_by_name=True, dtype=text) if text else rel
    except duckdb.Error as exc:
        raise SourceError(
            f"table '{table}': cannot read '{path}': {summary(exc)}; "
            "check that the file is a valid, complete CSV or Parquet file"
        ) from None


def column_types(rel: Relation) -> dict[str, str]:
    """Column name -> DuckDB type name."""
    return {name: str(dtype) for name, dtype in zip(rel.columns, rel.types, strict=True)}


def rename(rel: Relation, mapping: Mapping[str, str]) -> Relation:
    """Rename columns (source name -> new name)."""
    return rel.project(
        ", ".join(f"{_quote(c)} AS {_quote(mapping.get(c, c))}" for c in rel.columns)
    )


def coerce(rel: Relation, schema: TableSchema) -> tuple[Relation, dict[str, Kind]]:
    """Cast contract columns to canonical types (see `engine.coerce`)."""
    parts: list[str] = []
    parsed: dict[str, Kind] = {}
    for name, dtype in column_types(rel).items():
        q = _quote(name)
        if name in schema.names:
            kind = schema.column(name).kind
            sql, raw = _cast_sql(q, kind, dtype, schema.name, name)
            parts.append(f"{sql} AS {q}")
            if raw:
                parts.append(f"{raw} AS {_quote(RAW_PREFIX + name)}")
                parsed[name] = kind
        elif schema.keep_extra:
            parts.append(f"timezone('UTC', {q}) AS {q}" if dtype in _TZ_TIMESTAMP else q)
    return rel.project(", ".join(parts)), parsed


def _cast_sql(q: str, kind: Kind, dtype: str, table: str, column: str) -> tuple[str, str | None]:
    """SQL casting one column to its kind, and SQL for its raw text copy when the cast can fail."""
    family = _family(dtype)
    if kind == "string" or family == "null":
        return f"CAST({q} AS {_SQL_TYPES[kind]})", None
    if (kind, family) in _CASTS:
        cast, raw = _CASTS[kind, family]
        return cast.replace("{q}", q), raw.replace("{q}", q) if raw else None
    raise wrong_type(table, column, kind, dtype, family in _NUMERIC)


def _family(dtype: str) -> str:
    if dtype == "VARCHAR" or dtype.startswith("ENUM("):
        return "text"
    if dtype in _INTEGER:
        return "integer"
    if dtype in _WIDE_INTEGER:
        return "wide_integer"
    if dtype in _FLOAT or dtype.startswith("DECIMAL"):
        return "float"
    if dtype == "BOOLEAN":
        return "bool"
    if dtype in _TIMESTAMP:
        return "timestamp"
    if dtype in _TZ_TIMESTAMP:
        return "tz_timestamp"
    if dtype in ('"NULL"', "NULL"):
        return "null"
    return "other"


def align_id_types(rels: Mapping[str, Relation]) -> dict[str, Relation]:
    """Make `customer_id` text in every table when the tables disagree on its type."""
    types = {column_types(r)["customer_id"] for r in rels.values()}
    if len(types) <= 1:
        return dict(rels)
    return {
        name: rel.project(
            ", ".join(
                "CAST(customer_id AS VARCHAR) AS customer_id" if c == "customer_id" else _quote(c)
                for c in rel.columns
            )
        )
        for name, rel in rels.items()
    }


def rows_with_repeated_hash(
    frame: nw.LazyFrame, columns: Sequence[str], con: Connection
) -> nw.LazyFrame | None:
    """The rows whose hash of `columns` repeats (see `engine.rows_with_repeated_hash`).

    DuckDB hashes every row in one parallel scan and numpy sorts the 8-byte hashes, several
    times faster than an engine group-by with (nearly) one group per row.
    """
    rel = nw.to_native(frame)
    row_hash = f"hash({', '.join(_quote(c) for c in columns)})"
    hashes = rel.project(f"{row_hash} AS h").fetchnumpy()["h"]
    hashes.sort()
    repeated = hashes[1:][hashes[1:] == hashes[:-1]]
    if not len(repeated):
        return None
    keys = to_lazy(con.from_arrow(pa.table({_HASH: np.unique(repeated)})))
    hashed = to_lazy(rel.project(f"*, {row_hash} AS {_HASH}"))
    return hashed.join(keys, on=_HASH, how="semi").drop(_HASH)


def distinct(frame: nw.LazyFrame) -> nw.LazyFrame:
    """Drop exact duplicate rows."""
    return to_lazy(nw.to_native(frame).distinct())


def sample_customers(frame: nw.LazyFrame, fraction: float, seed: int) -> nw.LazyFrame:
    """Rows of the customers whose seeded hash falls in the first `fraction` of the range."""
    rel = nw.to_native(frame)
    bucket = f"hash(CAST(customer_id AS VARCHAR), {int(seed)}) % 1000000"
    return to_lazy(rel.filter(f"{bucket} < {round(fraction * 1_000_000)}"))


def cache(frame: nw.LazyFrame) -> nw.LazyFrame:
    """The frame itself: DuckDB scans its in-memory or file sources fast enough again."""
    return frame


def release(frame: nw.LazyFrame) -> None:
    """Nothing: `cache` keeps nothing."""


def to_lazy(rel: Relation) -> nw.LazyFrame:
    """Wrap a relation as a narwhals LazyFrame."""
    return nw.from_native(rel)


def collect(frame: nw.LazyFrame) -> pd.DataFrame:
    """Execute a narwhals frame and return pandas."""
    return frame.collect("pandas").to_native()


def result_limit(con: Connection) -> int:
    """No limit: results are built in this process."""
    return 0


def close(con: Connection) -> None:
    """Close the connection and give back its memory."""
    con.close()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
