"""Everything that knows which engine runs: connections, reading sources, casting, collecting.

The embedded engine is DuckDB. Feature and validation logic above this module is written
as narwhals expressions and never imports duckdb itself.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import duckdb
import narwhals as nw
import pandas as pd

from cxml.data.contract import TableSchema
from cxml.errors import DataValidationError, SourceError

RAW_PREFIX = "__raw_"
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection with UTC as session time zone."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def read_source(source: Any, table: str, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    """Turn a DataFrame, a CSV/Parquet path or glob, or a DuckDB relation into a relation."""
    if isinstance(source, nw.LazyFrame | nw.DataFrame):
        source = nw.to_native(source)
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True)
        if not all(isinstance(c, str) for c in frame.columns):
            frame.columns = [str(c) for c in frame.columns]
        try:
            return con.from_df(frame)
        except (duckdb.Error, TypeError, ValueError) as exc:
            raise DataValidationError(
                table, None, f"cannot be read as a table: {_first_line(exc)}"
            ) from None
    if isinstance(source, str | Path):
        return _read_path(str(source), table, con)
    raise SourceError(
        f"table '{table}': unsupported source of type {type(source).__name__}; pass a pandas "
        "DataFrame, a CSV or Parquet path (globs allowed) or a DuckDB relation"
    )


def _read_path(path: str, table: str, con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyRelation:
    files = sorted(glob.glob(path)) if glob.has_magic(path) else [path]
    if not files or not all(Path(f).is_file() for f in files):
        raise SourceError(f"table '{table}': no file matches '{path}'")
    lower = files[0].lower()
    try:
        if lower.endswith(_PARQUET_SUFFIXES):
            return con.read_parquet(files)
        if lower.endswith(_CSV_SUFFIXES):
            return con.read_csv(files)
    except duckdb.Error as exc:
        raise DataValidationError(table, None, f"cannot read '{path}': {_first_line(exc)}") from None
    raise SourceError(
        f"table '{table}': cannot tell the format of '{path}'; use a .csv or .parquet file"
    )


def column_types(rel: duckdb.DuckDBPyRelation) -> dict[str, str]:
    """Column name -> DuckDB type name."""
    return {name: str(dtype) for name, dtype in zip(rel.columns, rel.types, strict=True)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cast_sql(column: str, kind: str, dtype: str, table: str) -> tuple[str, bool]:
    """SQL casting one column to its canonical type; True when a raw copy must be checked."""
    q = _quote(column)
    upper = dtype.upper()
    is_text = upper == "VARCHAR"
    numeric = any(t in upper for t in ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL"))
    if kind == "id":
        return q, False
    if kind == "string":
        return f"CAST({q} AS VARCHAR)", False
    if kind == "float":
        if numeric:
            return f"CAST({q} AS DOUBLE)", False
        if is_text:
            return f"TRY_CAST({q} AS DOUBLE)", True
    elif kind == "bool":
        if upper == "BOOLEAN":
            return q, False
        if numeric or is_text:
            return f"TRY_CAST({q} AS BOOLEAN)", True
    elif kind == "timestamp":
        if upper == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {q})", False
        if upper.startswith("TIMESTAMP") or upper == "DATE":
            return f"CAST({q} AS TIMESTAMP)", False
        if is_text:
            # Strings with an explicit offset are converted to UTC; naive strings are UTC.
            return f"timezone('UTC', TRY_CAST({q} AS TIMESTAMPTZ))", True
    raise DataValidationError(
        table, column, f"wrong type: expected {kind}, got {dtype}",
        "cast the column before loading, or map another column onto it",
    )


def coerce(
    rel: duckdb.DuckDBPyRelation, schema: TableSchema, table: str
) -> duckdb.DuckDBPyRelation:
    """Cast contract columns to canonical types; keep `__raw_<col>` copies where casts can fail."""
    types = column_types(rel)
    parts: list[str] = []
    for name, dtype in types.items():
        if name in schema.names:
            sql, check = _cast_sql(name, schema.column(name).kind, dtype, table)
            parts.append(f"{sql} AS {_quote(name)}")
            if check:
                parts.append(f"{_quote(name)} AS {_quote(RAW_PREFIX + name)}")
        elif schema.keep_extra:
            parts.append(_quote(name))
    return rel.project(", ".join(parts))


def rename(rel: duckdb.DuckDBPyRelation, mapping: dict[str, str]) -> duckdb.DuckDBPyRelation:
    """Rename columns (source name -> new name)."""
    return rel.project(", ".join(
        f"{_quote(c)} AS {_quote(mapping.get(c, c))}" for c in rel.columns))


def to_lazy(rel: duckdb.DuckDBPyRelation) -> nw.LazyFrame:
    """Wrap a relation as a narwhals LazyFrame."""
    return nw.from_native(rel)


def cast_ids_to_text(rel: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
    """Make `customer_id` VARCHAR, used when tables disagree on the id type."""
    cols = [
        "CAST(customer_id AS VARCHAR) AS customer_id" if c == "customer_id" else _quote(c)
        for c in rel.columns
    ]
    return rel.project(", ".join(cols))


def collect(frame: nw.LazyFrame | nw.DataFrame) -> pd.DataFrame:
    """Execute a narwhals frame and return pandas."""
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect("pandas")
    return frame.to_native()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
