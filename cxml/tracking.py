"""MLflow tracking: one run per training, the fitted pipeline as one registered pyfunc model.

The run holds the flattened configuration as parameters, a fingerprint of every input
table, every metric of every model and baseline, the evaluation table, the figures, the
feature importances, the HTML report (``report.html``) and the configuration file. The
model takes snapshot columns (plus ``customer_id``) and returns the scores of
:data:`cxml.pipeline.SCORE_COLUMNS`.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import subprocess
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import narwhals as nw
import numpy as np
import pandas as pd
from mlflow.data.code_dataset_source import CodeDatasetSource
from mlflow.data.meta_dataset import MetaDataset
from mlflow.models import ModelSignature, infer_signature
from mlflow.tracking import MlflowClient
from mlflow.types import ColSpec, DataType, Schema

import cxml
from cxml.config import ProjectConfig, flatten, load_training_tables, to_yaml
from cxml.data import Tables
from cxml.data.engine import collect
from cxml.data.flags import as_flags
from cxml.data.sums import exact_total
from cxml.errors import CxmlError, DataValidationError
from cxml.pipeline import Pipeline
from cxml.report import build_report

#: Distributions the model needs at serving time (cxml itself travels as code).
PIP_REQUIREMENTS = (
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "lightgbm",
    "lifetimes",
    "duckdb",
    "narwhals",
    "pyarrow",
    "pydantic",
    "PyYAML",
    "threadpoolctl",
)
MODEL_NAME = "model"


class TrackingError(CxmlError, RuntimeError):
    """The MLflow store or registry refused an operation."""


@dataclass(frozen=True)
class TrainedRun:
    """What `train` produced: the run, the registered version and the fitted pipeline."""

    run_id: str
    model_uri: str
    registered_model: str
    version: str
    pipeline: Pipeline


class PipelineModel(mlflow.pyfunc.PythonModel):
    """A fitted `Pipeline` as an MLflow pyfunc model: snapshot rows in, scores out."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Scores for snapshot rows; ``customer_id`` is a column of `model_input`.

        ``params={"plan": False}`` leaves out the action plan (for batches of a larger base,
        planned together afterwards, as `cxml.spark.score` does).
        """
        plan = bool((params or {}).get("plan", True))
        return self.pipeline.score_snapshot(snapshot_of(model_input), plan=plan)


def _git_commit() -> str | None:
    """The commit of the cxml source tree, when it is a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(cxml.__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def fingerprint(frame: nw.LazyFrame) -> tuple[int, str]:
    """Row count and a digest of a table's size, time span, ids and amounts or events."""
    schema = frame.collect_schema()
    aggregates = [
        nw.len().alias("rows"),
        nw.col("customer_id").n_unique().alias("customers"),
    ]
    if "timestamp" in schema:
        aggregates += [nw.col("timestamp").min().alias("first"), nw.col("timestamp").max()]
    if "amount" in schema:
        aggregates.append(exact_total(nw.col("amount")).alias("amount"))
    summary = collect(frame.select(*aggregates)).iloc[0]
    digest = hashlib.sha256(repr(summary.to_dict()).encode()).hexdigest()[:16]
    return int(summary["rows"]), digest


def _log_inputs(tables: Tables, config: ProjectConfig) -> None:
    for name, frame in tables.frames().items():
        rows, digest = fingerprint(frame)
        source = getattr(config.data, name) or f"dataset:{config.data.dataset.name}"
        dataset = MetaDataset(CodeDatasetSource({"source": str(source)}), name=name, digest=digest)
        mlflow.log_input(dataset, context="training", tags={"rows": str(rows)})


def _log_evaluation(pipeline: Pipeline) -> None:
    evaluation = pipeline.evaluation_
    if evaluation is None:
        return
    metrics = {
        f"{row.model}.{row.metric}": row.value
        for row in evaluation.table.itertuples()
        if math.isfinite(row.value)
    }
    mlflow.log_metrics(metrics)
    mlflow.log_table(evaluation.wide(), "evaluation/metrics.json")
    mlflow.log_text(evaluation.wide().to_csv(index=False), "evaluation/metrics.csv")
    for name, figure in evaluation.figures.items():
        mlflow.log_figure(figure, f"plots/{name}.png")


def _log_importances(pipeline: Pipeline) -> None:
    for name, model in (("churn", pipeline.churn_model_), ("clv", pipeline.clv_model_)):
        importances = model.feature_importances_
        if importances is not None:
            mlflow.log_text(importances.to_csv(), f"feature_importance/{name}.csv")


def _log_actions(pipeline: Pipeline) -> None:
    """The plan at the latest calibration cut-off and the learned effects' report."""
    plan = pipeline.plan_
    if plan is None:
        return
    mlflow.log_table(plan.summary, "actions/plan_summary.json")
    mlflow.log_text(
        plan.text(pipeline.actions.currency if pipeline.actions else ""), "actions/plan.txt"
    )
    numbers = {k: float(v) for k, v in plan.totals.items() if isinstance(v, int | float)}
    mlflow.log_metrics({f"plan.{k}": v for k, v in numbers.items() if math.isfinite(v)})
    report = pipeline.uplift_report_
    if report is not None:
        mlflow.log_table(report, "actions/uplift_report.json")
        qini = {f"uplift.{r.action}.qini": r.qini for r in report.itertuples()}
        mlflow.log_metrics({k: float(v) for k, v in qini.items() if math.isfinite(v)})


def _log_report(pipeline: Pipeline, tables: Tables, config: ProjectConfig) -> None:
    """The HTML report (monthly KPIs, holdout figures, segments at the data end, the plan)."""
    title = f"{config.name}: training report"
    plan = pipeline.plan_
    html = build_report(
        tables,
        pipeline=pipeline,
        plan=None if plan is None else plan.summary,
        budget=None if plan is None else plan.totals["budget"],
        period="M",
        title=title,
    )
    mlflow.log_text(html, "report.html")


def model_input(snapshot: pd.DataFrame) -> pd.DataFrame:
    """Snapshot rows as the pyfunc model takes them: ``customer_id`` a column, categoricals
    as plain text (MLflow's schema has no categorical type) and booleans with missing values
    as objects (MLflow passes those through; it cannot cast a missing value to boolean)."""
    frame = snapshot.reset_index()
    for column in frame.columns[1:]:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) or (
            isinstance(dtype, pd.BooleanDtype) and frame[column].hasnans
        ):
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
    return frame


