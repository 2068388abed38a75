"""The Spark engine gives what DuckDB gives: the same validated tables, snapshots, labels,
training frames and scores, on a real local Spark session (``local[2]``) shared by the run.

Skipped only when pyspark is not installed (``pip install -e ".[test,spark]"``). Kept fast
by building everything once per run: one session tuned for tiny data, 800 customers, the
tables, snapshots and local scores shared between tests, and one small model.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import pandas as pd
import pytest
import yaml
from pandas.testing import assert_frame_equal, assert_series_equal

pytest.importorskip("pyspark", reason="pyspark is not installed: pip install -e '.[test,spark]'")

from typer.testing import CliRunner

from cxml.cli import app
from cxml.config import parse_config
from cxml.data import DataValidationError, Tables, engine
from cxml.datasets import make_synthetic_frames
from cxml.errors import SourceError
from cxml.features import FeatureSpec, build_labels, build_snapshot, build_training_frame
from cxml.features.snapshot import to_pandas

CUSTOMERS = 800
CUTOFF = "2023-07-01"
AS_OF = "2024-01-01"
HORIZON = "13W"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (starting one takes seconds), set for
    tiny data: two shuffle partitions, no adaptive re-planning (which costs more than it
    saves on a few thousand rows) and a JVM that stops at its quick compiler (the optimizing
    one spent half the CPU of a short run compiling Spark's planner)."""
    session = engine.connect(
        "spark",
        master="local[2]",
        options={
            "spark.sql.shuffle.partitions": "2",
            "spark.default.parallelism": "2",
            "spark.sql.adaptive.enabled": "false",
            "spark.ui.enabled": "false",
            "spark.driver.memory": "1g",
            "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def frames() -> dict[str, Any]:
    """Synthetic transactions, interactions and customers, and their plausible range."""
    frames, truth = make_synthetic_frames(CUSTOMERS, 7)
    meta = truth.attrs["synthetic"]
    return {**frames, "range": (meta["start"], meta["end"] + pd.Timedelta(days=1))}


@pytest.fixture(scope="session")
def duck(frames: dict[str, Any]) -> Tables:
    return Tables(
        frames["transactions"],
        frames["interactions"],
        frames["customers"],
        plausible_range=frames["range"],
    )


@pytest.fixture(scope="session")
def on_spark(frames: dict[str, Any], spark: Any) -> Tables:
    """The same frames as Spark DataFrames: the tables run on their session."""
    names = ("transactions", "interactions", "customers")
    return Tables(
        *(spark.createDataFrame(frames[n]) for n in names), plausible_range=frames["range"]
    )


@pytest.fixture(scope="session")
def checkpointed(on_spark: Tables) -> Tables:
    """`on_spark` with its validated tables computed once and cut from their plans.

    Every feature query otherwise re-plans and re-runs the validation's casts; the values are
    the same (`on_spark` itself is compared with DuckDB in the first test).
    """
    tables = copy.copy(on_spark)
    for name in ("transactions", "interactions", "customers"):
        setattr(tables, name, nw.from_native(getattr(on_spark, name).to_native().localCheckpoint()))
    return tables


@pytest.fixture(scope="session")
def spark_snapshot(checkpointed: Tables) -> nw.LazyFrame:
    """The snapshot at CUTOFF on Spark, planned once."""
    return build_snapshot(checkpointed, CUTOFF, output="lazy")


def _assert_same_scores(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal scores: numbers to 1e-9 relative, segments exactly, and the same drivers with
    the same values (shown to 3 significant digits, so features that agree to 1e-12 but sum
    in another order may round apart at a boundary, e.g. 91.55 -> 91.5 or 91.6)."""
    got = got.sort_values("customer_id").reset_index(drop=True)
    expected = expected.reset_index(drop=True)
    assert_frame_equal(
        got.drop(columns="churn_drivers"),
        expected.drop(columns="churn_drivers"),
        check_exact=False,
        rtol=1e-9,
    )
    for left, right in zip(got["churn_drivers"], expected["churn_drivers"], strict=True):
        pairs = [[item.split(" = ") for item in text.split("; ") if item] for text in (left, right)]
        assert [name for name, _ in pairs[0]] == [name for name, _ in pairs[1]]
        for (_, a), (_, b) in zip(*pairs, strict=True):
            assert a == b or abs(float(a) - float(b)) <= 1e-3 * abs(float(b)) + 0.051


def _assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Equal column by column: numbers to 1e-12 relative, text by value (DuckDB keeps the
    pandas category order, Spark sorts it; models record categories when they fit)."""
    assert list(spark.columns) == list(duck.columns)
    assert_series_equal(spark.index.to_series(), duck.index.to_series())
    for column in duck.columns:
        left, right = duck[column], spark[column]
        if isinstance(left.dtype, pd.CategoricalDtype):
            left, right = left.astype(object), right.astype(object)
        assert_series_equal(right, left, check_exact=False, rtol=1e-12, obj=column)


def test_tables_on_spark_run_on_its_session_and_agree_with_duckdb(
    on_spark: Tables, duck: Tables, spark: Any
) -> None:
    assert on_spark.connection is spark
    assert on_spark.observed_until == duck.observed_until
    assert on_spark.warnings == duck.warnings
    assert type(on_spark.transactions.to_native()).__module__.startswith("pyspark")


def test_every_snapshot_column_equals_duckdb(spark_snapshot: nw.LazyFrame, duck: Tables) -> None:
    expected = build_snapshot(duck, CUTOFF)
    assert len(expected) > 400 and expected.shape[1] > 80
    # What build_snapshot(output="pandas") does with the lazy frame.
    _assert_same(expected, to_pandas(spark_snapshot))


def test_snapshot_is_a_lazy_spark_dataframe_on_request(spark_snapshot: nw.LazyFrame) -> None:
    native = spark_snapshot.to_native()
    assert type(native).__name__ == "DataFrame"
    assert type(native).__module__.startswith("pyspark")
    assert native.columns[0] == "customer_id"


def test_timestamp_strings_with_zones_become_utc_as_on_duckdb(spark: Any) -> None:
    """The session's default timestamp type is NTZ: a plain cast dropped the zones."""
    stamps = [
        "2023-01-02T00:00:00+02:00",
        "2023-01-02 10:00:00Z",
        "2024-03-01 12:00:00 EST",
        "2024-03-01T12:00:00+01:00:00",
        "2024-03-01 12:00:00 Europe/Berlin",
    ]
    tx = pd.DataFrame({"customer_id": range(1, 6), "timestamp": stamps, "amount": 1.0})
    expected = ["2023-01-01 22:00", "2023-01-02 10:00", "2024-03-01 17:00", "2024-03-01 11:00"]
    expected = [pd.Timestamp(t) for t in [*expected, "2024-03-01 11:00"]]
    for tables in (Tables(tx), Tables(tx, connection=spark)):
        found = tables.to_pandas("transactions").sort_values("customer_id")["timestamp"]
        assert found.tolist() == expected


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("timestamp", "2023/01/02"),  # DuckDB alone read these
        ("timestamp", "2023-01-02 24:00:00"),
        ("amount", "1_000"),
        ("timestamp", "2023"),  # Spark alone read these
        ("amount", "1.5d"),
    ],
)
def test_text_one_engine_alone_parsed_is_refused_by_both(
    spark: Any, column: str, value: str
) -> None:
    tx = pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": ["2023-01-01", "2023-01-03"], "amount": ["5", "7"]}
    )
    tx.loc[1, column] = value
    for connection in (None, spark):
        with pytest.raises(DataValidationError) as info:
            Tables(tx, connection=connection)
        kind = "float" if column == "amount" else "timestamp"
        assert info.value.rule == f"unparseable values: expected {kind}"
        assert value in info.value.detail


