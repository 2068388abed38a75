"""Scoring at scale on Spark: features built on the cluster, the registered model in a UDF.

`score` builds the snapshot lazily on Spark-backed `Tables` (the same narwhals feature code
as on DuckDB) and applies the registered pipeline model with `mlflow.pyfunc.spark_udf`, so
only the model travels to the executors and no customer row passes through the driver,
except for a model with an action catalogue: its plan shares one budget between all
customers and is solved on the driver (`score_with_plan`).
Needs the ``spark`` extra: ``pip install "cxml[spark]"``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import mlflow
import narwhals as nw
import pandas as pd
from mlflow.types import DataType, Schema
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from cxml.actions import PLAN_COLUMNS, ActionPlan
from cxml.data import Tables
from cxml.data.engine import check_collect_size, engine_of, summary
from cxml.data.spark_engine import ERRORS as ENGINE_ERRORS
from cxml.errors import ParameterError
from cxml.features import FeatureSpec, build_snapshot, sources
from cxml.features.snapshot import nobody_seen
from cxml.features.spec import as_cutoff
from cxml.pipeline import SCORE_COLUMNS, Pipeline
from cxml.tracking import INTEGER_TYPES, WHOLE_TEXT, load_model, pipeline_of, unconformable

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
#: Spark types of the action plan's columns.
PLAN_TYPES = {
    "action": T.StringType(),
    "expected_value": T.DoubleType(),
    "action_rank_2": T.StringType(),
    "action_rank_2_value": T.DoubleType(),
    "planned_action": T.StringType(),
    "in_control_group": T.BooleanType(),
    "assignment_probability": T.DoubleType(),
    "reason": T.StringType(),
}
_SCORED = "__cxml_score_"
PLAN_FILE = "_action_plan.json"
PLAN_HINT = (
    "a plan is solved over all customers on the driver: give it more memory "
    "(spark.driver.memory, spark.driver.maxResultSize)"
)


def score(
    tables: Tables, model_uri: str, as_of: Any, *, tracking_uri: str | None = None
) -> DataFrame:
    """Scores of every customer first seen before `as_of`, as a Spark DataFrame.

    Same columns and values as `cxml.tracking.score` on the same data (row order aside).
    Without an action catalogue the frame is lazy and no customer row passes through the
    driver; with one, the plan columns follow (see `score_with_plan`).

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
    return score_with_plan(tables, model_uri, as_of, tracking_uri=tracking_uri)[0]


def score_with_plan(
    tables: Tables,
    model_uri: str,
    as_of: Any,
    *,
    tracking_uri: str | None = None,
    model: mlflow.pyfunc.PyFuncModel | None = None,
) -> tuple[DataFrame, ActionPlan | None]:
    """`score`, and the action plan when the model has an action catalogue (else None).
    `model` is the model at `model_uri` when already loaded (it is not loaded again).

    The scores are computed on the executors in batches. A plan is one optimisation over
    every customer (budget and capacities are shared), so it is solved on the driver: the
    snapshot and the scores are collected there (a `DriverMemoryWarning` says when they look
    too big), planned, and the scores with the plan columns go back as a Spark DataFrame.
    """
    if engine_of(tables.connection) != "spark":
        raise ParameterError(
            "cxml.spark.score needs Tables on a Spark session (pass Spark DataFrames, or "
            "connection=spark); use cxml.tracking.score for other engines"
        )
    tracking_uri = tracking_uri or mlflow.get_tracking_uri()
    model = model or load_model(model_uri, tracking_uri)
    pipeline = pipeline_of(model)
    planning = getattr(pipeline, "actions", None) is not None
    params = model.metadata.get_params_schema()
    if planning and (params is None or "plan" not in {p.name for p in params.params}):
        raise ParameterError(
            f"{model_uri} was logged by an older cxml whose model cannot leave its action "
            "plan out of Spark's batches; train it again, or score it with engine: duckdb"
        )
    _check_seen(tables, as_of)
    snapshot = build_snapshot(
        tables, as_of, pipeline.feature_spec(), output="lazy", undated_customers=True
    )
    pipeline.check_feature_columns(snapshot.collect_schema().names())
    inputs = _model_input(snapshot, as_cutoff(as_of), pipeline.feature_columns_)
    inputs = _conformed(inputs, model.metadata.get_input_schema())
    # Python workers must run this interpreter to unpickle the model (cxml travels as code).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    result = T.StructType(
        [
            T.StructField("customer_id", inputs.schema["customer_id"].dataType),
            *(T.StructField(name, SCORE_TYPES[name]) for name in SCORE_COLUMNS[1:]),
        ]
    )
    predict = mlflow.pyfunc.spark_udf(
        inputs.sparkSession,
        model_uri,
        result_type=result,
        env_manager="local",
        params={"plan": False} if planning else None,
    )
    scores = F.struct(*inputs.columns)
    if not planning:
        return inputs.select(predict(scores).alias("scores")).select("scores.*"), None
    # One UDF call per row (a field taken from the call several times could run it again).
    scored = inputs.select("*", predict(scores).alias(_SCORED)).select(
        *inputs.columns, *(F.col(f"{_SCORED}.{c}").alias(_SCORED + c) for c in SCORE_COLUMNS[1:])
    )
    return _planned(pipeline, tables, as_of, scored, result)