def snapshot_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The snapshot back from `model_input`'s frame: indexed by ``customer_id``, booleans
    with missing values boolean again (categoricals are restored by the models)."""
    snapshot = frame.set_index("customer_id")
    for column in snapshot.columns:
        values = snapshot[column]
        if values.dtype == object and pd.api.types.infer_dtype(values) == "boolean":
            snapshot[column] = values.astype("boolean")
    return snapshot


def _signature(example: pd.DataFrame, scores: pd.DataFrame) -> ModelSignature:
    """The inferred signature with every input column optional: a few example rows cannot
    tell which features may be missing for some customer. One parameter, ``plan``."""
    with warnings.catch_warnings():
        # The integer columns are ids, never missing: MLflow's hint does not apply.
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
        inferred = infer_signature(example, scores, params={"plan": True})
    inputs = Schema([ColSpec(c.type, c.name, required=False) for c in inferred.inputs.inputs])
    return ModelSignature(inputs, inferred.outputs, inferred.params)


def _log_model(pipeline: Pipeline, example: pd.DataFrame, config: ProjectConfig) -> Any:
    example = model_input(example.set_index("customer_id"))
    scores = pipeline.score_snapshot(snapshot_of(example))
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    level = pyfunc_log.level
    # MLflow warns that a Python object is pickled: deliberate, the model is the pipeline.
    pyfunc_log.setLevel(logging.ERROR)
    try:
        return mlflow.pyfunc.log_model(
            name=MODEL_NAME,
            python_model=PipelineModel(pipeline),
            signature=_signature(example, scores),
            input_example=example,
            pip_requirements=[f"{p}=={version(p)}" for p in PIP_REQUIREMENTS],
            code_paths=[str(Path(cxml.__file__).parent)],
            registered_model_name=config.mlflow.registered_model,
        )
    finally:
        pyfunc_log.setLevel(level)


def train(
    config: ProjectConfig,
    config_text: str | None = None,
    step: Callable[[str], AbstractContextManager[Any]] = lambda _: nullcontext(),
) -> TrainedRun:
    """Fit the configured pipeline inside one MLflow run and register it.

    A failure marks the run FAILED. The registered version gets the config's alias.
    `step(description)` wraps each long step (the CLI shows progress with it).
    """
    mlflow.set_tracking_uri(config.mlflow.tracking_uri)
    try:
        mlflow.set_experiment(config.mlflow.experiment)
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(
            f"cannot use experiment {config.mlflow.experiment!r} at "
            f"{config.mlflow.tracking_uri}: {exc.message}"
        ) from None
    tags = {"cxml.version": cxml.__version__}
    commit = _git_commit()
    if commit:
        tags["cxml.git_commit"] = commit
    with mlflow.start_run(tags=tags) as run:
        mlflow.log_params({_param_key(k): v for k, v in flatten(config).items()})
        mlflow.log_text(config_text or to_yaml(config), "config.yaml")
        with step("Reading and validating the tables"):
            tables = load_training_tables(config)
            _log_inputs(tables, config)
        try:
            with step("Building snapshots, training and evaluating"):
                pipeline = Pipeline.from_config(config, tables)
                pipeline.check_inputs(tables)
                pipeline.fit(tables)
            with step("Logging metrics, plots and the model to MLflow"):
                _log_evaluation(pipeline)
                _log_importances(pipeline)
                _log_actions(pipeline)
                _log_report(pipeline, tables, config)
                info = _log_model(pipeline, pipeline.input_example_, config)
        finally:
            tables.close()
        version_ = str(info.registered_model_version)
        MlflowClient().set_registered_model_alias(
            config.mlflow.registered_model, config.mlflow.alias, version_
        )
    return TrainedRun(
        run.info.run_id, info.model_uri, config.mlflow.registered_model, version_, pipeline
    )


def _param_key(key: str) -> str:
    """A flattened config key as an MLflow param name: characters MLflow refuses (e.g. the
    parentheses of a mapped source column "Amount (EUR)") become '_'."""
    return re.sub(r"[^/\w.\- :]", "_", key)


def load_model(uri: str, tracking_uri: str) -> mlflow.pyfunc.PyFuncModel:
    """The pyfunc model at `uri` (``models:/name@alias``, ``models:/name/3``, ``runs:/...``).

    A SQLite store that does not exist is an error here: MLflow would create it (and its
    folders) only to find no model in it.
    """
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[10:]).exists():
        raise TrackingError(
            f"cannot load model {uri!r}: there is no MLflow store at {tracking_uri} "
            "(train a model first, or set mlflow.tracking_uri)"
        )
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.pyfunc.load_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(
            f"cannot load model {uri!r} from {tracking_uri}: {exc.message}"
        ) from None


def pipeline_of(model: mlflow.pyfunc.PyFuncModel) -> Pipeline:
    """The fitted `Pipeline` inside a pyfunc model logged by :func:`train`."""
    wrapped = model.unwrap_python_model()
    if not isinstance(wrapped, PipelineModel):
        raise TrackingError("this MLflow model was not logged by cxml train")
    return wrapped.pipeline


def score(
    model: mlflow.pyfunc.PyFuncModel, tables: Tables, as_of: Any, *, close: bool = False
) -> pd.DataFrame:
    """Scores through the pyfunc model for every customer first seen before `as_of`.

    The action plan is made outside the pyfunc model, on the whole snapshot: the model's
    input schema would drop the contact recency of a channel that a re-planned catalogue
    (`Pipeline.with_actions`) added. With `close`, the tables' engine is closed once the
    snapshot is built, so that its memory is free while the models predict.
    """
    pipeline = pipeline_of(model)
    snapshot = pipeline.snapshot(tables, as_of)
    if close:
        tables.close()
    schema = model.metadata.get_input_schema()
    rows = _conform(model_input(snapshot), schema)
    inputs = rows if schema is None else rows[rows.columns.intersection(schema.input_names())]
    try:
        scores = model.predict(inputs, params={"plan": False})
    except mlflow.exceptions.MlflowException as exc:  # its message holds the whole frame
        reason = exc.message.rsplit("Error: ", 1)[-1].strip()
        raise TrackingError(
            f"the scoring data do not fit the model's input schema: {reason}"
        ) from None
    if pipeline.actions is None:
        return scores
    return pipeline.with_plan(snapshot_of(rows), scores)


#: Signature types an integer id column has (from Parquet or pandas ids).
INTEGER_TYPES = (DataType.long, DataType.integer)
#: Text that reads back as the same integer: no leading zeros, signs, spaces or decimals.
WHOLE_TEXT = r"^(0|-?[1-9][0-9]{0,18})$"


def unconformable(name: str, expected: str, count: int, example: Any) -> DataValidationError:
    """The error for scoring values that would change if cast to the model's type."""
    example = example.item() if isinstance(example, np.generic) else example
    return DataValidationError(
        "customers",
        name,
        f"the model was trained with {expected} here",
        f"found {count} rows with other values, e.g. {example!r}",
    )