def test_csv_contract_columns_are_read_as_text_as_on_duckdb(spark: Any, tmp_path: Path) -> None:
    """Spark's inferred types turned the ids "007" and "0012" into 7 and 12, which then
    matched no customer of a Parquet customers table."""
    pd.DataFrame(
        {
            "customer_id": ["007", "007", "0012"],
            "timestamp": ["2023-06-01", "2023-06-10", "2023-06-15"],
            "amount": [10.0, 20.0, 5.0],
        }
    ).to_csv(tmp_path / "tx.csv", index=False)
    customers = pd.DataFrame(
        {"customer_id": ["007", "0012", "0099"], "signup_date": pd.Timestamp("2023-01-01")}
    )
    customers.to_parquet(tmp_path / "customers.parquet")
    sources = (str(tmp_path / "tx.csv"), None, str(tmp_path / "customers.parquet"))
    for tables in (Tables(*sources), Tables(*sources, connection=spark)):
        snapshot = build_snapshot(tables, "2023-07-01", FeatureSpec(groups=("orders",)))
        assert snapshot["n_orders"].to_dict() == {"0012": 1, "007": 2, "0099": 0}
        assert tables.warnings == []


@pytest.mark.parametrize("line", ["2,2023-01-02,7,9", "2,2023-01-02"])
def test_a_csv_line_with_more_or_fewer_fields_is_refused_as_on_duckdb(
    spark: Any, tmp_path: Path, line: str
) -> None:
    """Spark dropped an extra field (shifting nothing, losing it) and padded a short line."""
    path = tmp_path / "tx.csv"
    path.write_text(f"customer_id,timestamp,amount\n1,2023-01-01,5\n{line}\n3,2023-01-03,4\n")
    for connection in (None, spark):
        with pytest.raises(SourceError, match="every line must have as many fields as the header"):
            Tables(str(path), connection=connection)
    with pytest.raises(SourceError, match=f"the line '{line}' of '.*tx.csv'"):
        Tables(str(path), connection=spark)


