"""The distributed engine, Spark: sessions, reading sources, casting, hashing, collecting.

The only module that imports pyspark (an optional dependency: ``pip install "cxml[spark]"``);
`cxml.data.engine` dispatches to it. Everything stays a lazy Spark plan until `collect`.
Canonical timestamps are ``TIMESTAMP_NTZ`` holding UTC wall time (DuckDB's naive
``TIMESTAMP``), and the session must read naive Python datetimes the same way
(``spark.sql.timestampType=TIMESTAMP_NTZ``, which `connect` sets), so that a cut-off means
the same instant on every engine whatever the machine's time zone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import narwhals as nw
import pandas as pd
import pyarrow as pa
from py4j.protocol import Py4JError
from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cxml.data.contract import Kind, TableSchema
from cxml.data.engine import (
    NUMBER_TEXT,
    RAW_PREFIX,
    TIMESTAMP_TEXT,
    TZ_SUFFIX,
    empty_table,
    source_format,
    summary,
    wrong_type,
)
from cxml.errors import DataValidationError, ParameterError, SourceError

Connection: TypeAlias = SparkSession
Relation: TypeAlias = DataFrame

#: Session settings cxml relies on; `options` of `connect` may add to them.
SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}
_HASH = "__cxml_row_hash"
_MALFORMED = "__cxml_malformed_line"
ERRORS = (PySparkException, Py4JError)
_SPARK_TYPES = {
    "id": "string",
    "float": "double",
    "bool": "boolean",
    "timestamp": "timestamp_ntz",
    "string": "string",
}
_NUMERIC = ("integer", "float")
Cast = Callable[[Column, str], Column]


def connect(
    master: str | None = None, options: Mapping[str, Any] | None = None, app_name: str = "cxml"
) -> SparkSession:
    """The active Spark session, or a new one, with cxml's session settings.

    `master` None keeps what spark-submit or the platform set (local[*] otherwise). Python
    workers run this interpreter (``PYSPARK_PYTHON``), which `mlflow.pyfunc.spark_udf` needs.
    """
    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = SparkSession.builder.appName(app_name)
    if master:
        builder = builder.master(master)
    settings = {**SESSION_DEFAULTS, **{k: str(v) for k, v in (options or {}).items()}}
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    for key in ("spark.sql.session.timeZone", "spark.sql.timestampType"):
        spark.conf.set(key, settings[key])  # an existing session keeps its own otherwise
    return spark


@contextmanager
def reading(table: str) -> Iterator[None]:
    """Report a Spark failure while reading `table` as a `DataValidationError`."""
    try:
        yield
    except ERRORS as exc:
        raise DataValidationError(
            table,
            None,
            "values the engine cannot read",
            f"the engine reported: {summary(exc)}\nhint: fix the value or file the engine "
            "names, or give each column one type",
        ) from None


def read_source(
    source: Any, table: str, spark: SparkSession, as_text: Collection[str] = ()
) -> DataFrame:
    """A DataFrame over a Spark DataFrame, catalog table name, CSV/Parquet path, glob or
    folder, (prepared) pandas DataFrame or Arrow table.

    CSV columns named in `as_text` (the contract's) are read as text, as on DuckDB: Spark's
    inferred types would turn ids such as "007" into the number 7; the others keep the
    types Spark infers from every row.
    """
    _check_session(spark)
    if isinstance(source, DataFrame):
        return source
    if isinstance(source, pd.DataFrame | pa.Table) and len(source) == 0:
        raise empty_table(table)  # before Spark fails to infer a schema from no rows
    if isinstance(source, pd.DataFrame):
        # Spark has no unsigned 64-bit type (values above 2**63 became nulls): read them as
        # text, as DuckDB reads UBIGINT ids.
        wide = [c for c in source.columns if source[c].dtype == "uint64"]
        source = source.assign(**{c: source[c].astype(str) for c in wide}) if wide else source
    try:
        if isinstance(source, pd.DataFrame | pa.Table):
            return spark.createDataFrame(source)
    except ERRORS as exc:
        raise DataValidationError(
            table, None, "the DataFrame cannot be read", f"the engine reported: {summary(exc)}"
        ) from None
    if isinstance(source, str | os.PathLike):
        return _read_named(os.path.expanduser(os.fspath(source)), table, spark, as_text)
    raise SourceError(
        f"table '{table}': unsupported source of type {type(source).__name__}; pass a Spark "
        "or pandas DataFrame, a catalog table name or a CSV or Parquet path"
    )


def _check_session(spark: SparkSession) -> None:
    value = spark.conf.get("spark.sql.timestampType", "TIMESTAMP_LTZ")
    if value.upper() != "TIMESTAMP_NTZ":
        raise ParameterError(
            f"the Spark session has spark.sql.timestampType={value}; cxml compares times as "
            "naive UTC and needs TIMESTAMP_NTZ: run spark.conf.set('spark.sql.timestampType', "
            "'TIMESTAMP_NTZ') or create the session with cxml.data.engine.connect('spark')"
        )


def _read_named(
    name: str, table: str, spark: SparkSession, as_text: Collection[str] = ()
) -> DataFrame:
    """A catalog table, or a CSV or Parquet file, glob or folder."""
    looks_like_table = source_format(name) is None and not any(ch in name for ch in "/\\*?")
    try:
        if looks_like_table:
            if spark.catalog.tableExists(name):
                return spark.table(name)
            raise SourceError(
                f"table '{table}': '{name}' is neither a table of the Spark session's catalog "
                "nor a CSV or Parquet path"
            )
        if "://" not in name and not any(ch in name for ch in "*?") and not Path(name).exists():
            raise SourceError(f"table '{table}': file not found: '{name}'")
        if source_format(name.rstrip("/")) == "csv":
            return _read_csv(name, table, spark, as_text)
        return spark.read.option("mergeSchema", "true").parquet(name)
    except ERRORS as exc:
        raise SourceError(
            f"table '{table}': cannot read '{name}': {summary(exc)}; check that it is a valid, "
            "complete CSV or Parquet file (a folder is read as Parquet)"
        ) from None


def _read_csv(name: str, table: str, spark: SparkSession, as_text: Collection[str]) -> DataFrame:
    """CSV with the contract's columns as text, refusing lines whose field count differs
    from the header's (Spark would drop extra fields and pad missing ones with nulls)."""
    inferred = spark.read.csv(name, header=True, inferSchema=True)
    fields = [
        T.StructField(f.name, T.StringType() if f.name in as_text else f.dataType)
        for f in inferred.schema.fields
    ]
    frame = spark.read.csv(
        name,
        header=True,
        schema=T.StructType([*fields, T.StructField(_MALFORMED, T.StringType())]),
        columnNameOfCorruptRecord=_MALFORMED,
    )
    bad = frame.filter(F.col(_MALFORMED).isNotNull()).withColumn("_file", F.input_file_name())
    for row in bad.limit(1).collect():
        raise SourceError(
            f"table '{table}': the line {row[_MALFORMED]!r} of '{row['_file']}' does not have "
            f"the header's {len(fields)} fields; every line must have as many fields as the "
            "header (was the file cut short?)"
        )
    return frame.drop(_MALFORMED)


def rename(rel: DataFrame, mapping: Mapping[str, str]) -> DataFrame:
    """Rename columns (source name -> new name)."""
    return rel.withColumnsRenamed(dict(mapping))


def _utc(column: Column, session_zone: str) -> Column:
    """An instant as UTC wall time (casting to NTZ alone gives the session zone's)."""
    return F.convert_timezone(F.lit(session_zone), F.lit("UTC"), column.cast("timestamp_ntz"))


def _text(column: Column) -> Column:
    """Text with blanks as missing values."""
    return F.nullif(F.trim(column.cast("string")), F.lit(""))


def _zoned_text(column: Column, zone: str) -> Column:
    """ISO strings with an offset are converted to UTC; naive ones are taken as UTC."""
    text = _text(column)
    return F.when(
        text.rlike(TIMESTAMP_TEXT),
        F.when(text.rlike(TZ_SUFFIX), _utc(text.try_cast("timestamp_ltz"), zone)).otherwise(
            text.try_cast("timestamp_ntz")
        ),
    )


def _number(column: Column, zone: str) -> Column:
    text = _text(column)
    return F.when(text.rlike(NUMBER_TEXT), text.try_cast("double"))


def _as_string(column: Column, zone: str) -> Column:
    return column.cast("string")


#: (kind, family of the source type) -> the cast, and the raw text copy kept for validation
#: (None where the cast cannot fail). Each takes the column and the session time zone.
_CASTS: dict[tuple[str, str], tuple[Cast, Cast | None]] = {
    ("id", "integer"): (lambda c, z: c.cast("bigint"), None),
    # Ids stored as floats (pandas does that once a column has a NaN) must be whole.
    ("id", "float"): (lambda c, z: F.when(c == F.round(c, 0), c).try_cast("bigint"), _as_string),
    ("id", "text"): (lambda c, z: F.when(F.trim(c) != "", c), None),
    **{("float", family): (lambda c, z: c.cast("double"), None) for family in _NUMERIC},
    ("float", "text"): (_number, lambda c, z: _text(c)),
    ("bool", "bool"): (lambda c, z: c, None),
    **{
        ("bool", family): (lambda c, z: F.when(c == 1, True).when(c == 0, False), _as_string)
        for family in _NUMERIC
    },
    ("bool", "text"): (lambda c, z: _text(c).try_cast("boolean"), lambda c, z: _text(c)),
    ("timestamp", "tz_timestamp"): (_utc, None),
    ("timestamp", "timestamp"): (lambda c, z: c.cast("timestamp_ntz"), None),
    ("timestamp", "text"): (_zoned_text, lambda c, z: _text(c)),
}


def coerce(rel: DataFrame, schema: TableSchema) -> tuple[DataFrame, dict[str, Kind]]:
    """Cast contract columns to canonical types (see `engine.coerce`)."""
    zone = rel.sparkSession.conf.get("spark.sql.session.timeZone") or "UTC"
    columns: list[Column] = []
    parsed: dict[str, Kind] = {}
    for field in rel.schema.fields:
        name, dtype = field.name, field.dataType.simpleString()
        column, family = F.col(_quote(name)), _family(dtype)
        if name in schema.names:
            kind = schema.column(name).kind
            if kind == "string" or family == "null":
                columns.append(column.cast(_SPARK_TYPES[kind]).alias(name))
                continue
            if (kind, family) not in _CASTS:
                raise wrong_type(schema.name, name, kind, dtype, family in _NUMERIC)
            cast, raw = _CASTS[kind, family]
            columns.append(cast(column, zone).alias(name))
            if raw is not None:
                columns.append(raw(column, zone).alias(RAW_PREFIX + name))
                parsed[name] = kind
        elif schema.keep_extra:
            if "." in name or "`" in name:  # Spark would read `a.b` as field b of a struct a
                raise DataValidationError(
                    schema.name,
                    name,
                    "a column name with '.' or '`' cannot be used on Spark",
                    "rename the column in the source (e.g. address_city for address.city)",
                )
            columns.append(_utc(column, zone).alias(name) if family == "tz_timestamp" else column)
    return rel.select(*columns), parsed


def _family(dtype: str) -> str:
    if dtype == "string" or dtype.startswith(("varchar", "char")):
        return "text"
    if dtype in ("tinyint", "smallint", "int", "bigint"):
        return "integer"
    if dtype in ("float", "double") or dtype.startswith("decimal"):
        return "float"
    if dtype == "boolean":
        return "bool"
    if dtype in ("timestamp_ntz", "date"):
        return "timestamp"
    if dtype == "timestamp":
        return "tz_timestamp"
    if dtype == "void":
        return "null"
    return "other"


def align_id_types(rels: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    """Make `customer_id` text in every table when the tables disagree on its type."""
    types = {r.schema["customer_id"].dataType.simpleString() for r in rels.values()}
    if len(types) <= 1:
        return dict(rels)
    return {
        name: rel.withColumn("customer_id", F.col("customer_id").cast("string"))
        for name, rel in rels.items()
    }


def rows_with_repeated_hash(
    frame: nw.LazyFrame, columns: Sequence[str], spark: SparkSession
) -> nw.LazyFrame | None:
    """The rows whose hash of `columns` repeats (see `engine.rows_with_repeated_hash`)."""
    hashed = nw.to_native(frame).withColumn(_HASH, F.xxhash64(*map(_quote, columns)))
    repeated = hashed.groupBy(_HASH).count().filter(F.col("count") > 1).select(_HASH)
    if repeated.isEmpty():
        return None
    return nw.from_native(hashed.join(repeated, on=_HASH, how="left_semi").drop(_HASH))


def distinct(frame: nw.LazyFrame) -> nw.LazyFrame:
    """Drop exact duplicate rows."""
    return nw.from_native(nw.to_native(frame).distinct())


def sample_customers(frame: nw.LazyFrame, fraction: float, seed: int) -> nw.LazyFrame:
    """Rows of the customers whose seeded hash falls in the first `fraction` of the range."""
    key = F.xxhash64(F.col("customer_id").cast("string"), F.lit(int(seed)))
    bucket = F.pmod(key, F.lit(1_000_000))
    return nw.from_native(nw.to_native(frame).filter(bucket < round(fraction * 1_000_000)))


def cache(frame: nw.LazyFrame) -> nw.LazyFrame:
    """The frame kept by Spark once computed (memory, spilling to disk), for reuse."""
    return nw.from_native(nw.to_native(frame).persist(StorageLevel.MEMORY_AND_DISK))


def release(frame: nw.LazyFrame) -> None:
    """Free the memory and disk Spark holds for a cached frame (harmless if not cached)."""
    nw.to_native(frame).unpersist()


def collect(frame: nw.LazyFrame) -> pd.DataFrame:
    """Execute on Spark and bring the result to the driver as pandas (through Arrow).

    Spark hands over one pandas block per column; the copy joins them, since adding a column
    to a frame of over 100 blocks is slow (pandas warns).
    """
    return frame.collect("pandas").to_native().copy()


def result_limit(spark: SparkSession) -> int:
    """The most bytes the driver accepts from one collect (spark.driver.maxResultSize)."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
    text = spark.conf.get("spark.driver.maxResultSize", "1g").strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text or 0))


def close(spark: SparkSession) -> None:
    """Nothing: the session belongs to whoever created it and may hold other work."""


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"