def _conform(rows: pd.DataFrame, schema: Schema | None) -> pd.DataFrame:
    """`rows` with columns cast to the model signature's types where no value changes: ids
    read as numbers from Parquet but as text from CSV (either way round), and 1/0 flags for
    true/false.

    A value the cast would change (the text id "007" for a model of integer ids, a numeric
    flag other than 0 and 1) is a DataValidationError naming the column.
    """
    for spec in [] if schema is None else schema.inputs:
        name = spec.name
        if name not in rows.columns or pd.api.types.is_bool_dtype(rows[name].dtype):
            continue
        column, numeric = rows[name], pd.api.types.is_numeric_dtype(rows[name].dtype)
        if spec.type == DataType.string and numeric:
            rows[name] = column.map(str, na_action="ignore").astype(object)
        elif spec.type in INTEGER_TYPES and not numeric:
            text = column.dropna().astype(str)
            bad = text[~text.str.fullmatch(WHOLE_TEXT)]
            if bad.empty:  # parsed once: Python ints, compared before any int64 cast
                ints = text.map(int)
                bad = text[[not -(2**63) <= v < 2**63 for v in ints]]
            if not bad.empty:
                raise unconformable(name, "integer ids", len(bad), bad.iloc[0])
            rows[name] = ints.reindex(column.index).astype(
                "int64" if ints.size == len(column) else "Int64"
            )
        elif spec.type == DataType.boolean and numeric:
            flags, bad = as_flags(column)
            if not bad.empty:
                raise unconformable(name, "true/false values", len(bad), bad.iloc[0])
            rows[name] = flags
    return rows