def test_an_empty_frame_and_ids_above_the_int64_range_read_as_on_duckdb(spark: Any) -> None:
    """Spark failed to infer a schema from an empty frame, and turned uint64 ids above
    2**63 into nulls ("null or blank customer ids")."""
    tx = pd.DataFrame(
        {
            "customer_id": np.array([1, 2**63 + 5], dtype="uint64"),
            "timestamp": pd.to_datetime(["2023-01-01", "2023-01-02"]),
            "amount": [1.0, 2.0],
        }
    )
    for connection in (None, spark):
        ids = Tables(tx, connection=connection).to_pandas("transactions")["customer_id"]
        assert ids.tolist() == ["1", str(2**63 + 5)]
        with pytest.raises(DataValidationError, match="the table is empty"):
            Tables(tx.iloc[:0], connection=connection)


def test_scoring_rows_are_cast_to_the_signature_as_on_duckdb(spark: Any) -> None:
    """Text ids (CSV) scored by a model of integer ids (Parquet), integer ids by a model of
    text ids, and 1/0 flags by a model of true/false: cast where no value changes."""
    from mlflow.types import ColSpec, Schema

    from cxml.spark import _conformed
    from cxml.tracking import _conform

    schema = Schema([ColSpec("long", "customer_id"), ColSpec("boolean", "consent")])
    rows = pd.DataFrame({"customer_id": ["7", "-8", str(2**63 - 1)], "consent": [1.0, 0.0, 1.0]})
    expected = _conform(rows.copy(), schema)
    found = _conformed(spark.createDataFrame(rows), schema).toPandas()
    assert found["customer_id"].tolist() == expected["customer_id"].tolist()
    assert found["consent"].tolist() == expected["consent"].tolist() == [True, False, True]
    text = Schema([ColSpec("string", "customer_id")])
    found = _conformed(spark.createDataFrame(pd.DataFrame({"customer_id": [7, 8]})), text)
    assert found.toPandas()["customer_id"].tolist() == ["7", "8"]
    for column, value in [("customer_id", "007"), ("customer_id", str(2**63)), ("consent", 2.0)]:
        bad = rows.copy()
        bad.loc[1, column] = value
        with pytest.raises(DataValidationError) as duck:
            _conform(bad.copy(), schema)
        with pytest.raises(DataValidationError) as on_spark:
            _conformed(spark.createDataFrame(bad), schema)
        assert str(on_spark.value) == str(duck.value)