def _planned(
    pipeline: Pipeline, tables: Tables, as_of: Any, scored: DataFrame, result: T.StructType
) -> tuple[DataFrame, ActionPlan]:
    """Scores with the plan columns: the snapshot and its scores (`scored`, the score
    columns prefixed) collected, planned on the driver, sent back to Spark."""
    spark = scored.sparkSession
    scored = scored.persist(StorageLevel.MEMORY_AND_DISK)  # computed once: counted, collected
    try:
        # About four copies on the driver: Arrow, pandas, the planning frame, the result.
        check_collect_size(scored.count(), 2 * len(scored.columns), spark, PLAN_HINT)
        frame = scored.toPandas().set_index("customer_id").sort_index()
    finally:
        scored.unpersist()
    score_names = [c for c in frame.columns if c.startswith(_SCORED)]
    scores = frame[score_names].rename(columns=lambda c: c.removeprefix(_SCORED)).reset_index()
    snapshot = frame.drop(columns=score_names).join(pipeline.contacts(tables, as_of))
    planned = pipeline.with_plan(snapshot, scores)
    plan = ActionPlan.from_scores(planned)
    schema = T.StructType(
        [*result.fields, *(T.StructField(c, PLAN_TYPES[c]) for c in PLAN_COLUMNS)]
    )
    for column in PLAN_COLUMNS:  # Arrow sends text, not pandas categories
        if isinstance(planned[column].dtype, pd.CategoricalDtype):
            planned[column] = planned[column].astype(object)
    return spark.createDataFrame(planned, schema=schema), plan


def snapshot_frame(tables: Tables, as_of: Any, spec: FeatureSpec | None = None) -> DataFrame:
    """The snapshot at `as_of` as a registered model takes it (``customer_id``, ``cutoff``,
    the features), a lazy Spark DataFrame: what ``cxml snapshot`` writes."""
    _check_seen(tables, as_of)
    snapshot = build_snapshot(tables, as_of, spec, output="lazy", undated_customers=True)
    features = snapshot.collect_schema().names()[1:]
    return _model_input(snapshot, as_cutoff(as_of), features)


def _check_seen(tables: Tables, as_of: Any) -> None:
    """The error `Pipeline.snapshot` raises when no customer is seen before `as_of`: one
    cheap Spark job over the ids, before the snapshot is computed."""
    seen = sources.population(tables, as_cutoff(as_of), undated=True).to_native()
    if seen.limit(1).count() == 0:
        raise nobody_seen(as_of)


def _model_input(snapshot: nw.LazyFrame, cutoff: Any, features: list[str]) -> DataFrame:
    """The pyfunc model's input: customer_id, cutoff and the features, numbers as doubles
    (as `build_snapshot` collects them)."""
    schema = snapshot.collect_schema()
    columns = [
        nw.col(c).cast(nw.Float64) if schema[c].is_integer() else nw.col(c) for c in features
    ]
    frame = snapshot.select("customer_id", nw.lit(cutoff).alias("cutoff"), *columns)
    return frame.to_native()


