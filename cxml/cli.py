"""The `cxml` command line: a thin shell over the Python API.

Exit codes: 0 success; 2 bad input or configuration (one message, no traceback); 1 an
unexpected error (the traceback only with ``--debug``). Output files are written to a
temporary file and renamed, so a failed or interrupted command leaves no partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import narwhals as nw
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cxml import __version__
from cxml.dates import shown
from cxml.errors import CxmlError, ParameterError
from cxml.paths import check_writable

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Churn, customer lifetime value and next-best action.",
)
console = Console(markup=False)  # results print paths and data verbatim
errors = Console(stderr=True)
OUTPUT_SUFFIXES = (".parquet", ".csv")
#: What a score date after the end of the data does.
INACTIVE = "every customer looks inactive for the gap"
#: The README's demo: the CDNOW backtest of configs/cdnow.yaml, in the working directory.
DEMO_CONFIG = {
    "name": "cdnow",
    "data": {"dataset": {"name": "cdnow"}},
    "features": {"time_unit": "W"},
    "training": {"cutoffs": ["1997-04-01", "1997-07-01"], "holdout": "1998-01-01"},
    "churn": {"horizon": "6M"},
    "clv": {"horizon": "6M"},
    "mlflow": {"experiment": "cdnow", "registered_model": "cdnow"},
    "output": {"scores": "output/cdnow/scores.parquet", "report": "output/cdnow/report.html"},
    "actions": {
        "budget": 3000,
        "currency": "USD",
        "control_share": 0.1,
        "catalogue": [
            {
                "name": "winback_email",
                "channel": "email",
                "cost": 0.5,
                "eligible": "churn_probability > 0.5 and frequency >= 1",
                "effect": {"purchase_lift": 0.03},
            },
            {
                "name": "discount_coupon",
                "channel": "email",
                "cost": 4,
                "eligible": "clv > 20",
                "effect": {"churn_reduction": 0.1},
            },
            {
                "name": "retention_call",
                "channel": "phone",
                "cost": 10,
                "capacity": 500,
                "eligible": "churn_probability > 0.4 and clv > 60",
                "effect": {"churn_reduction": 0.3},
            },
        ],
    },
}
DEMO_AS_OF = "1998-01-01"

_state = {"debug": False, "quiet": False}

ConfigArgument = typer.Argument(..., help="Project configuration (YAML).", show_default=False)
SetOption = typer.Option(
    [], "--set", help="Override a setting: key.path=value (YAML value). Repeatable."
)
QuietOption = typer.Option(False, "--quiet", help="No progress, only results.")
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?")


def _iso_day(value: str | None) -> str | None:
    """A date option (--as-of, --start, --end), checked: ISO ``YYYY-MM-DD`` (optionally
    with ``THH:MM[:SS]``) of a real day, so that 01/12/2023 is refused rather than guessed."""
    if value is None:
        return None
    text = value.strip()
    try:
        valid = bool(ISO_DAY.fullmatch(text)) and pd.Timestamp(text) is not pd.NaT
    except ValueError:
        valid = False
    if not valid:
        raise typer.BadParameter(f"expected a date like 1998-01-01, got {value!r}")
    return text


OutputOption = typer.Option(..., "--output", help="Parquet or CSV file to write.")


def _exits_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Map errors to exit codes: 2 with one message for bad input, 1 for anything else."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CxmlError as exc:
            errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            if _state["debug"]:
                errors.print(traceback.format_exc(), highlight=False, markup=False)
            else:
                errors.print(
                    f"[bold red]unexpected error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                    "Run with --debug for the traceback.",
                    highlight=False,
                )
            raise typer.Exit(1) from None

    return run


@contextlib.contextmanager
def _step(description: str) -> Iterator[None]:
    """A spinner with elapsed time while a long step runs (nothing with --quiet)."""
    if _state["quiet"]:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=False) as progress:
        task = progress.add_task(description, total=1)
        yield
        progress.update(task, completed=1)


def _check_output(path: Path, folder: bool = False) -> None:
    """Refuse, before any work is done, an output name that is neither Parquet nor CSV, or
    a path that cannot be written (`check_writable`)."""
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ParameterError(
            f"output {str(path)!r}: use a .parquet or .csv file name, got {path.suffix!r}"
        )
    check_writable(path, "output", folder=folder)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write Parquet or CSV (by extension) atomically: temporary file, then rename."""
    _check_output(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        os.replace(partial, path)
    except OSError as exc:
        # An output path that cannot be written is bad input, like a wrong extension.
        reason = str(exc.strerror or exc).replace(str(partial), str(path))
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = f"a part of the folder {str(path.parent)!r} is a file, not a folder"
        raise ParameterError(f"output {str(path)!r} cannot be written: {reason}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _config(path: Path, overrides: list[str], quiet: bool) -> tuple[Any, str]:
    """The project config with its overrides, and its text (what the run logs)."""
    from cxml.config import load_config, to_yaml

    _state["quiet"] = quiet
    config = load_config(path, overrides)
    return config, path.read_text() if not overrides else to_yaml(config)


def _tables(project: Any) -> Any:
    """The project's tables, read and validated (a progress step)."""
    from cxml.config import load_tables

    where = " on Spark" if project.engine == "spark" else ""
    with _data_warnings(), _step(f"Reading and validating the tables{where}"):
        return load_tables(project)


@contextlib.contextmanager
def _data_warnings() -> Iterator[None]:
    """Print the data-quality warnings raised inside as ``warning:`` lines (Python would
    add its source line); other warnings go on as usual."""
    from cxml.data import DataQualityWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataQualityWarning)
        yield
    for item in caught:
        if issubclass(item.category, DataQualityWarning):
            errors.print(f"[yellow]warning:[/] {escape(str(item.message))}", highlight=False)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def _print_evaluation(evaluation: Any) -> None:
    wide = evaluation.wide()
    shown = {
        "churn": ("roc_auc", "pr_auc", "brier", "ece"),
        "clv": ("normalized_gini", "spearman", "mae", "aggregate_error"),
    }
    for task, metrics in shown.items():
        rows = wide[wide["task"] == task]
        if rows.empty:
            continue
        table = Table(title=f"{task} on the holdout")
        for column in ("model", "role", *metrics):
            table.add_column(column, justify="left" if column in ("model", "role") else "right")
        for row in rows.itertuples():
            values = [f"{getattr(row, m):.4f}" for m in metrics]
            table.add_row(row.model, row.role, *values)
        console.print(table)


def _print_scores(scores: Any, path: str | Path) -> None:
    """Customers, mean churn probability and total CLV per risk segment (pandas or Spark
    scores: the segments are aggregated where the scores are)."""
    from cxml.pipeline import LEVELS

    by_risk = (
        nw.from_native(scores)
        .group_by("risk_segment")
        .agg(
            nw.len().alias("customers"),
            nw.col("churn_probability").mean(),
            nw.col("clv").sum(),
        )
    )
    by_risk = by_risk.lazy().collect("pandas").to_native().set_index("risk_segment")
    by_risk = by_risk.reindex([s for s in LEVELS if s in by_risk.index])
    table = Table(title=f"{int(by_risk['customers'].sum()):,} customers scored -> {path}")
    for column in ("risk", "customers", "mean churn probability", "total CLV"):
        table.add_column(column, justify="right")
    for level, row in by_risk.iterrows():
        table.add_row(
            str(level),
            f"{int(row['customers']):,}",
            f"{row['churn_probability']:.3f}",
            f"{row['clv']:,.0f}",
        )
    console.print(table)


@app.callback(invoke_without_command=True)
def main(
    version: bool = typer.Option(False, "--version", help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks of unexpected errors."),
) -> None:
    """cxml command line."""
    _state["debug"] = debug
    # MLflow's INFO lines (database set-up, experiment creation) are not the user's business;
    # MLflow reads its level when it is first imported, which the commands do lazily.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "DEBUG" if debug else "WARNING")
    if version:
        console.print(f"cxml {__version__}")
        raise typer.Exit(0)


@app.command()
@_exits_cleanly
def validate(
    config: Path = ConfigArgument, set_: list[str] = SetOption, quiet: bool = QuietOption
) -> None:
    """Check a configuration and its data, and show the cut-offs it resolves to."""
    from cxml.pipeline import Pipeline

    project, _ = _config(config, set_, quiet)
    tables = _tables(project)
    pipeline = Pipeline.from_config(project, tables)  # resolves the cut-offs on the data
    pipeline.check_inputs(tables)
    cutoffs, holdout = pipeline.cutoffs, pipeline.holdout
    console.print(
        f"{config}: valid. Data until {shown(tables.observed_until)} (exclusive); training "
        f"cut-offs {', '.join(shown(c) for c in cutoffs)}; holdout {shown(holdout)}.",
        highlight=False,
    )


@app.command()
@_exits_cleanly
def snapshot(
    config: Path = ConfigArgument,
    as_of: str = typer.Option(
        ..., "--as-of", help="Cut-off date: events before it count.", callback=_iso_day
    ),
    output: str = OutputOption,
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
) -> None:
    """Write the point-in-time feature snapshot of every customer at a cut-off."""
    from cxml.pipeline import Pipeline

    project, _ = _config(config, set_, quiet)
    _check_output(Path(output), folder=project.engine == "spark")
    tables = _tables(project)
    if project.engine == "spark" and Path(output).suffix.lower() == ".parquet":
        from cxml.spark import snapshot_frame, write_parquet

        with _step(f"Building the snapshot at {as_of} on Spark, written by Spark"):
            write_parquet(snapshot_frame(tables, as_of, project.features), output)
        written = tables.connection.read.parquet(output)
        shape = (written.count(), len(written.columns))
    else:
        with _step(f"Building the snapshot at {as_of}"):
            # The registered model's input: customer_id, cutoff and the feature columns.
            frame = Pipeline((), features=project.features).snapshot(tables, as_of)
        write_table(frame.reset_index(), Path(output))
        shape = (len(frame), frame.shape[1] + 1)
    console.print(f"{shape[0]:,} customers x {shape[1] - 2} features -> {output}")


@app.command()
@_exits_cleanly
def train(
    config: Path = ConfigArgument, set_: list[str] = SetOption, quiet: bool = QuietOption
) -> None:
    """Train churn and CLV models, evaluate them on the holdout, log and register in MLflow."""
    project, text = _config(config, set_, quiet)
    _train_and_report(project, text)


def _train_and_report(project: Any, text: str | None) -> Any:
    from cxml.tracking import train as track

    if _state["quiet"]:
        from mlflow.utils.logging_utils import disable_logging

        disable_logging()  # MLflow's own event lines ("Successfully registered model ...")
    with _data_warnings():
        run = track(project, text, step=_step)
    _print_evaluation(run.pipeline.evaluation_)
    console.print(
        f"MLflow run {run.run_id} ({project.mlflow.tracking_uri}); model "
        f"models:/{run.registered_model}@{project.mlflow.alias} = version {run.version}",
        highlight=False,
    )
    return run


@app.command()
@_exits_cleanly
def score(
    config: Path = ConfigArgument,
    model: str = typer.Option(..., "--model", help="models:/name@alias, models:/name/3, runs:/"),
    as_of: str = typer.Option(
        ..., "--as-of", help="Score date: events before it count.", callback=_iso_day
    ),
    output: str | None = typer.Option(
        None,
        "--output",
        help="Parquet or CSV file to write (default: output.scores of the config).",
    ),
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
) -> None:
    """Score every customer with a registered model: churn, CLV, segments and drivers, and
    the action plan's columns when the config or the model has an actions section (the
    config's, re-planned without retraining; else the model's)."""
    project, _ = _config(config, set_, quiet)
    _score_to(project, model, as_of, output or project.output.scores)


def _score_to(project: Any, model_uri: str, as_of: str, output: str | Path) -> pd.DataFrame:
    """Score and write; `output` as given (Spark writes cluster paths such as s3://...)."""
    from cxml.tracking import score as score_with

    _check_output(Path(output), folder=project.engine == "spark")
    if project.engine == "spark":
        return _score_on_spark(project, model_uri, as_of, str(output))
    model = _load_model(project, model_uri, plan=True)
    tables = _tables(project)
    _warn_past_data(tables, "--as-of", as_of, INACTIVE)
    with _step(f"Scoring every customer at {as_of}"):
        scores = score_with(model, tables, as_of, close=True)
    write_table(scores, Path(output))
    _print_scores(scores, output)
    if "action_plan" in scores.attrs:
        from cxml.actions import ActionPlan

        _print_plan(ActionPlan.from_scores(scores))
    return scores


def _warn_past_data(tables: Any, option: str, day: str | None, consequence: str) -> None:
    """Warn when the date given to `option` lies after the end of the data."""
    if day is not None and pd.Timestamp(day) > tables.observed_until:
        errors.print(
            f"[yellow]warning:[/] {option} {day} is after the end of the data "
            f"({shown(tables.observed_until)}): {consequence}",
            highlight=False,
        )


def _print_plan(plan: Any) -> None:
    """The plan's summary, in the currency of the catalogue it was made with."""
    console.print(f"Action plan:\n{plan.text()}", highlight=False)


def _score_on_spark(project: Any, model_uri: str, as_of: str, output: str) -> Any:
    """Features on Spark, scores through `mlflow.pyfunc.spark_udf`, Parquet written by Spark."""
    from cxml.spark import score_with_plan, write_parquet

    if Path(output).suffix.lower() != ".parquet":
        raise ParameterError(f"output {output!r}: with engine spark, scores are Parquet")
    model = _load_model(project, model_uri, plan=True)
    tables = _tables(project)
    _warn_past_data(tables, "--as-of", as_of, INACTIVE)
    with _step(f"Scoring every customer at {as_of} on Spark"):
        scores, plan = score_with_plan(
            tables, model_uri, as_of, tracking_uri=project.mlflow.tracking_uri, model=model
        )
        write_parquet(scores, output, plan)
    summary = scores.sparkSession.read.parquet(output)
    _print_scores(summary.select("risk_segment", "churn_probability", "clv"), output)
    if plan is not None:
        _print_plan(plan)
    return summary


@app.command()
@_exits_cleanly
def evaluate(
    config: Path = ConfigArgument,
    model: str = typer.Option(..., "--model", help="models:/name@alias, models:/name/3, runs:/"),
    as_of: str = typer.Option(
        ..., "--as-of", help="Cut-off whose later outcomes are known.", callback=_iso_day
    ),
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
) -> None:
    """Score a registered model and its baselines on the outcomes after a cut-off."""
    from cxml.tracking import pipeline_of

    project, _ = _config(config, set_, quiet)
    pipeline = pipeline_of(_load_model(project, model))
    tables = _tables(project)
    with _step(f"Evaluating at {as_of}"):
        evaluation = pipeline.evaluate(tables, as_of)
    _print_evaluation(evaluation)


PeriodOption = typer.Option("M", "--period", help="D (day), W (ISO week) or M (month).")
ReportOutputOption = typer.Option(
    None, "--output", help="HTML file to write (default: output.report of the config)."
)


@app.command()
@_exits_cleanly
def kpis(
    config: Path = ConfigArgument,
    output: Path = OutputOption,
    period: str = PeriodOption,
    by: str | None = typer.Option(
        None, "--by", help="Segment by a customers-table attribute, or channel."
    ),
    start: str | None = typer.Option(
        None, "--start", help="Report periods from this date.", callback=_iso_day
    ),
    end: str | None = typer.Option(
        None,
        "--end",
        help="Read events before this date (default: the end of the data).",
        callback=_iso_day,
    ),
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
) -> None:
    """Write the customer-experience KPIs per period (and segment) as a tidy table."""
    from cxml.kpis import compute_kpis

    project, _ = _config(config, set_, quiet)
    _check_output(output)
    tables = _tables(project)
    _warn_past_data(tables, "--end", end, "periods after it count as having no purchases or visits")
    with _step("Computing the KPIs"):
        frame = compute_kpis(tables, period=period, by=by, start=start, end=end)
    write_table(frame, output)
    _print_kpis(frame, output)


def _print_kpis(frame: pd.DataFrame, path: Path) -> None:
    """The table's shape, and the KPIs that are not available with the reason."""
    shape = {c: frame[c].nunique() for c in ("kpi", "period_start", "segment")}
    console.print(
        f"{shape['kpi']} KPIs x {shape['period_start']} periods x {shape['segment']} "
        f"segments ({len(frame):,} rows) -> {path}",
        highlight=False,
    )
    missing = frame[~frame["available"]].drop_duplicates("kpi")
    for row in missing.itertuples():
        console.print(f"  not available: {row.kpi} ({row.reason})", highlight=False)


@app.command()
@_exits_cleanly
def report(
    config: Path = ConfigArgument,
    model: str | None = typer.Option(
        None,
        "--model",
        help="models:/name@alias, models:/name/3, runs:/ (default: no model; the KPI, cohort "
        "and NPS sections only)",
    ),
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Score date of the segments (default: the end of the data).",
        callback=_iso_day,
    ),
    output: Path | None = ReportOutputOption,
    period: str = PeriodOption,
    set_: list[str] = SetOption,
    quiet: bool = QuietOption,
) -> None:
    """Write the self-contained HTML report: KPIs, cohorts, NPS (+ model sections with --model).

    With --model: the holdout evaluation, feature importance and the value x risk segments.
    """
    from cxml.report import check_path, write_report

    project, _ = _config(config, set_, quiet)
    path = output or project.output.report
    check_path(path)
    if as_of is not None and model is None:
        raise ParameterError("--as-of is the date the model scores at: give --model with it")
    loaded = _load_model(project, model) if model is not None else None
    tables = _tables(project)
    pipeline, scores = _pipeline_and_scores(loaded, tables, as_of) if loaded else (None, None)
    with _step("Building the report"):
        write_report(
            tables,
            path,
            pipeline=pipeline,
            scores=scores,
            period=period,
            title=f"{project.name}: customer report",
        )
    console.print(f"Report ({path.stat().st_size / 1e6:.1f} MB) -> {path}", highlight=False)


def _load_model(project: Any, uri: str, *, plan: bool = False) -> Any:
    """The MLflow model at `uri`, with a warning when the config changed settings that the
    model keeps from its training (they do not apply).

    With `plan`, the model plans with the config's action catalogue (its own when the
    config has none): `Pipeline.with_actions` checks it against what the model learned and
    against its columns now, before any data is read or output written.
    """
    from cxml.tracking import load_model, pipeline_of

    with _step(f"Loading {uri}"):
        model = load_model(uri, project.mlflow.tracking_uri)
    pipeline = pipeline_of(model)
    unlike = pipeline.settings_unlike(project)
    if unlike:
        errors.print(
            f"[yellow]warning:[/] {uri} keeps the settings it was trained with: the config's "
            f"{', '.join(unlike)} differ from them and do not apply here; train again to use "
            "them",
            highlight=False,
        )
    if plan and project.actions is not None:
        # cxml.tracking.score and cxml.spark plan with the pipeline inside the loaded model.
        model.unwrap_python_model().pipeline = pipeline.with_actions(project.actions)
    return model


def _pipeline_and_scores(model: Any, tables: Any, as_of: str | None) -> tuple[Any, pd.DataFrame]:
    """The model's fitted pipeline and its scores at `as_of` (default: the end of the data)."""
    from cxml.tracking import pipeline_of
    from cxml.tracking import score as score_with

    pipeline = pipeline_of(model)
    _warn_past_data(tables, "--as-of", as_of, INACTIVE)
    with _step(f"Scoring every customer at {as_of or 'the end of the data'}"):
        return pipeline, score_with(model, tables, as_of or tables.observed_until)


@app.command()
@_exits_cleanly
def demo(quiet: bool = QuietOption) -> None:
    """Train, track and score on the bundled CDNOW data (MLflow store ./mlflow.db)."""
    from cxml.config import parse_config

    _state["quiet"] = quiet
    started = time.perf_counter()
    project = parse_config(DEMO_CONFIG, source="the built-in demo configuration")
    run = _train_and_report(project, None)
    uri = f"models:/{run.registered_model}@{project.mlflow.alias}"
    _score_to(project, uri, DEMO_AS_OF, project.output.scores)
    console.print(
        f"Done in {time.perf_counter() - started:.0f} s. Scores: {project.output.scores}. "
        f"MLflow run {run.run_id}: open the UI with\n"
        f"  mlflow ui --backend-store-uri {project.mlflow.tracking_uri}",
        highlight=False,
    )


if __name__ == "__main__":
    app()
