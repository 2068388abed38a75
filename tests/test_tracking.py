"""MLflow tracking through the command line: what one `cxml train` logs and registers, and
`cxml score` with the registered model, on the embedded sqlite store and on a real
`mlflow server`.

One full CDNOW training is shared by the module (the must-show: 23,570 customers scored at
1998-01-01, reproduced exactly by plain `mlflow.pyfunc`); extra trainings use the sample.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from pandas.testing import assert_frame_equal

import cxml
from cxml.actions import PLAN_COLUMNS
from cxml.config import flatten, load_config
from cxml.datasets import load_cdnow
from cxml.pipeline import SCORE_COLUMNS
from cxml.tracking import PIP_REQUIREMENTS
from tests.conftest import CDNOW_CONFIG, ROOT, SAMPLE, RunCxml, cli_env, one_line

AS_OF = "1998-01-01"
CDNOW_CUSTOMERS = 23_570
SAMPLE_CUSTOMERS = 2_357
CHURN = ("churn_model", "recency_rule", "btyd_p_no_purchase")
CLV = ("clv_hybrid", "btyd_clv", "last_period_value")
CHURN_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "lift_top_decile")
CLV_METRICS = ("normalized_gini", "spearman", "decile_mape", "mae", "aggregate_error")
PLOTS = ("reliability_curve", "cumulative_gains", "clv_by_decile")
PLOTS += ("holdout_transactions_by_frequency",)


@dataclass(frozen=True)
class Store:
    """A working directory whose ./mlflow.db holds one `cxml train` of configs/cdnow.yaml."""

    cwd: Path
    uri: str
    run_id: str


def run_id_of(train_output: str) -> str:
    match = re.search(r"MLflow run ([0-9a-f]{32})", train_output)
    assert match, train_output
    return match.group(1)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, run_cxml: RunCxml) -> Store:
    cwd = tmp_path_factory.mktemp("cdnow")
    result = run_cxml("train", CDNOW_CONFIG, "--quiet", cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert "models:/cdnow@champion = version 1" in one_line(result.stdout)
    assert "registered model" not in result.stderr  # --quiet silences MLflow's event lines
    return Store(cwd, f"sqlite:///{cwd}/mlflow.db", run_id_of(result.stdout))


@pytest.fixture(scope="module")
def client(store: Store) -> MlflowClient:
    return MlflowClient(tracking_uri=store.uri, registry_uri=store.uri)


@pytest.fixture(scope="module")
def artifacts(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every artifact of the training run, downloaded."""
    return Path(
        mlflow.artifacts.download_artifacts(
            run_id=store.run_id,
            artifact_path="",
            dst_path=str(tmp_path_factory.mktemp("artifacts")),
            tracking_uri=store.uri,
        )
    )