def test_a_date_before_every_customer_is_the_duckdb_error(checkpointed: Tables) -> None:
    """Spark wrote an empty snapshot (and empty scores) and exited 0."""
    from cxml.errors import SnapshotError
    from cxml.spark import snapshot_frame

    with pytest.raises(SnapshotError, match="no customer is seen before 2000-01-01"):
        snapshot_frame(checkpointed, "2000-01-01")


def test_a_dotted_customers_column_is_a_clear_error_on_spark(spark: Any) -> None:
    """Spark reads `address.city` as a struct field: it failed deep inside a snapshot."""
    tx = pd.DataFrame({"customer_id": [1], "timestamp": ["2023-01-01"], "amount": [1.0]})
    customers = pd.DataFrame({"customer_id": [1], "address.city": ["Oslo"]})
    with pytest.raises(DataValidationError, match=r"column 'address\.city': a column name"):
        Tables(tx, customers=customers, connection=spark)


def test_labels_equal_duckdb(checkpointed: Tables, duck: Tables) -> None:
    expected = build_labels(duck, CUTOFF, HORIZON, discount_rate=0.1)
    assert_frame_equal(
        build_labels(checkpointed, CUTOFF, HORIZON, discount_rate=0.1), expected, rtol=1e-12
    )


def test_training_frame_equals_duckdb(checkpointed: Tables, duck: Tables) -> None:
    # One cut-off other than CUTOFF: stacking several is pandas, the same on every engine.
    expected = build_training_frame(duck, ["2023-01-01"], HORIZON)
    _assert_same(expected, build_training_frame(checkpointed, ["2023-01-01"], HORIZON))


def test_a_table_of_the_session_catalog_is_a_source(
    frames: dict[str, Any], spark: Any, duck: Tables
) -> None:
    spark.createDataFrame(frames["transactions"]).createOrReplaceTempView("cxml_test_tx")
    tables = Tables("cxml_test_tx", plausible_range=frames["range"], connection=spark)
    expected = duck.to_pandas("transactions").sort_values(["customer_id", "timestamp", "amount"])
    got = tables.to_pandas("transactions").sort_values(["customer_id", "timestamp", "amount"])
    assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))


