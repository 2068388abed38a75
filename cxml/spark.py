"""Scoring at scale on Spark: features built on the cluster, the registered model in a UDF.

`score` builds the snapshot lazily on Spark-backed `Tables` (the same narwhals feature code
as on DuckDB) and applies the registered pipeline model with `mlflow.pyfunc.spark_udf`, so
only the model travels to the executors and no customer row passes through the driver.
Needs the ``spark`` extra: ``pip install "cxml[spark]"``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import mlflow
import narwhals as nw
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cxml.data import Tables
from cxml.data.engine import engine_of
from cxml.errors import ParameterError
from cxml.features import build_snapshot
from cxml.features.spec import as_cutoff
from cxml.pipeline import SCORE_COLUMNS
from cxml.tracking import load_model, pipeline_of

#: Spark types of the score columns after ``customer_id`` (whose type is the tables').
SCORE_TYPES = {
    "churn_probability": T.DoubleType(),
    "p_alive": T.DoubleType(),
    "expected_purchases": T.DoubleType(),
    "clv": T.DoubleType(),
    "clv_lower": T.DoubleType(),
    "clv_upper": T.DoubleType(),
    "value_segment": T.StringType(),
    "risk_segment": T.StringType(),
    "churn_drivers": T.StringType(),
}


def score(
    tables: Tables, model_uri: str, as_of: Any, *, tracking_uri: str | None = None
) -> DataFrame:
    """Scores of every customer first seen before `as_of`, as a lazy Spark DataFrame.

    Same columns and values as `cxml.tracking.score` on the same data (row order aside).

    Parameters
    ----------
    tables
        Tables on a Spark session (built from Spark DataFrames, catalog tables or paths
        with ``connection=`` a session).
    model_uri
        A model logged by ``cxml train``: ``models:/name@alias``, ``models:/name/3``, ...
    as_of
        The score date: only events before it count.
    tracking_uri
        The MLflow tracking server or store; default MLflow's current one.
    """
    if engine_of(tables.connection) != "spark":
        raise ParameterError(
            "cxml.spark.score needs Tables on a Spark session (pass Spark DataFrames, or "
            "connection=spark); use cxml.tracking.score for other engines"
        )
    tracking_uri = tracking_uri or mlflow.get_tracking_uri()
    pipeline = pipeline_of(load_model(model_uri, tracking_uri))
    if getattr(pipeline, "actions", None) is not None:
        raise ParameterError(
            f"{model_uri} has an action catalogue: its plan is solved over all customers at "
            "once, which Spark's per-batch scoring cannot do; score it with engine: duckdb"
        )
    snapshot = build_snapshot(tables, as_of, pipeline.features, output="lazy")
    inputs = _model_input(snapshot, as_cutoff(as_of), pipeline.feature_columns_)
    # Python workers must run this interpreter to unpickle the model (cxml travels as code).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    result = T.StructType(
        [
            T.StructField("customer_id", inputs.schema["customer_id"].dataType),
            *(T.StructField(name, SCORE_TYPES[name]) for name in SCORE_COLUMNS[1:]),
        ]
    )
    predict = mlflow.pyfunc.spark_udf(
        inputs.sparkSession, model_uri, result_type=result, env_manager="local"
    )
    scored = inputs.select(predict(F.struct(*inputs.columns)).alias("scores"))
    return scored.select("scores.*")


def _model_input(snapshot: nw.LazyFrame, cutoff: Any, features: list[str]) -> DataFrame:
    """The pyfunc model's input: customer_id, cutoff and the features, numbers as doubles
    (as `build_snapshot` collects them)."""
    schema = snapshot.collect_schema()
    columns = [
        nw.col(c).cast(nw.Float64) if schema[c].is_integer() else nw.col(c) for c in features
    ]
    frame = snapshot.select("customer_id", nw.lit(cutoff).alias("cutoff"), *columns)
    return frame.to_native()


def write_parquet(frame: DataFrame, path: str | Path) -> None:
    """Write a Spark DataFrame as a Parquet folder at `path`, replacing what is there."""
    frame.write.mode("overwrite").parquet(str(path))
