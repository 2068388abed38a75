"""Command-line options and what a run logs, found untested by a second mutation audit.

One `cxml train` of the CDNOW sample, read from the project's own Parquet file and with
``--set mlflow.alias=production``, is shared by the module: the logged config, the alias,
the dataset source, the plan metrics and the logged report; then `cxml report` with
``--model``, ``--as-of`` and ``--period``. `cxml kpis --by` runs on a small synthetic shop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from cxml.datasets import load_cdnow
from cxml.evaluation.holdout import evaluate
from cxml.tracking import _log_evaluation
from tests.conftest import CDNOW_CONFIG, ROOT, RunCxml

AS_OF = "1997-03-01"  # CDNOW customers arrive January to March 1997: some are not in yet


@dataclass(frozen=True)
class Trained:
    """A folder with the project's transactions.parquet and project.yaml, and the
    ./mlflow.db of one `cxml train` of it."""

    cwd: Path
    uri: str
    run_id: str

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def artifact(self, path: str) -> Path:
        return Path(
            mlflow.artifacts.download_artifacts(
                run_id=self.run_id, artifact_path=path, tracking_uri=self.uri
            )
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, run_cxml: RunCxml) -> Trained:
    cwd = tmp_path_factory.mktemp("own_tables")
    load_cdnow(sample=True).to_pandas("transactions").to_parquet(cwd / "transactions.parquet")
    project = yaml.safe_load(CDNOW_CONFIG.read_text())
    # CDNOW repeats some lines exactly (two copies of one CD): the dataset keeps them too.
    project["data"] = {"transactions": "transactions.parquet", "duplicates": "keep"}
    (cwd / "project.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    result = run_cxml(
        "train", "project.yaml", "--set", "mlflow.alias=production", "--quiet", cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", result.stdout).group(1)
    return Trained(cwd, f"sqlite:///{cwd}/mlflow.db", run_id)


@pytest.fixture(scope="module")
def report_as_of(trained: Trained, run_cxml: RunCxml) -> str:
    """`cxml report` of the registered model at AS_OF, weekly."""
    result = run_cxml(
        "report", "project.yaml", "--model", "models:/cdnow@production", "--as-of", AS_OF,
        "--period", "W", "--output", "as_of.html", "--quiet", cwd=trained.cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return (trained.cwd / "as_of.html").read_text()


# --------------------------------------------------------------------------- train


def test_train_with_set_logs_the_config_with_the_overrides(trained: Trained) -> None:
    """With --set, the run logged the config file as written, not the config it ran with."""
    logged = yaml.safe_load(trained.artifact("config.yaml").read_text())
    assert logged["mlflow"]["alias"] == "production"


def test_the_registered_version_gets_the_alias_of_the_config(trained: Trained) -> None:
    """The alias was always "champion", whatever mlflow.alias said."""
    version = trained.client().get_model_version_by_alias("cdnow", "production")
    assert str(version.version) == "1" and version.run_id == trained.run_id


def test_own_tables_are_logged_with_their_file_as_the_dataset_source(trained: Trained) -> None:
    """Every dataset input read "dataset:cdnow", also for the project's own files."""
    (dataset,) = trained.client().get_run(trained.run_id).inputs.dataset_inputs
    assert dataset.dataset.name == "transactions"
    assert str(trained.cwd / "transactions.parquet") in dataset.dataset.source
    assert "dataset:" not in dataset.dataset.source


def test_train_logs_the_plan_totals_as_metrics(trained: Trained) -> None:
    metrics = trained.client().get_run(trained.run_id).data.metrics
    assert metrics["plan.budget"] == 3000  # configs/cdnow.yaml
    assert 0 < metrics["plan.spend"] <= metrics["plan.budget"]


def test_the_logged_report_states_the_plans_budget(trained: Trained) -> None:
    """The training report's plan section read "no budget" under a budget of 3,000."""
    html = trained.artifact("report.html").read_text()
    plan = re.search(r'<section id="plan">.*?</section>', html, re.S).group(0)
    assert "budget 3,000" in plan and "no budget" not in plan


def test_metrics_undefined_on_the_holdout_are_not_logged(trained: Trained) -> None:
    """A holdout where everyone churned has no ROC AUC: NaN stays out of the run's
    metrics (MLflow charts and comparisons cannot use it)."""
    evaluation = evaluate(
        churned=[1, 1, 1, 1], churn_scores={"m": [0.2, 0.4, 0.6, 0.8]}, figures=False
    )
    client = trained.client()
    # An experiment of this store: the process's active experiment may be another store's.
    experiment = client.create_experiment("undefined-metrics")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(trained.uri)
    try:
        with mlflow.start_run(experiment_id=experiment) as run:
            _log_evaluation(SimpleNamespace(evaluation_=evaluation))
    finally:
        mlflow.set_tracking_uri(previous)  # process-wide state
    logged = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(evaluation.metric("m", "roc_auc")) and "m.roc_auc" not in logged
    assert logged["m.brier"] == pytest.approx(evaluation.metric("m", "brier"))


# --------------------------------------------------------------------------- report


def test_report_as_of_segments_the_customers_seen_before_that_day(report_as_of: str) -> None:
    """--as-of was ignored: the segments held every customer, scored at the data's end."""
    lines = load_cdnow(sample=True).to_pandas("transactions")
    first = lines.groupby("customer_id")["timestamp"].min()
    expected = int((first < pd.Timestamp(AS_OF)).sum())
    grid = re.search(r'<section id="segments">.*?</section>', report_as_of, re.S).group(0)
    counts = re.findall(r"<tr><td>\w+</td><td>\w+</td><td>([\d,]+)</td>", grid)
    assert len(counts) == 9
    assert sum(int(count.replace(",", "")) for count in counts) == expected < len(first)


def test_report_period_sets_the_kpi_period(report_as_of: str) -> None:
    """--period was ignored: the report was monthly."""
    assert "KPIs per period W." in report_as_of


# --------------------------------------------------------------------------- kpis


def test_kpis_by_channel_writes_one_segment_per_channel(run_cxml: RunCxml, tmp_path: Path) -> None:
    """--by was ignored: every KPI came out for the segment "all" only."""
    from cxml.config import load_config, load_tables
    from cxml.kpis import compute_kpis

    config = ROOT / "configs" / "synthetic_retail.yaml"
    small = ("--set", "data.dataset.customers=300")
    result = run_cxml(
        "kpis", config, *small, "--by", "channel", "--output", "k.csv", "--quiet", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    segments = set(pd.read_csv(tmp_path / "k.csv")["segment"])
    expected = compute_kpis(load_tables(load_config(config, [small[1]])), by="channel")
    assert segments == set(expected["segment"])
    assert {"web", "store"} <= segments
