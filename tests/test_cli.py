"""The `cxml` command line as a user runs it: a real subprocess, its exit code and output.

Exit codes: 0 success; 2 bad input or configuration, with one message and no traceback;
1 an unexpected error, with the traceback only under ``--debug``. Outputs never exist
half-written.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from cxml.cli import (
    DEMO_AS_OF,
    DEMO_CONFIG,
    INACTIVE,
    _check_output,
    _warn_past_data,
    write_table,
)
from cxml.config import load_config, parse_config
from cxml.data import Tables
from cxml.datasets import load_cdnow
from cxml.errors import ParameterError
from tests.conftest import CDNOW_CONFIG, ROOT, SAMPLE, RunCxml, cli_env, one_line

CDNOW_CUSTOMERS = 23_570
SAMPLE_CUSTOMERS = 2_357


def assert_bad_input(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2 with one error message holding every fragment, and no traceback."""
    message = one_line(result.stderr)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message.count("error:") == 1, message
    for fragment in fragments:
        assert fragment in message


def first_seen_before(as_of: str, *, sample: bool) -> set[int]:
    lines = load_cdnow(sample=sample).to_pandas("transactions")
    first = lines.groupby("customer_id")["timestamp"].min()
    return set(first.index[first < pd.Timestamp(as_of)])


# --------------------------------------------------------------------------- demo