@pytest.fixture(scope="module")
def model_dir(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The registered model's files (version 1)."""
    mlflow.set_tracking_uri(store.uri)
    return Path(
        mlflow.artifacts.download_artifacts(
            "models:/cdnow/1", dst_path=str(tmp_path_factory.mktemp("model"))
        )
    )


@pytest.fixture(scope="module")
def scores(store: Store, run_cxml: RunCxml) -> dict[str, Path]:
    """`cxml score` at 1998-01-01 through each kind of model URI."""
    uris = {
        "alias": "models:/cdnow@champion",
        "version": "models:/cdnow/1",
        "run": f"runs:/{store.run_id}/model",
    }
    paths = {}
    for kind, uri in uris.items():
        path = store.cwd / "scores" / f"{kind}.parquet"
        result = run_cxml(
            "score", CDNOW_CONFIG, "--model", uri, "--as-of", AS_OF, "--output", path,
            "--quiet", cwd=store.cwd,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"{CDNOW_CUSTOMERS:,} customers scored" in result.stdout
        assert "warning" not in result.stderr  # the config is the one the model was trained with
        paths[kind] = path
    return paths


# --------------------------------------------------------------------------- the run


def test_train_logs_the_flattened_config_as_params_and_the_config_file(
    client: MlflowClient, store: Store, artifacts: Path
) -> None:
    run = client.get_run(store.run_id)
    assert run.info.status == RunStatus.to_string(RunStatus.FINISHED)
    assert run.data.params == flatten(load_config(CDNOW_CONFIG))
    assert (artifacts / "config.yaml").read_text() == CDNOW_CONFIG.read_text()


def test_train_logs_every_metric_of_every_model_and_baseline(
    client: MlflowClient, store: Store, artifacts: Path
) -> None:
    metrics = client.get_run(store.run_id).data.metrics
    expected = [f"{m}.{k}" for m in CHURN for k in CHURN_METRICS]
    expected += [f"{m}.{k}" for m in CLV for k in CLV_METRICS]
    assert not set(expected) - set(metrics)
    assert metrics["churn_model.n"] == CDNOW_CUSTOMERS
    # The logged metrics are the evaluation table's values.
    table = pd.read_csv(artifacts / "evaluation" / "metrics.csv")
    assert set(table["model"]) == {*CHURN, *CLV}
    checked = 0
    for row in table.to_dict("records"):
        for name, value in row.items():
            if isinstance(value, float) and math.isfinite(value):
                assert metrics[f"{row['model']}.{name}"] == pytest.approx(value, rel=1e-12)
                checked += 1
    assert checked >= len(expected)


def test_train_logs_plots_evaluation_table_and_feature_importances(artifacts: Path) -> None:
    for name in PLOTS:
        assert (artifacts / "plots" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((artifacts / "plots").iterdir())) == len(PLOTS)
    assert json.loads((artifacts / "evaluation" / "metrics.json").read_text())["data"]
    for model in ("churn", "clv"):
        importances = pd.read_csv(artifacts / "feature_importance" / f"{model}.csv", index_col=0)
        assert "frequency" in importances.index
        assert (importances.iloc[:, 0] >= 0).all()


def test_train_logs_dataset_fingerprints(client: MlflowClient, store: Store) -> None:
    inputs = client.get_run(store.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["transactions"]  # CDNOW has no other table
    dataset = inputs[0]
    assert re.fullmatch(r"[0-9a-f]{16}", dataset.dataset.digest)
    assert "dataset:cdnow" in dataset.dataset.source
    tags = {t.key: t.value for t in dataset.tags}
    assert tags["mlflow.data.context"] == "training"
    assert int(tags["rows"]) == len(load_cdnow().to_pandas("transactions"))


def test_train_tags_the_cxml_version_and_git_commit(client: MlflowClient, store: Store) -> None:
    tags = client.get_run(store.run_id).data.tags
    assert tags["cxml.version"] == cxml.__version__
    commit = tags["cxml.git_commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit)
    known = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, check=False)
    assert known.returncode == 0


def test_the_pipeline_is_one_registered_pyfunc_model_with_the_alias(
    client: MlflowClient, store: Store
) -> None:
    run = client.get_run(store.run_id)
    logged = run.outputs.model_outputs
    assert len(logged) == 1  # one model for the whole pipeline
    versions = client.search_model_versions("name='cdnow'")
    assert [str(v.version) for v in versions] == ["1"]
    champion = client.get_model_version_by_alias("cdnow", "champion")
    assert str(champion.version) == "1"
    assert champion.run_id == store.run_id
    assert champion.source == f"models:/{logged[0].model_id}"


def test_the_model_has_a_signature_an_input_example_and_pinned_requirements(
    store: Store, model_dir: Path
) -> None:
    mlflow.set_tracking_uri(store.uri)
    info = mlflow.models.get_model_info("models:/cdnow/1")
    assert "python_function" in info.flavors
    inputs = info.signature.inputs.input_names()
    assert inputs[:2] == ["customer_id", "cutoff"]
    assert {"frequency", "recency", "T", "monetary_value"} <= set(inputs)
    # configs/cdnow.yaml has an action catalogue: the plan columns follow the scores
    assert info.signature.outputs.input_names() == [*SCORE_COLUMNS, *PLAN_COLUMNS]
    model = mlflow.models.Model.load(model_dir)
    example = model.load_input_example(model_dir)
    assert list(example.columns) == inputs
    assert len(example) > 0
    requirements = (model_dir / "requirements.txt").read_text().split()
    for package in PIP_REQUIREMENTS:
        assert f"{package}=={version(package)}" in requirements
    assert (model_dir / "code" / "cxml" / "pipeline.py").is_file()  # cxml travels as code


def test_the_plan_parameter_leaves_the_plan_out_for_batches_planned_elsewhere(
    store: Store, model_dir: Path
) -> None:
    """What Spark's executors call: the scores alone, identical to the planned scores'."""
    mlflow.set_tracking_uri(store.uri)
    info = mlflow.models.get_model_info("models:/cdnow/1")
    assert [(p.name, p.dtype.name, p.default) for p in info.signature.params.params] == [
        ("plan", "boolean", True)
    ]
    example = mlflow.models.Model.load(model_dir).load_input_example(model_dir)
    model = mlflow.pyfunc.load_model("models:/cdnow/1")
    planned = model.predict(example)
    unplanned = model.predict(example, params={"plan": False})
    assert list(planned.columns) == [*SCORE_COLUMNS, *PLAN_COLUMNS]
    assert list(unplanned.columns) == list(SCORE_COLUMNS)
    assert "action_plan" not in unplanned.attrs
    assert_frame_equal(unplanned, planned[list(SCORE_COLUMNS)])


# --------------------------------------------------------------------------- scoring


def test_score_writes_one_row_per_customer_of_the_population(scores: dict[str, Path]) -> None:
    frame = pd.read_parquet(scores["alias"])
    lines = load_cdnow().to_pandas("transactions")
    first = lines.groupby("customer_id")["timestamp"].min()
    population = set(first.index[first < pd.Timestamp(AS_OF)])
    print(f"\n{len(frame):,} rows, {frame['customer_id'].nunique():,} unique customers")
    assert len(frame) == CDNOW_CUSTOMERS
    assert frame["customer_id"].is_unique
    assert set(frame["customer_id"]) == population
    assert list(frame.columns) == [*SCORE_COLUMNS, *PLAN_COLUMNS]
    assert frame["churn_probability"].between(0, 1).all()
    assert (frame["clv_lower"] <= frame["clv_upper"]).all()


def test_score_warns_that_config_settings_the_model_keeps_do_not_apply(
    store: Store, run_cxml: RunCxml
) -> None:
    """`--set churn.horizon=13W` at scoring was silently ignored: the model keeps its own."""
    result = run_cxml(
        "score", CDNOW_CONFIG, "--model", "models:/cdnow@champion", "--as-of", AS_OF,
        "--output", store.cwd / "scores" / "13W.parquet", "--set", "churn.horizon=13W",
        "--set", "clv.discount_rate=0.1", "--quiet", cwd=store.cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert one_line(result.stderr) == (
        "warning: models:/cdnow@champion keeps the settings it was trained with: the config's "
        "churn.horizon, clv.discount_rate differ from them and do not apply here; train again "
        "to use them"
    )


def test_alias_version_and_run_uris_give_identical_scores(scores: dict[str, Path]) -> None:
    alias = pd.read_parquet(scores["alias"])
    assert_frame_equal(pd.read_parquet(scores["version"]), alias, check_exact=True)
    assert_frame_equal(pd.read_parquet(scores["run"]), alias, check_exact=True)


#: Plain MLflow, no cxml API: load the registered model and predict a snapshot file.
PLAIN_PYFUNC = """
import sys
import mlflow
import pandas as pd

uri, snapshot, output = sys.argv[1:]
model = mlflow.pyfunc.load_model(uri)
model.predict(pd.read_parquet(snapshot)).to_parquet(output)
"""


def test_plain_pyfunc_in_a_fresh_process_reproduces_the_scores_exactly(
    store: Store, scores: dict[str, Path], run_cxml: RunCxml
) -> None:
    snapshot = store.cwd / "snapshot.parquet"
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, "--as-of", AS_OF, "--output", snapshot, "--quiet",
        cwd=store.cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = store.cwd / "plain.parquet"
    env = {**cli_env(), "MLFLOW_TRACKING_URI": store.uri}
    plain = subprocess.run(
        [sys.executable, "-c", PLAIN_PYFUNC, "models:/cdnow@champion", snapshot, output],
        cwd=store.cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    reproduced = pd.read_parquet(output)
    assert len(reproduced) == CDNOW_CUSTOMERS
    assert_frame_equal(reproduced, pd.read_parquet(scores["alias"]), check_exact=True)


def test_same_config_and_seed_train_to_identical_scores(
    store: Store, client: MlflowClient, scores: dict[str, Path], run_cxml: RunCxml
) -> None:
    # Registered under another name, so the first training's versions stay as they are.
    again = ("--set", "mlflow.registered_model=cdnow_again")
    result = run_cxml("train", CDNOW_CONFIG, *again, "--quiet", cwd=store.cwd)
    assert result.returncode == 0, result.stderr
    first = client.get_run(store.run_id).data.params
    second = client.get_run(run_id_of(result.stdout)).data.params
    assert {k for k in first if first[k] != second[k]} == {"mlflow.registered_model"}
    # Without --output, scores go where the config's output.scores says
    output = store.cwd / "again.parquet"
    result = run_cxml(
        "score", CDNOW_CONFIG, "--model", "models:/cdnow_again/1", "--as-of", AS_OF,
        "--set", f"output.scores={output}", "--quiet", cwd=store.cwd,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_frame_equal(pd.read_parquet(output), pd.read_parquet(scores["alias"]), check_exact=True)


def test_a_failing_train_marks_its_run_failed(
    store: Store, client: MlflowClient, run_cxml: RunCxml
) -> None:
    # No customer exists before 1997-01-01: the run starts, then the cut-offs are refused.
    result = run_cxml(
        "train", CDNOW_CONFIG, *SAMPLE, "--set", "training.cutoffs=[1997-01-01]",
        "--set", "mlflow.experiment=cdnow_failing", "--quiet", cwd=store.cwd,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "cut-off 1997-01-01 is not after the first event" in one_line(result.stderr)
    experiment = client.get_experiment_by_name("cdnow_failing")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]
    assert [str(v.version) for v in client.search_model_versions("name='cdnow'")] == ["1"]


# --------------------------------------------------------------------------- mlflow server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (uvicorn runs in children), then make sure."""
    for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 30)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real `mlflow server` on 127.0.0.1 at a free port; stopped afterwards, always."""
    folder = tmp_path_factory.mktemp("server")
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{folder}/server.db",
        "--serve-artifacts", "--artifacts-destination", str(folder / "artifacts"),
    ]  # fmt: skip
    env = {**cli_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    url = f"http://127.0.0.1:{port}"
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while True:
                assert process.poll() is None, (folder / "server.log").read_text()
                assert time.monotonic() < deadline, "mlflow server did not answer /health"
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    time.sleep(0.5)
            yield url, folder
        finally:
            _stop(process)


def test_train_and_score_against_a_real_mlflow_server(
    mlflow_server: tuple[str, Path], tmp_path: Path, run_cxml: RunCxml
) -> None:
    url, folder = mlflow_server
    remote = ("--set", f"mlflow.tracking_uri={url}")
    result = run_cxml("train", CDNOW_CONFIG, *SAMPLE, *remote, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run_id = run_id_of(result.stdout)
    output = tmp_path / "scores.parquet"
    result = run_cxml(
        "score", CDNOW_CONFIG, *SAMPLE, *remote, "--model", "models:/cdnow@champion",
        "--as-of", AS_OF, "--output", output, "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(output)
    assert len(frame) == SAMPLE_CUSTOMERS
    assert frame["customer_id"].is_unique
    assert not (tmp_path / "mlflow.db").exists()  # nothing went to a local store

    client = MlflowClient(tracking_uri=url, registry_uri=url)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert "churn_model.roc_auc" in run.data.metrics
    assert {a.path for a in client.list_artifacts(run_id)} >= {"config.yaml", "plots"}
    assert client.get_model_version_by_alias("cdnow", "champion").run_id == run_id
    assert list((folder / "artifacts").rglob("MLmodel"))  # artifacts went through the server


def test_pyfunc_scores_customers_with_missing_boolean_attributes(tmp_path: Path) -> None:
    """A buyer without a customers row has no consent flags: MLflow cannot cast a missing
    value to boolean, so the flags travel as objects and come back as booleans."""
    from cxml.datasets import make_synthetic
    from cxml.pipeline import Pipeline
    from cxml.tracking import PipelineModel, _signature, model_input, snapshot_of

    tables, _ = make_synthetic(600, seed=0)
    pipeline = Pipeline(["2023-01-01", "2023-04-01"], "90D").fit(tables)
    snapshot = pipeline.snapshot(tables, "2023-10-01")
    for flag in ("email_consent", "phone_consent"):
        snapshot[flag] = snapshot[flag].astype("boolean")
        snapshot.loc[snapshot.index[:7], flag] = pd.NA
    assert str(snapshot["email_consent"].dtype) == "boolean"
    inputs = model_input(snapshot)
    restored = snapshot_of(inputs)
    for flag in ("email_consent", "phone_consent"):
        assert inputs[flag].dtype == object and inputs[flag].iloc[0] is None
        pd.testing.assert_series_equal(restored[flag], snapshot[flag])
    example = model_input(snapshot.head(5))
    mlflow.pyfunc.save_model(
        tmp_path / "model",
        python_model=PipelineModel(pipeline),
        signature=_signature(example, pipeline.score_snapshot(snapshot.head(5))),
    )
    scored = mlflow.pyfunc.load_model(str(tmp_path / "model")).predict(inputs)
    assert_frame_equal(scored, pipeline.score_snapshot(snapshot))
    assert scored["customer_id"].tolist() == snapshot.index.tolist()


def test_scoring_rows_are_cast_to_the_signature_where_no_value_changes() -> None:
    """Ids read as numbers from Parquet but trained as text from CSV, and consent flags
    exported as 1/0 (float with missing values) where the model saw true/false."""
    from mlflow.types import ColSpec, Schema

    from cxml.errors import DataValidationError
    from cxml.tracking import _conform

    schema = Schema(
        [
            ColSpec("string", "customer_id"),
            ColSpec("boolean", "email_consent", required=False),
            ColSpec("double", "n_orders", required=False),
        ]
    )
    rows = pd.DataFrame(
        {"customer_id": [7, 8, 9], "email_consent": [1.0, 0.0, None], "n_orders": [1, 2, 3]}
    )
    conformed = _conform(rows.copy(), schema)
    assert conformed["customer_id"].tolist() == ["7", "8", "9"]
    assert conformed["email_consent"].tolist() == [True, False, None]
    assert conformed["n_orders"].tolist() == [1, 2, 3]  # MLflow widens ints itself
    with pytest.raises(DataValidationError, match=r"column 'email_consent'.*true/false"):
        _conform(rows.assign(email_consent=[1.0, 2.0, 0.0]), schema)
    # Text ids from a CSV export, scored by a model trained on integer ids from Parquet
    integer_ids = Schema([ColSpec("long", "customer_id")])
    text_ids = pd.DataFrame({"customer_id": ["7", "-8", str(2**63 - 1)]})
    conformed = _conform(text_ids.copy(), integer_ids)
    assert conformed["customer_id"].tolist() == [7, -8, 2**63 - 1]
    assert conformed["customer_id"].dtype == "int64"
    for changed in ("007", "7.0", " 7", "+7", str(2**63), "x"):
        with pytest.raises(
            DataValidationError, match=f"(?s)integer ids.*e.g. '{re.escape(changed)}'"
        ):
            _conform(text_ids.assign(customer_id=["1", changed, "2"]), integer_ids)


def test_config_keys_mlflow_refuses_are_made_valid_param_names() -> None:
    """A mapped source column such as "Amount (EUR)" becomes part of a param key."""
    from cxml.tracking import _param_key

    assert _param_key("data.mapping.transactions.Amount (EUR)") == (
        "data.mapping.transactions.Amount _EUR_"
    )
    assert _param_key("models.churn.lightgbm.num_leaves") == "models.churn.lightgbm.num_leaves"


def test_an_unusable_tracking_uri_is_a_tracking_error_before_any_work() -> None:
    from cxml.tracking import TrackingError, train

    config = load_config(CDNOW_CONFIG, overrides=["mlflow.tracking_uri=foo://bar"])
    previous = mlflow.get_tracking_uri()
    try:
        with pytest.raises(TrackingError, match=r"cannot use experiment .* at foo://bar"):
            train(config)
    finally:
        mlflow.set_tracking_uri(previous)  # process-wide state


def test_the_dataset_fingerprint_changes_with_the_amounts_and_the_last_timestamp() -> None:
    """A changed amount or a later last purchase kept the digest: another dataset logged as
    the same."""
    import narwhals as nw

    from cxml.tracking import fingerprint

    lines = pd.DataFrame(
        {
            "customer_id": [1, 2, 2],
            "timestamp": pd.to_datetime(["2023-01-01", "2023-02-01", "2023-03-01"]),
            "amount": [10.0, 20.0, 30.0],
        }
    )

    def digest(frame: pd.DataFrame) -> str:
        rows, value = fingerprint(nw.from_native(frame).lazy())
        assert rows == 3
        return value

    original = digest(lines)
    assert digest(lines.iloc[::-1]) == original  # the order of the lines does not matter
    # ... even where float sums depend on it: 0.1 + 0.2 + 0.3 != 0.3 + 0.2 + 0.1
    tenths = lines.assign(amount=[0.1, 0.2, 0.3])
    assert digest(tenths.iloc[::-1]) == digest(tenths)
    assert digest(lines.assign(amount=[10.0, 21.0, 30.0])) != original
    later = lines["timestamp"].where(lines.index < 2, pd.Timestamp("2023-03-02"))
    assert digest(lines.assign(timestamp=later)) != original


def test_every_input_column_of_the_signature_is_optional() -> None:
    """Required inputs made MLflow refuse a batch without a column the example rows had."""
    from cxml.tracking import _signature

    example = pd.DataFrame(
        {"customer_id": [1, 2], "frequency": [1.0, None], "email_consent": [True, False]}
    )
    scores = pd.DataFrame({"customer_id": [1, 2], "churn_probability": [0.1, 0.2]})
    inputs = _signature(example, scores).inputs.inputs
    assert [c.name for c in inputs] == ["customer_id", "frequency", "email_consent"]
    assert [c.required for c in inputs] == [False, False, False]