def _conformed(inputs: DataFrame, schema: Schema | None) -> DataFrame:
    """`inputs` cast to the model signature's types where no value changes, as
    `cxml.tracking.score` casts them (one Spark job checks the values first)."""
    casts: dict[str, Column] = {}
    checks: list[tuple[str, str, Column]] = []
    for spec in [] if schema is None else schema.inputs:
        if spec.name not in inputs.columns:
            continue
        column, dtype = F.col(f"`{spec.name}`"), inputs.schema[spec.name].dataType
        numeric = isinstance(dtype, T.NumericType)
        if spec.type == DataType.string and numeric:
            casts[spec.name] = column.cast("string")
        elif spec.type in INTEGER_TYPES and isinstance(dtype, T.StringType):
            casts[spec.name] = column.cast("long")
            bad = ~column.rlike(WHOLE_TEXT) | column.try_cast("long").isNull()
            checks.append((spec.name, "integer ids", bad))
        elif spec.type == DataType.boolean and numeric:
            casts[spec.name] = F.when(column == 1, True).when(column == 0, False)
            checks.append((spec.name, "true/false values", ~column.isin(0, 1)))
    if checks:
        counts = [F.count_if(bad) for _, _, bad in checks]
        examples = [F.first(F.when(bad, F.col(f"`{n}`")), ignorenulls=True) for n, _, bad in checks]
        found = inputs.select(*counts, *examples).collect()[0]
        for i, (name, expected, _) in enumerate(checks):
            if found[i]:
                raise unconformable(name, expected, found[i], found[len(checks) + i])
    return inputs.withColumns(casts) if casts else inputs


def _cause(exc: BaseException) -> str:
    """An engine error in brief: for an error in a Python worker, its traceback's last line
    (e.g. MLflow's schema mismatch), not the traceback."""
    text = str(exc)
    if "Traceback (most recent call last)" in text:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1][:500]
    return summary(exc)


def write_parquet(frame: DataFrame, path: str | Path, plan: ActionPlan | None = None) -> None:
    """Write a Spark DataFrame as a Parquet folder at `path`, replacing what is there.

    On this machine's file system (a ``file:`` path, or a bare path when Spark's default
    file system is local) the folder is written beside the target and renamed into place,
    so a failed write leaves neither a partial folder nor a lost previous one; with `plan`
    it also gets the plan's summary and totals as ``_action_plan.json`` (Parquet readers
    skip names starting with ``_``). Elsewhere (HDFS, object stores, Spark Connect) Spark's
    committers write in place.

    Raises
    ------
    ParameterError
        The output cannot be written, or Spark failed computing it (the message gives the
        engine's reason).
    """
    target = str(path)
    final = _local_folder(frame.sparkSession, target)
    pid = os.getpid()
    partial = None if final is None else final.with_name(f".{final.name}.{pid}.partial")
    try:
        frame.write.mode("overwrite").parquet(target if partial is None else str(partial))
        if final is None or partial is None:
            return
        if plan is not None:
            (partial / PLAN_FILE).write_text(json.dumps(plan.to_dict()))
        _replace(partial, final)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ParameterError(f"output {target!r} cannot be written: {reason}") from None
    except ENGINE_ERRORS as exc:
        # Spark computes the frame as it writes it: the cause may be the data, not the path.
        raise ParameterError(
            f"Spark failed computing or writing {target!r}: {_cause(exc)}"
        ) from None
    finally:
        if partial is not None:
            shutil.rmtree(partial, ignore_errors=True)


def _local_folder(spark: SparkSession, target: str) -> Path | None:
    """`target` as the absolute local path Spark writes, or None when Spark writes it to
    another file system (HDFS, an object store) or runs remotely (Spark Connect)."""
    jvm, context = getattr(spark, "_jvm", None), getattr(spark, "_jsc", None)
    if jvm is None or context is None:
        return None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(target)
    system = hadoop_path.getFileSystem(context.hadoopConfiguration())
    if system.getScheme() != "file":
        return None
    return Path(str(system.makeQualified(hadoop_path).toUri().getPath()))


def _replace(partial: Path, final: Path) -> None:
    """Move `partial` to `final`; what was at `final` is kept until the move has worked."""
    old = final.with_name(f".{final.name}.{os.getpid()}.old")
    if final.exists():
        final.rename(old)
    try:
        partial.rename(final)
    except OSError:
        if old.exists():
            old.rename(final)
        raise
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