def test_demo_trains_tracks_and_scores_every_cdnow_customer(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    result = run_cxml("demo", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = one_line(result.stdout)
    scores_path = tmp_path / "output" / "cdnow" / "scores.parquet"
    assert "Scores: output/cdnow/scores.parquet" in out
    assert re.search(r"MLflow run [0-9a-f]{32}", out)
    assert "models:/cdnow@champion = version 1" in out
    assert (tmp_path / "mlflow.db").is_file()
    scores = pd.read_parquet(scores_path)
    assert len(scores) == CDNOW_CUSTOMERS
    assert scores["customer_id"].is_unique
    # The action plan: printed, in the scores, within budget, and logged with the run.
    assert "Action plan:" in out and "of budget 3,000 USD" in out
    assert "treat everyone eligible" in out
    costs = {"winback_email": 0.5, "discount_coupon": 4, "retention_call": 10}
    spend = scores["planned_action"].astype(str).map(costs).fillna(0).sum()
    assert 0 < spend <= 3000
    assert scores["reason"].str.startswith("churn risk ").all()
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", out).group(1)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    logged = {a.path for a in client.list_artifacts(run_id, "actions")}
    assert {"actions/plan_summary.json", "actions/plan.txt"} <= logged
    assert client.get_run(run_id).data.metrics["plan.spend"] <= 3000


def test_demo_config_is_configs_cdnow_yaml() -> None:
    # The demo inlines the shipped config; this guards the two from drifting apart.
    demo = parse_config(DEMO_CONFIG, source="demo")
    assert demo == load_config(CDNOW_CONFIG)
    assert demo.training.holdout.isoformat() == DEMO_AS_OF


# --------------------------------------------------------------------------- validate, snapshot


@pytest.mark.parametrize("name", ["cdnow", "synthetic_retail", "subscription"])
def test_validate_accepts_every_shipped_config(
    run_cxml: RunCxml, tmp_path: Path, name: str
) -> None:
    result = run_cxml("validate", ROOT / "configs" / f"{name}.yaml", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "valid." in one_line(result.stdout)
    assert "holdout" in result.stdout


def test_snapshot_writes_one_row_per_customer_seen_before_the_cutoff(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    # Mid-cohort: CDNOW customers first buy in Q1 1997, so only some are known by March.
    as_of = "1997-03-01"
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", as_of, "--output", "snap.parquet",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Building the snapshot" in result.stderr  # progress goes to stderr
    snapshot = pd.read_parquet(tmp_path / "snap.parquet")
    assert snapshot["customer_id"].is_unique
    expected = first_seen_before(as_of, sample=True)
    assert 0 < len(expected) < SAMPLE_CUSTOMERS
    assert set(snapshot["customer_id"]) == expected
    assert (snapshot["cutoff"] == pd.Timestamp(as_of)).all()
    assert {"frequency", "recency", "T", "monetary_value"} <= set(snapshot.columns)


def test_quiet_prints_no_progress(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", "1998-01-01", "--output", "snap.csv",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"{SAMPLE_CUSTOMERS:,} customers" in result.stdout
    assert len(pd.read_csv(tmp_path / "snap.csv")) == SAMPLE_CUSTOMERS


def test_output_format_follows_the_extension(run_cxml: RunCxml, tmp_path: Path) -> None:
    for name in ("snap.parquet", "snap.csv"):
        result = run_cxml(
            "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", "1998-01-01", "--output", name,
            "--quiet", cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "snap.parquet").read_bytes()[:4] == b"PAR1"
    assert (tmp_path / "snap.csv").read_text().startswith("customer_id,cutoff,frequency,")
    parquet = pd.read_parquet(tmp_path / "snap.parquet")
    csv = pd.read_csv(tmp_path / "snap.csv", parse_dates=["cutoff"])
    assert_frame_equal(csv, parquet, check_dtype=False, rtol=1e-15)


# --------------------------------------------------------------------------- exit code 2


def test_unknown_config_key_exits_2_naming_the_key_path(run_cxml: RunCxml, tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    config.write_text("name: typo\ndata:\n  dataset: {name: cdnow}\nchurn:\n  horizn: 6M\n")
    result = run_cxml("validate", config, cwd=tmp_path)
    assert_bad_input(result, "churn.horizn: unknown key", "horizon")


def test_bad_value_exits_2_naming_the_key_and_the_value(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml("train", CDNOW_CONFIG, "--set", "churn.horizon=ninety", cwd=tmp_path)
    assert_bad_input(result, "churn.horizon: must be a positive duration", '"ninety" (from --set)')
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run starts


def test_missing_config_file_exits_2(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml("validate", "nowhere.yaml", cwd=tmp_path)
    assert_bad_input(result, "config file not found: nowhere.yaml")


def test_config_key_problems_yaml_hides_are_named(run_cxml: RunCxml, tmp_path: Path) -> None:
    """An impossible date is named by its key; a key given twice is refused; file names
    with brackets are printed as they are."""
    folder = tmp_path / "[old]"
    folder.mkdir()
    config = folder / "shop.yaml"
    config.write_text(
        "name: shop\ndata: {dataset: {name: cdnow}}\ntraining: {holdout: 2023-02-30}\n"
    )
    result = run_cxml("validate", config, cwd=tmp_path)
    assert_bad_input(result, "training.holdout: must be", '"2023-02-30"', "[old]/shop.yaml")
    config.write_text("name: shop\nname: other\n")
    result = run_cxml("validate", config, cwd=tmp_path)
    assert_bad_input(result, "line 2", "key 'name' appears twice")


@pytest.mark.parametrize(
    ("as_of", "fragment"),
    [
        ("01/12/1997", "expected a date like 1998-01-01, got '01/12/1997'"),
        ("1990-01-01", "no customer is seen before 1990-01-01"),
    ],
    ids=["not-iso", "before-the-data"],
)
def test_bad_as_of_exits_2(run_cxml: RunCxml, tmp_path: Path, as_of: str, fragment: str) -> None:
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", as_of, "--output", "snap.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in one_line(result.stderr).replace("│", "").replace("  ", " ")
    assert not (tmp_path / "snap.csv").exists()


def test_as_of_after_the_data_warns_on_every_scoring_path(capsys: pytest.CaptureFixture) -> None:
    """`score` (DuckDB and Spark) and `report --model` share this check."""
    last = pd.Timestamp("1998-06-30 18:00")
    tables = Tables(pd.DataFrame({"customer_id": [1], "timestamp": [last], "amount": [9.0]}))
    for as_of in ("1998-06-30", "1998-07-01", None):
        _warn_past_data(tables, "--as-of", as_of, INACTIVE)
        assert capsys.readouterr().err == ""
    _warn_past_data(tables, "--as-of", "1998-07-02", INACTIVE)
    assert one_line(capsys.readouterr().err) == (
        "warning: --as-of 1998-07-02 is after the end of the data (1998-07-01): every "
        "customer looks inactive for the gap"
    )


def test_validate_checks_eligibility_rules_before_any_training(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    action = (
        "{name: call, channel: phone, cost: 1, eligible: 'no_such_column > 1', "
        "effect: {churn_reduction: 0.1}}"
    )
    result = run_cxml(
        "validate", CDNOW_CONFIG, *SAMPLE, "--set", f"actions.catalogue=[{action}]",
        cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(result, "action 'call'", "unknown column 'no_such_column'")
    # Customer attributes are columns a rule may use, as in training.
    retail = ROOT / "configs" / "synthetic_retail.yaml"
    rule = "actions.catalogue[0].eligible=email_consent and age > 30 and region == 'north'"
    result = run_cxml("validate", retail, "--set", rule, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "actions.consent={email: email_consent}",
            "action 'winback_email': consent column 'email_consent' of channel 'email' is not "
            "in the snapshot",
        ),
        (
            "actions.cooldown_days={email: 14}",
            "action 'winback_email': channel 'email' has a cool-down, but the data hold no "
            "contact history",
        ),
    ],
)
def test_validate_checks_consent_columns_and_contact_history(
    run_cxml: RunCxml, tmp_path: Path, override: str, message: str
) -> None:
    """Both passed validation: a missing consent column failed training after 89 s, and a
    cool-down without contact history silently let everyone through."""
    result = run_cxml("validate", CDNOW_CONFIG, *SAMPLE, "--set", override, cwd=tmp_path)
    assert_bad_input(result, message)


def test_validate_checks_the_churn_event_occurs_in_the_data(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    """A misspelt event type passed validation; only training failed, much later."""
    subscription = ROOT / "configs" / "subscription.yaml"
    result = run_cxml(
        "validate", subscription, "--set", "churn.event_type=cancelation",
        "--set", "data.dataset.customers=300", cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(
        result, "the churn event 'cancelation' occurs in no interaction", "'cancellation'"
    )


def test_missing_data_file_exits_2_naming_table_and_path(run_cxml: RunCxml, tmp_path: Path) -> None:
    config = tmp_path / "shop.yaml"
    config.write_text("name: shop\ndata:\n  transactions: missing.csv\n")
    result = run_cxml("validate", config, cwd=tmp_path)
    assert_bad_input(result, "table 'transactions': file not found", str(tmp_path / "missing.csv"))


@pytest.mark.parametrize(
    ("rows", "fragments"),
    [
        (
            "1,2020-01-01,10\n2,2020-01-02,-5\n",
            ("table 'transactions', column 'amount'", "negative amounts"),
        ),
        (
            "1,2020-01-01,10\n3,not a date,7\n",
            ("table 'transactions', column 'timestamp'", "unparseable", "not a date"),
        ),
    ],
    ids=["negative-amount", "unparseable-timestamp"],
)
def test_bad_data_exits_2_naming_table_column_and_rows(
    run_cxml: RunCxml, tmp_path: Path, rows: str, fragments: tuple[str, ...]
) -> None:
    (tmp_path / "orders.csv").write_text("customer_id,timestamp,amount\n" + rows)
    config = tmp_path / "shop.yaml"
    config.write_text("name: shop\ndata:\n  transactions: orders.csv\n")
    result = run_cxml("validate", config, cwd=tmp_path)
    assert_bad_input(result, *fragments)


def test_bad_output_extension_exits_2_before_any_work(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", "1998-01-01", "--output", "snap.xlsx",
        cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(result, "'snap.xlsx': use a .parquet or .csv file name")
    assert "Building the snapshot" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_uri_exits_2(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml(
        "score", CDNOW_CONFIG, *SAMPLE, "--model", "models:/nobody@champion",
        "--as-of", "1998-01-01", "--output", "scores.parquet", cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(result, "cannot load model 'models:/nobody@champion'", "nobody")
    assert not (tmp_path / "scores.parquet").exists()
    assert not (tmp_path / "mlflow.db").exists()  # no empty store left behind


def test_unwritable_output_exits_2_and_leaves_no_file(run_cxml: RunCxml, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the output folder should be")
    result = run_cxml(
        "snapshot", CDNOW_CONFIG, *SAMPLE, "--as-of", "1998-01-01",
        "--output", "out/snap.parquet", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(result, "'out/snap.parquet' cannot be written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out").is_file()


def test_output_that_is_a_folder_is_refused_before_any_work(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    """Checked before the model is even loaded (the model here does not exist)."""
    (tmp_path / "scores.parquet").mkdir()
    result = run_cxml(
        "score", CDNOW_CONFIG, *SAMPLE, "--model", "models:/nobody@champion",
        "--as-of", "1998-01-01", "--output", "scores.parquet", cwd=tmp_path,
    )  # fmt: skip
    assert_bad_input(result, "output 'scores.parquet' is a folder")


def test_an_existing_parquet_folder_is_a_valid_output_for_spark(tmp_path: Path) -> None:
    """Spark writes Parquet as a folder and replaces one that is there."""
    (tmp_path / "scores.parquet").mkdir()
    _check_output(tmp_path / "scores.parquet", folder=True)
    with pytest.raises(ParameterError, match="is a folder"):
        _check_output(tmp_path / "scores.parquet")


def test_an_upper_case_csv_extension_is_written_as_csv(tmp_path: Path) -> None:
    """An upper-case ".CSV" passed the extension check but was written as Parquet."""
    write_table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), tmp_path / "scores.CSV")
    assert (tmp_path / "scores.CSV").read_text() == "a,b\n1,x\n2,y\n"


# --------------------------------------------------------------------------- exit code 1

#: Runs the CLI with the table loader replaced by one that fails unexpectedly.
BROKEN_LOADER = """
import sys
import cxml.config
from cxml.cli import app

def broken(config):
    raise RuntimeError("disk on fire")

cxml.config.load_tables = broken
sys.exit(app(prog_name="cxml"))
"""


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_unexpected_error_exits_1_with_traceback_only_under_debug(
    tmp_path: Path, debug: bool
) -> None:
    args = [*(["--debug"] if debug else []), "validate", str(CDNOW_CONFIG)]
    result = subprocess.run(
        [sys.executable, "-c", BROKEN_LOADER, *args],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    if debug:
        assert "Traceback" in result.stderr
        assert "RuntimeError: disk on fire" in result.stderr
    else:
        assert "Traceback" not in result.stderr
        message = one_line(result.stderr)
        assert "unexpected error: RuntimeError: disk on fire" in message
        assert "Run with --debug for the traceback." in message


# --------------------------------------------------------------------------- atomic outputs


def _snapshot_into_a_held_pipe(tmp_path: Path) -> tuple[subprocess.Popen[str], int, Path]:
    """Start `cxml snapshot` (full CDNOW to CSV) and hold it in the middle of its write.

    The temporary file it writes is made a FIFO beforehand; once some of the CSV has come
    through, the writer blocks on the full pipe: the process is provably mid-write.
    """
    output = tmp_path / "snap.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "cxml.cli", "snapshot", str(CDNOW_CONFIG),
         "--as-of", "1998-01-01", "--output", str(output), "--quiet"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # cli.write_table's temporary name (the cli is run by this very pid).
    partial = tmp_path / f".snap.csv.{process.pid}.partial"
    os.mkfifo(partial)
    reader = os.open(partial, os.O_RDONLY | os.O_NONBLOCK)
    received = b""
    deadline = time.monotonic() + 120
    while len(received) < 1000:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the snapshot never started writing"
        with contextlib.suppress(BlockingIOError):
            received += os.read(reader, 1000)
        time.sleep(0.01)
    assert received.startswith(b"customer_id,cutoff,")
    return process, reader, output


def test_killed_during_output_write_leaves_no_output(tmp_path: Path) -> None:
    process, reader, output = _snapshot_into_a_held_pipe(tmp_path)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        os.close(reader)
        process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not output.exists()


def test_interrupted_output_write_leaves_no_file_at_all(tmp_path: Path) -> None:
    process, reader, output = _snapshot_into_a_held_pipe(tmp_path)
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        os.close(reader)
        process.communicate()
    assert process.returncode != 0
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary file is gone too


# --------------------------------------------------------------------------- score: re-planning


@pytest.fixture(scope="module")
def sample_model(run_cxml: RunCxml, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose MLflow store holds models:/cdnow@champion, trained by `cxml train` on
    the CDNOW sample with configs/cdnow.yaml (budget 3,000 USD, all effects assumed)."""
    folder = tmp_path_factory.mktemp("registered")
    result = run_cxml("train", CDNOW_CONFIG, *SAMPLE, "--quiet", cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


def score_sample(run_cxml: RunCxml, folder: Path, output: str, *args: str | Path):
    """`cxml score` of the sample model at 1998-01-01 into `folder / output`."""
    return run_cxml(
        "score", CDNOW_CONFIG, *SAMPLE, "--model", "models:/cdnow@champion",
        "--as-of", DEMO_AS_OF, "--output", output, *args, cwd=folder,
    )  # fmt: skip


def planned_spend(scores: pd.DataFrame) -> float:
    costs = {"winback_email": 0.5, "discount_coupon": 4, "retention_call": 10}
    return float(scores["planned_action"].astype(str).map(costs).fillna(0).sum())


def test_score_replans_under_the_configs_budget_without_retraining(
    run_cxml: RunCxml, sample_model: Path
) -> None:
    """`--set actions.budget=...` warned that it did not apply and planned with the trained
    budget: a new budget took a new training."""
    trained = score_sample(run_cxml, sample_model, "trained.parquet", "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert trained.stderr == ""
    result = score_sample(
        run_cxml, sample_model, "budget.parquet", "--set", "actions.budget=400", "--quiet"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warning: the budget is the plan's, not the model's
    before = pd.read_parquet(sample_model / "trained.parquet")
    after = pd.read_parquet(sample_model / "budget.parquet")
    assert planned_spend(before) > 400
    assert 0 < planned_spend(after) <= 400
    assert len(after) == SAMPLE_CUSTOMERS and after["customer_id"].is_unique
    assert_frame_equal(after.iloc[:, :10], before.iloc[:, :10])  # the same scores
    stored = after.attrs["action_plan"]
    assert stored["replanned"] and stored["catalogue"]["budget"] == 400
    assert not before.attrs["action_plan"]["replanned"]
    out = one_line(result.stdout)
    assert "of budget 400 USD" in out and "re-planned: with another action catalogue" in out


def test_report_with_a_model_does_not_plan_so_a_scoring_catalogue_cannot_stop_it(
    run_cxml: RunCxml, sample_model: Path
) -> None:
    """The report has no action plan, yet `report --model` re-planned with the config's
    catalogue and failed on it (another currency: exit 2, no report)."""
    result = run_cxml(
        "report", CDNOW_CONFIG, *SAMPLE, "--model", "models:/cdnow@champion",
        "--set", "actions.currency=GBP", "--output", "gbp.html", "--quiet", cwd=sample_model,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert 'id="segments"' in (sample_model / "gbp.html").read_text()


def test_score_with_a_config_without_actions_plans_with_the_models_catalogue(
    run_cxml: RunCxml, sample_model: Path
) -> None:
    """It warned that the config's (missing) actions section did not apply."""
    import yaml

    raw = yaml.safe_load(CDNOW_CONFIG.read_text())
    del raw["actions"]
    config = sample_model / "no_actions.yaml"
    config.write_text(yaml.safe_dump(raw))
    result = run_cxml(
        "score", config, *SAMPLE, "--model", "models:/cdnow@champion", "--as-of", DEMO_AS_OF,
        "--output", "no_actions.parquet", "--quiet", cwd=sample_model,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    scores = pd.read_parquet(sample_model / "no_actions.parquet")
    stored = scores.attrs["action_plan"]
    assert stored["catalogue"]["budget"] == 3000 and not stored["replanned"]
    assert "of budget 3,000 USD" in one_line(result.stdout)


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        (
            "actions.catalogue[2].effect.learned=call_campaign",
            (
                "action 'retention_call': its effect is learned from campaign 'call_campaign'",
                "it was trained without learned effects",
                "train again",
            ),
        ),
        (
            "actions.catalogue[0].eligible=n_ordres > 1",
            ("action 'winback_email'", "n_ordres"),
        ),
        ("actions.currency=EUR", ("actions.currency 'EUR' is not the model's 'USD'",)),
    ],
    ids=["learned-effect", "invalid-rule", "currency"],
)
def test_score_refuses_a_catalogue_the_model_cannot_plan_before_any_work(
    run_cxml: RunCxml, sample_model: Path, override: str, fragments: tuple[str, ...]
) -> None:
    """A learned effect needs training; a rule is checked against the model's columns before
    the tables are read or any output is written."""
    result = score_sample(run_cxml, sample_model, "refused.parquet", "--set", override)
    assert_bad_input(result, *fragments)
    assert "Reading and validating the tables" not in result.stderr
    assert not (sample_model / "refused.parquet").exists()


# --------------------------------------------------------------------------- kpis and report


def test_kpis_writes_the_tidy_table_of_the_python_api(run_cxml: RunCxml, tmp_path: Path) -> None:
    from cxml.kpis import compute_kpis

    result = run_cxml(
        "kpis", CDNOW_CONFIG, *SAMPLE, "--output", "kpis.parquet", "--quiet", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    out = one_line(result.stdout)
    assert "19 KPIs x 18 periods x 1 segments (342 rows) -> kpis.parquet" in out
    assert "not available: nps (no interactions table)" in out
    written = pd.read_parquet(tmp_path / "kpis.parquet")
    expected = compute_kpis(load_cdnow(sample=True))
    # Parquet reads the nulls of the text column `reason` back as NaN.
    assert_frame_equal(written.drop(columns="reason"), expected.drop(columns="reason"))
    assert written["reason"].fillna("").tolist() == expected["reason"].fillna("").tolist()
    assert written.loc[written["kpi"] == "nps", "value"].isna().all()


def test_kpis_options_choose_the_period_and_the_window(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml(
        "kpis", CDNOW_CONFIG, *SAMPLE, "--output", "weekly.csv", "--period", "W",
        "--start", "1997-03-01", "--end", "1997-06-01", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    starts = pd.to_datetime(pd.read_csv(tmp_path / "weekly.csv")["period_start"]).unique()
    # Whole ISO weeks from the first Monday on or after the start, over by the end.
    assert starts.min() == pd.Timestamp("1997-03-03") and starts.max() == pd.Timestamp("1997-05-19")
    assert all(day.weekday() == 0 for day in starts)
    # An end after the data is taken as given, with a warning: the months after the data
    # stop would show every customer churned.
    result = run_cxml(
        "kpis", CDNOW_CONFIG, *SAMPLE, "--output", "late.csv", "--end", "1998-09-01", "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "warning: --end 1998-09-01 is after the end of the data (1998-07-01)" in one_line(
        result.stderr
    )


def test_kpis_bad_period_exits_2(run_cxml: RunCxml, tmp_path: Path) -> None:
    result = run_cxml("kpis", CDNOW_CONFIG, "--output", "k.csv", "--period", "Q", cwd=tmp_path)
    assert_bad_input(result, "period must be one of", "'Q'")
    assert not (tmp_path / "k.csv").exists()


@pytest.mark.parametrize("option", ["--start", "--end"])
def test_kpis_dates_must_be_iso_not_guessed(run_cxml: RunCxml, tmp_path: Path, option: str) -> None:
    """01/06/2023 would be 6 January and 13/06/2023 13 June: refused, like --as-of."""
    result = run_cxml(
        "kpis", CDNOW_CONFIG, "--output", "k.csv", option, "01/06/1997", cwd=tmp_path
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = one_line(result.stderr).replace("│", "").replace("  ", " ")
    assert f"Invalid value for '{option}': expected a date like 1998-01-01" in message
    assert not (tmp_path / "k.csv").exists()


def test_report_refuses_as_of_without_model_and_a_non_html_name(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    result = run_cxml("report", CDNOW_CONFIG, "--as-of", "1998-01-01", cwd=tmp_path)
    assert_bad_input(result, "--as-of", "--model")
    result = run_cxml("report", CDNOW_CONFIG, "--output", "report.pdf", cwd=tmp_path)
    assert_bad_input(result, "report 'report.pdf'", ".html")
    assert list(tmp_path.iterdir()) == []


def test_train_logs_the_report_and_report_draws_the_registered_model(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    import mlflow

    train = run_cxml("train", CDNOW_CONFIG, *SAMPLE, "--quiet", cwd=tmp_path)
    assert train.returncode == 0, train.stderr
    run_id = re.search(r"MLflow run ([0-9a-f]{32})", train.stdout).group(1)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    logged = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/report.html"))
    model_sections = ('id="reliability"', 'id="gains"', 'id="clv-deciles"', 'id="segments"')
    assert all(section in logged.read_text() for section in model_sections)

    result = run_cxml(
        "report", CDNOW_CONFIG, *SAMPLE, "--model", "models:/cdnow@champion",
        "--as-of", "1998-01-01", "--output", "with_model.html", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    html = (tmp_path / "with_model.html").read_text()
    assert all(section in html for section in model_sections)
    late = run_cxml(
        "report", CDNOW_CONFIG, *SAMPLE, "--model", "models:/cdnow@champion",
        "--as-of", "2000-01-01", "--output", "late.html", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert late.returncode == 0, late.stderr
    assert "warning: --as-of 2000-01-01 is after the end of the data" in one_line(late.stderr)
    grid = re.search(r'<section id="segments">.*?</section>', html).group(0)
    rows = re.findall(r"<tr><td>\w+</td><td>\w+</td><td>([\d,]+)</td>", grid)
    assert len(rows) == 9
    assert sum(int(count.replace(",", "")) for count in rows) == SAMPLE_CUSTOMERS

    result = run_cxml("report", CDNOW_CONFIG, *SAMPLE, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "-> output/cdnow/report.html" in one_line(result.stdout)
    kpis_only = (tmp_path / "output" / "cdnow" / "report.html").read_text()
    assert 'id="kpis"' in kpis_only and 'id="reliability"' not in kpis_only


def test_report_refuses_an_unwritable_path_before_any_work(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    """It loaded the model, scored and built the report before finding the path unusable."""
    (tmp_path / "afile.csv").write_text("x")
    (tmp_path / "folder.html").mkdir()
    absent = ("--model", "models:/no_such_model/1")  # the path is checked before the model
    result = run_cxml("report", CDNOW_CONFIG, *absent, "--output", "afile.csv/r.html", cwd=tmp_path)
    assert_bad_input(result, "report 'afile.csv/r.html' cannot be written", "is a file")
    result = run_cxml("report", CDNOW_CONFIG, *absent, "--output", "folder.html", cwd=tmp_path)
    assert_bad_input(result, "report 'folder.html' is a folder; give a file name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile.csv", "folder.html"]


def test_score_replans_a_cool_down_on_a_channel_the_model_was_not_trained_with(
    run_cxml: RunCxml, tmp_path: Path
) -> None:
    """The registered model's input schema dropped the contact recency of a channel that
    only the scoring config's catalogue has, and planning stopped with a RuleError."""
    import yaml

    small = ("--set", "data.dataset.customers=1500", "--set", "training.cutoffs.count=2")
    retail = ROOT / "configs" / "synthetic_retail.yaml"
    trained = run_cxml("train", retail, *small, "--quiet", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    raw = yaml.safe_load(retail.read_text())
    actions = raw["actions"]
    actions["contact_events"] = [*actions["contact_events"], "support_ticket"]
    actions["cooldown_days"]["chat"] = 60
    actions["catalogue"].append(
        {"name": "chat_checkin", "channel": "chat", "cost": 0.1, "effect": {"value": 5}}
    )
    config = tmp_path / "chat.yaml"
    config.write_text(yaml.safe_dump(raw))
    as_of = "2024-01-01"
    result = run_cxml(
        "score", config, *small, "--model", "models:/synthetic_retail@champion",
        "--as-of", as_of, "--output", "chat.parquet", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # nor MLflow's warning that it ignores an input column
    scores = pd.read_parquet(tmp_path / "chat.parquet")
    assert scores["customer_id"].is_unique
    assert scores.attrs["action_plan"]["replanned"]
    # Independently: who was contacted on chat in the 60 days before the score date.
    from cxml.config import load_tables

    lines = load_tables(load_config(config, list(small[1::2]))).to_pandas("interactions")
    chat = lines[
        (lines["channel"] == "chat")
        & lines["event_type"].isin(actions["contact_events"])
        & (lines["timestamp"] < as_of)
    ]
    recent = set(
        chat.loc[chat["timestamp"] >= pd.Timestamp(as_of) - pd.Timedelta(days=60), "customer_id"]
    )
    chosen = scores.loc[scores["planned_action"].astype(str) == "chat_checkin", "customer_id"]
    assert len(recent) > 0 and len(chosen) > 0
    assert not recent & set(chosen)