@pytest.fixture(scope="session")
def project(
    frames: dict[str, Any], duck: Tables, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """A small model trained and registered on DuckDB, a config of the same data as Parquet,
    and the model's local scores at AS_OF (what Spark must reproduce)."""
    from cxml.tracking import load_model, train
    from cxml.tracking import score as score_locally

    folder = tmp_path_factory.mktemp("spark_project")
    for name in ("transactions", "interactions", "customers"):
        frames[name].to_parquet(folder / f"{name}.parquet")
    raw = {
        "name": "sparktest",
        "data": {n: f"{n}.parquet" for n in ("transactions", "interactions", "customers")},
        "training": {"cutoffs": ["2023-04-01"], "holdout": CUTOFF},
        "churn": {"horizon": HORIZON},
        "models": {
            "churn": {"lightgbm": {"n_estimators": 30}},
            "clv": {"lightgbm": {"n_estimators": 30}},
        },
        "mlflow": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }
    (folder / "project.yaml").write_text(yaml.safe_dump(raw))
    config = parse_config(raw, base_dir=folder)
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    run = train(config)
    tracking = config.mlflow.tracking_uri
    local = score_locally(load_model(run.model_uri, tracking), duck, AS_OF)
    return {
        "folder": folder,
        "raw": raw,
        "tracking": tracking,
        "uri": run.model_uri,
        "local": local,
    }


def test_spark_scores_equal_local_scores(project: dict[str, Any], checkpointed: Tables) -> None:
    from cxml.spark import score as score_on_spark

    got = score_on_spark(checkpointed, project["uri"], AS_OF, tracking_uri=project["tracking"])
    _assert_same_scores(got.toPandas(), project["local"])


def test_cxml_score_with_engine_spark_writes_parquet_from_a_config(
    project: dict[str, Any], spark: Any
) -> None:
    folder = project["folder"]
    config = folder / "spark.yaml"
    config.write_text(
        yaml.safe_dump({**project["raw"], "engine": "spark", "spark": {"master": "local[2]"}})
    )
    output = folder / "scores.parquet"
    result = CliRunner().invoke(
        app,
        [
            "score",
            str(config),
            "--model",
            project["uri"],
            "--as-of",
            AS_OF,
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert output.is_dir()  # written by Spark: a folder of part files
    _assert_same_scores(pd.read_parquet(output), project["local"])


def test_training_on_spark_samples_customers_keeps_their_history_and_caches_until_close(
    project: dict[str, Any], spark: Any
) -> None:
    from cxml.config import load_training_tables

    config = parse_config(
        {**project["raw"], "engine": "spark", "spark": {"sample": 0.25}},
        base_dir=project["folder"],
    )
    tables = load_training_tables(config)
    sampled = tables.to_pandas("transactions")
    everyone = pd.read_parquet(Path(project["folder"]) / "transactions.parquet")
    share = sampled["customer_id"].nunique() / everyone["customer_id"].nunique()
    assert 0.2 < share < 0.3
    kept = everyone[everyone["customer_id"].isin(sampled["customer_id"])]
    assert len(kept) == len(sampled)
    cached = [frame.to_native() for frame in tables.frames().values()]
    assert len(cached) == 3 and all(frame.is_cached for frame in cached)
    tables.close()  # releases what the training run kept; the session stays up
    assert not any(frame.is_cached for frame in cached)
    assert not spark.sparkContext._jsc.sc().isStopped()


CATALOGUE = {
    "budget": 150,
    "currency": "EUR",
    "control_share": 0.1,
    "seed": 3,
    "contact_events": ["campaign_contact", "email_sent"],
    "cooldown_days": {"email": 14},
    "consent": {"email": "email_consent"},
    "uplift": {"min_contacts": 50, "folds": 2},
    "catalogue": [
        {
            "name": "discount_email",
            "channel": "email",
            "cost": 2,
            "eligible": "clv > 5",
            "effect": {"learned": "discount_email", "purchase_lift": 0.05},
        },
        {
            "name": "retention_call",
            "channel": "phone",
            "cost": 12,
            "capacity": 8,
            "eligible": "churn_probability > 0.3 and n_orders >= 2",
            "effect": {"churn_reduction": 0.2},
        },
    ],
}


@pytest.fixture(scope="session")
def trained_on_spark(project: dict[str, Any], spark: Any) -> dict[str, Any]:
    """`cxml train` from a config with ``engine: spark`` and an action catalogue."""
    folder = project["folder"]
    raw = {
        **project["raw"],
        "name": "sparktrained",
        "engine": "spark",
        "spark": {"master": "local[2]"},
        "actions": CATALOGUE,
    }
    config = folder / "spark_train.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["train", str(config), "--quiet"])
    return {"config": config, "raw": raw, "result": result}


def test_cxml_train_with_engine_spark_runs_end_to_end_from_a_config(
    trained_on_spark: dict[str, Any], project: dict[str, Any]
) -> None:
    import mlflow
    from mlflow import MlflowClient

    result = trained_on_spark["result"]
    assert result.exit_code == 0, result.output
    client = MlflowClient(project["tracking"])
    version = client.get_model_version_by_alias("sparktrained", "champion")
    run = mlflow.get_run(version.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["engine"] == "spark"
    metrics = run.data.metrics
    assert 0.6 < metrics["churn_model.roc_auc"] <= 1  # well above chance: real signal
    assert "clv_hybrid.normalized_gini" in metrics and "btyd_clv.spearman" in metrics
    assert metrics["plan.spend"] <= CATALOGUE["budget"]


def test_spark_scores_and_plan_of_a_catalogue_model_equal_local_ones(
    trained_on_spark: dict[str, Any], project: dict[str, Any], duck: Tables
) -> None:
    """Scores on the executors, one plan on the driver: the same as scoring on DuckDB."""
    from cxml.actions import PLAN_COLUMNS, ActionPlan
    from cxml.tracking import load_model
    from cxml.tracking import score as score_locally

    assert trained_on_spark["result"].exit_code == 0, trained_on_spark["result"].output
    uri = "models:/sparktrained@champion"
    expected = score_locally(load_model(uri, project["tracking"]), duck, AS_OF)
    output = project["folder"] / "planned.parquet"
    result = CliRunner().invoke(
        app,
        [
            "score",
            str(trained_on_spark["config"]),
            "--model",
            uri,
            "--as-of",
            AS_OF,
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Action plan:" in result.output
    got = pd.read_parquet(output).sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(expected.columns)
    assert got["customer_id"].is_unique and len(got) == len(expected)
    plan_columns = list(PLAN_COLUMNS)
    _assert_same_scores(got.drop(columns=plan_columns), expected.drop(columns=plan_columns))
    expected = expected.sort_values("customer_id").reset_index(drop=True)
    for column in plan_columns:
        left, right = got[column], expected[column]
        if isinstance(right.dtype, pd.CategoricalDtype):
            left, right = left.astype(object), right.astype(object)
        assert_series_equal(
            left, right, check_exact=False, rtol=1e-9, check_dtype=False, obj=column
        )
    assert got["action"].ne("no_action").any()  # the plan treats someone
    stored = json.loads((output / "_action_plan.json").read_text())
    local = ActionPlan.from_scores(expected).totals
    assert stored["totals"]["spend"] == pytest.approx(local["spend"], rel=1e-9)
    assert stored["totals"]["spend"] <= CATALOGUE["budget"]


def test_cxml_snapshot_with_engine_spark_writes_what_duckdb_writes(
    project: dict[str, Any], spark: Any
) -> None:
    folder = project["folder"]
    written = {}
    for name, settings in {"duckdb": {}, "spark": {"engine": "spark"}}.items():
        config = folder / f"snapshot_{name}.yaml"
        config.write_text(yaml.safe_dump({**project["raw"], **settings}))
        output = folder / f"snapshot_{name}.parquet"
        args = ["snapshot", str(config), "--as-of", CUTOFF, "--output", str(output)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        written[name] = pd.read_parquet(output).set_index("customer_id").sort_index()
    assert (folder / "snapshot_spark.parquet").is_dir()  # a folder of part files: Spark wrote it
    assert not list(folder.glob(".snapshot_spark.parquet*"))  # no partial folder left behind
    _assert_same(written["duckdb"], written["spark"])


def test_write_parquet_replaces_a_folder_whole_or_leaves_it_untouched(
    spark: Any, tmp_path: Path
) -> None:
    from cxml.errors import ParameterError
    from cxml.spark import write_parquet

    target = tmp_path / "scores.parquet"
    target.mkdir()
    (target / "old.parquet").write_bytes(b"previous output")
    frame = spark.createDataFrame(pd.DataFrame({"customer_id": [1, 2, 3]}))
    write_parquet(frame, target)
    assert not (target / "old.parquet").exists()
    assert sorted(pd.read_parquet(target)["customer_id"]) == [1, 2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.parquet"]  # nothing beside

    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder")
    with pytest.raises(ParameterError, match=r"failed computing or writing .*a_file/scores"):
        write_parquet(frame, blocked / "scores.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "scores.parquet"]


def test_a_python_worker_error_is_reported_by_its_last_line() -> None:
    """Not the worker's whole traceback, and not as a problem with the output path."""
    from cxml.spark import _cause

    worker = RuntimeError(
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        'Traceback (most recent call last):\n  File "worker.py", line 1, in main\n'
        "mlflow.exceptions.MlflowException: Incompatible input types for column customer_id.\n"
    )
    assert _cause(worker) == (
        "mlflow.exceptions.MlflowException: Incompatible input types for column customer_id."
    )


def test_the_dataset_fingerprint_of_large_totals_is_exact_on_spark(spark: Any) -> None:
    """The sum of amounts in millionths overflowed 64 bits past 9.2e12 (Spark's ANSI mode
    fails the job): a table of a few million large orders could not be logged."""
    from cxml.tracking import fingerprint

    def digest(amounts: list[float]) -> str:
        frame = spark.createDataFrame(
            [(i, datetime.datetime(2023, 1, 1), a) for i, a in enumerate(amounts)],
            "customer_id long, timestamp timestamp_ntz, amount double",
        )
        return fingerprint(nw.from_native(frame).lazy())[1]

    large = [6e12, 6e12, 0.25]
    assert digest(large) == digest(large[::-1])
    assert digest(large) != digest([6e12, 6e12, 0.26])
