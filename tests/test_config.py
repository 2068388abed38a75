"""The project configuration: shipped configs, cut-off rules, error messages, overrides."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from cxml.config import (
    ProjectConfig,
    RollingCutoffs,
    dump,
    flatten,
    load_config,
    load_tables,
    parse_config,
    resolve_cutoffs,
    to_yaml,
)
from cxml.errors import ConfigError, DataValidationError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = ("cdnow", "synthetic_retail", "subscription")
MINIMAL = {"name": "demo", "data": {"dataset": {"name": "cdnow"}}}


def days(*values: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(v) for v in values]


def config_with(**sections: object) -> ProjectConfig:
    return parse_config({**MINIMAL, **sections})


def assert_clean(message: str) -> None:
    """A message a user reads: no traceback, no library internals."""
    for fragment in ("Traceback", 'File "', "pydantic", "errors.pydantic.dev", "Error(", "\n\n"):
        assert fragment not in message


# --------------------------------------------------------------------------- shipped configs


def test_every_file_in_configs_is_a_shipped_config_that_loads():
    assert sorted(p.stem for p in CONFIGS.glob("*.yaml")) == sorted(SHIPPED)
    assert [load_config(CONFIGS / f"{name}.yaml").name for name in SHIPPED] == list(SHIPPED)


EXPECTED_CUTOFFS = {
    # Six calendar months: [1998-01-01, 1998-07-01) ends with the data; the training windows
    # end 1997-10-01 and 1998-01-01.
    "cdnow": (days("1997-04-01", "1997-07-01"), pd.Timestamp("1998-01-01")),
    # 3 months before 2024-01-01, then monthly back from 3 months before that.
    "synthetic_retail": (
        days("2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01", "2023-06-01", "2023-07-01"),
        pd.Timestamp("2023-10-01"),
    ),
    "subscription": (
        days(
            "2022-11-01",
            "2022-12-01",
            "2023-01-01",
            "2023-02-01",
            "2023-03-01",
            "2023-04-01",
            "2023-05-01",
            "2023-06-01",
            "2023-07-01",
        ),
        pd.Timestamp("2023-10-01"),
    ),
}


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_config_loads_its_data_and_resolves_the_expected_cutoffs(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    tables = load_tables(config)
    first = tables.to_pandas("transactions")["timestamp"].min()
    assert resolve_cutoffs(config, tables.observed_until, first) == EXPECTED_CUTOFFS[name]


def test_cdnow_sample_by_override_covers_the_same_period():
    config = load_config(CONFIGS / "cdnow.yaml", ["data.dataset.sample=true"])
    tables = load_tables(config)
    assert tables.to_pandas("transactions")["customer_id"].nunique() == 2357
    assert resolve_cutoffs(config, tables.observed_until) == EXPECTED_CUTOFFS["cdnow"]


def test_shipped_configs_hold_the_settings_they_advertise():
    cdnow = load_config(CONFIGS / "cdnow.yaml")
    assert (cdnow.features.time_unit, cdnow.churn.horizon) == ("W", "6M")
    assert cdnow.training.cutoffs == (dt.date(1997, 4, 1), dt.date(1997, 7, 1))
    retail = load_config(CONFIGS / "synthetic_retail.yaml")
    assert retail.data.dataset.customers == 20_000
    assert retail.data.has_interactions
    assert retail.training.cutoffs == RollingCutoffs(every="1M", count=6)
    assert retail.clv.horizon == "3M"  # defaults to the churn horizon
    subscription = load_config(CONFIGS / "subscription.yaml")
    assert (subscription.churn.definition, subscription.churn.event_type) == (
        "event",
        "cancellation",
    )


# --------------------------------------------------------------------------- defaults


def test_a_minimal_config_fills_in_every_derived_setting():
    config = parse_config(MINIMAL)
    assert config.clv.horizon == config.churn.horizon == "90D"
    assert (config.mlflow.experiment, config.mlflow.registered_model) == ("demo", "demo")
    assert config.output.scores == Path("output/demo/scores.parquet")
    assert config.output.report == Path("output/demo/report.html")
    assert config.training.holdout == "auto"


def test_explicit_settings_are_kept_not_replaced_by_the_derived_ones():
    """An explicit experiment or report path was replaced by the default from the name."""
    config = config_with(mlflow={"experiment": "exp"}, output={"report": "out/r.html"})
    assert config.mlflow.experiment == "exp"
    assert config.output.report == Path("out/r.html")


def test_durations_are_normalised_and_explicit_cutoffs_sorted_without_repeats():
    config = config_with(
        churn={"horizon": " 26w"},
        training={"cutoffs": ["1997-07-01", "1997-04-01", "1997-07-01"]},
    )
    assert config.churn.horizon == config.clv.horizon == "26W"
    assert config.training.cutoffs == (dt.date(1997, 4, 1), dt.date(1997, 7, 1))


def test_a_validated_config_is_immutable():
    config = parse_config(MINIMAL)
    with pytest.raises(ValidationError):
        config.seed = 3  # type: ignore[misc]


def test_synthetic_dataset_uses_the_project_seed_unless_given():
    config = parse_config(
        {"name": "s", "seed": 4, "data": {"dataset": {"name": "synthetic", "customers": 50}}}
    )
    same = config.model_copy(
        update={
            "data": config.data.model_copy(
                update={"dataset": config.data.dataset.model_copy(update={"seed": 4})}
            )
        }
    )
    first, second = (load_tables(c).to_pandas("transactions") for c in (config, same))
    pd.testing.assert_frame_equal(first, second)


def test_a_synthetic_dataset_seed_wins_over_the_project_seed():
    """The project seed was used even when the dataset had its own."""
    from cxml.datasets import make_synthetic

    config = parse_config(
        {
            "name": "s",
            "seed": 4,
            "data": {"dataset": {"name": "synthetic", "customers": 50, "seed": 5}},
        }
    )
    expected, _ = make_synthetic(50, 5)
    pd.testing.assert_frame_equal(
        load_tables(config).to_pandas("transactions"), expected.to_pandas("transactions")
    )


def test_a_synthetic_dataset_without_campaigns_has_no_campaign_contacts():
    """with_campaigns: false was not passed on to the generator."""

    def event_types(dataset: dict) -> set[str]:
        config = parse_config({"name": "s", "data": {"dataset": dataset}})
        return set(load_tables(config).to_pandas("interactions")["event_type"])

    dataset = {"name": "synthetic", "customers": 200}
    assert "campaign_contact" in event_types(dataset)
    assert "campaign_contact" not in event_types({**dataset, "with_campaigns": False})


# --------------------------------------------------------------------------- resolve_cutoffs


def test_auto_holdout_is_the_latest_day_whose_window_fits_the_data():
    config = config_with(churn={"horizon": "26W"}, training={"cutoffs": ["1997-01-15"]})
    assert resolve_cutoffs(config, "1998-07-01")[1] == pd.Timestamp("1997-12-31")


def test_auto_holdout_with_months_clips_to_the_month_end():
    # 2023-03-01 + 1 month would end 2023-04-01, after 2023-03-31.
    config = config_with(churn={"horizon": "1M"}, training={"cutoffs": ["2023-01-10"]})
    assert resolve_cutoffs(config, "2023-03-31")[1] == pd.Timestamp("2023-02-28")


def test_auto_holdout_rounds_a_partial_day_down():
    config = config_with(churn={"horizon": 10}, training={"cutoffs": ["2019-01-01"]})
    assert resolve_cutoffs(config, "2020-01-11 12:00")[1] == pd.Timestamp("2020-01-01")


def test_rolling_cutoffs_step_back_from_the_latest_window_that_ends_by_the_holdout():
    config = config_with(
        churn={"horizon": "90D"}, training={"cutoffs": {"every": "4W", "count": 3}}
    )
    # holdout: 2020-01-01 - 90 d = 2019-10-03; latest training: 2019-10-03 - 90 d = 2019-07-05
    assert resolve_cutoffs(config, "2020-01-01") == (
        days("2019-05-10", "2019-06-07", "2019-07-05"),
        pd.Timestamp("2019-10-03"),
    )


def test_the_longer_of_the_churn_and_clv_horizons_governs_the_windows():
    config = config_with(
        churn={"horizon": "90D"},
        clv={"horizon": "6M"},
        training={"cutoffs": {"every": "1M", "count": 2}},
    )
    assert resolve_cutoffs(config, "2020-01-01") == (
        days("2018-12-01", "2019-01-01"),
        pd.Timestamp("2019-07-01"),
    )


def test_explicit_holdout_whose_window_runs_past_the_data_is_refused():
    config = config_with(
        churn={"horizon": "26W"}, training={"cutoffs": ["1997-04-01"], "holdout": "1998-01-01"}
    )
    with pytest.raises(ConfigError) as info:
        resolve_cutoffs(config, "1998-07-01")
    assert str(info.value) == (
        "training.holdout: the 26W label window of 1998-01-01 ends 1998-07-02, after the data "
        'ends (1998-07-01, exclusive); use 1997-12-31 or earlier, or "auto"'
    )


def test_explicit_training_cutoff_overlapping_the_holdout_window_is_refused():
    config = config_with(
        churn={"horizon": "26W"},
        training={"cutoffs": ["1997-04-01", "1997-07-03"], "holdout": "1997-12-31"},
    )
    with pytest.raises(ConfigError) as info:
        resolve_cutoffs(config, "1998-07-01")
    assert str(info.value) == (
        "training.cutoffs: the 26W label window of 1997-07-03 ends 1998-01-01, after the "
        "holdout cut-off 1997-12-31; training cut-offs must be 1997-07-02 or earlier"
    )


def test_explicit_training_cutoff_whose_window_ends_at_the_holdout_is_accepted():
    config = config_with(
        churn={"horizon": "26W"}, training={"cutoffs": ["1997-07-01"], "holdout": "1997-12-30"}
    )
    assert resolve_cutoffs(config, "1998-07-01") == (days("1997-07-01"), pd.Timestamp("1997-12-30"))


def test_data_too_short_for_the_rolling_rule_is_refused():
    # holdout 2023-10-01, latest training cut-off 2023-07-01, then 18 months back
    config = config_with(
        churn={"horizon": "3M"}, training={"cutoffs": {"every": "1M", "count": 19}}
    )
    with pytest.raises(ConfigError) as info:
        resolve_cutoffs(config, "2024-01-01", "2022-01-01 03:00")
    assert str(info.value) == (
        "training.cutoffs: the earliest cut-off 2022-01-01 is not after the first event "
        "(2022-01-01 03:00); the data (2022-01-01 03:00 to 2024-01-01) is too short for these "
        "cut-offs with a 3M horizon and the holdout cut-off 2023-10-01: use fewer or closer "
        "cut-offs, or a shorter horizon"
    )
    fewer = parse_config(MINIMAL, ["churn.horizon=3M", "training.cutoffs.count=18"])
    assert resolve_cutoffs(fewer, "2024-01-01", "2022-01-01 03:00")[0][0] == pd.Timestamp(
        "2022-02-01"
    )
    with pytest.raises(ConfigError, match="earliest cut-off 2022-02-01 is not after"):
        resolve_cutoffs(fewer, "2024-01-01", "2022-02-01")  # nothing happened before it


# --------------------------------------------------------------------------- error messages

BAD_FILES = [
    (
        "churn: {horizon: ninety}",
        'churn.horizon: must be a positive duration like "26W", "6M" or a number of days, '
        'got "ninety"',
    ),
    (
        "churn: {horizon: 0D}",
        'churn.horizon: must be a positive duration like "26W", "6M" or a number of days, got "0D"',
    ),
    (
        "models: {clv: {kind: forest}}",
        'models.clv.kind: must be one of "btyd", "gbm", "hybrid", got "forest"',
    ),
    (
        "churn: {horizon_dayz: 90}",
        "churn.horizon_dayz: unknown key (allowed: definition, event_type, horizon)",
    ),
    (
        "chrun: {horizon: 26W}",
        "chrun: unknown key (allowed: actions, churn, clv, data, engine, features, mlflow, models, "
        "name, output, seed, spark, training)",
    ),
    ("churn: {definition: event}", 'churn.event_type: is required when definition is "event"'),
    (
        "churn: {event_type: cancellation}",
        'churn.event_type: only allowed when definition is "event", got "cancellation"',
    ),
    (
        "churn: {definition: event, event_type: cancellation}",
        'churn.definition: "event" needs an interactions table (data.interactions, or a '
        'synthetic dataset with interactions), got "event"',
    ),
    (
        "training: {cutoffs: [1997-04-01, soon]}",
        'training.cutoffs[1]: must be a date like 1998-01-01, got "soon"',
    ),
    (
        "training: {cutoffs: {every: 1Q, count: 6}}",
        'training.cutoffs.every: must be a positive duration like "26W", "6M" or a number of '
        'days, got "1Q"',
    ),
    ("training: {cutoffs: {count: 0}}", "training.cutoffs.count: must be at least 1, got 0"),
    (
        "training: {cutoffs: {every: 1M, n: 3}}",
        "training.cutoffs.n: unknown key (allowed: count, every)",
    ),
    (
        "training: {cutoffs: []}",
        'training.cutoffs: must be a non-empty list of dates or a rule like {every: "1M", '
        "count: 6}, got []",
    ),
    (
        "training: {holdout: later}",
        'training.holdout: must be "auto" or a date like 1998-01-01, got "later"',
    ),
    (
        "training: {holdout: '1998-01-01 12:00'}",
        'training.holdout: must be "auto" or a date like 1998-01-01, got "1998-01-01 12:00"',
    ),
    (
        "features: {time_unit: M}",
        'features.time_unit: must be "D", "W" or a positive number of days, got "M"',
    ),
    (
        "features: {windows: [30, -1]}",
        "features.windows: must be a non-empty list of positive numbers of days, got [30, -1]",
    ),
    (
        "features: {groups: [btyd, vibes]}",
        'features.groups[1]: must be one of "btyd", "recency", "orders", "windows", "gaps", '
        '"mix", "interactions", "cx", "attributes", got "vibes"',
    ),
    (
        "clv: {discount_rate: 10}",
        "clv.discount_rate: must be an annual rate from 0 to 1, e.g. 0.1 for 10 %, got 10",
    ),
    (
        "clv: {coverage: 1.0}",
        "clv.coverage: must be a probability strictly between 0 and 1, e.g. 0.8, got 1.0",
    ),
    (
        "models: {clv: {objective: poisson}}",
        'models.clv.objective: must be one of "zero_inflated", "tweedie", got "poisson"',
    ),
    (
        "models: {churn: {lightgbm: {num_leaves: 15.5}}}",
        "models.churn.lightgbm.num_leaves: must be an integer, got 15.5",
    ),
    (
        "models: {churn: {calibration: platt}}",
        'models.churn.calibration: must be one of "auto", "isotonic", "sigmoid", "none", '
        'got "platt"',
    ),
    ("models: {btyd: {penalizer: -0.1}}", "models.btyd.penalizer: must be at least 0.0, got -0.1"),
    (
        "output: {scores: scores.xlsx}",
        'output.scores: must be a file path ending in ".parquet" or ".csv", got "scores.xlsx"',
    ),
    ("mlflow: {experiment: ''}", 'mlflow.experiment: must not be empty, got ""'),
    (
        "mlflow: {alias: v2}",
        "mlflow.alias: MLflow reserves the alias 'v2' (latest, v1, v2, ...), got \"v2\"",
    ),
    (
        "mlflow: {alias: Latest}",
        "mlflow.alias: MLflow reserves the alias 'Latest' (latest, v1, v2, ...), got \"Latest\"",
    ),
    (
        "mlflow: {alias: best model}",
        "mlflow.alias: an MLflow alias holds only letters, digits, '_' and '-', got \"best model\"",
    ),
    (
        "mlflow: {registered_model: team/churn}",
        "mlflow.registered_model: an MLflow registered model name cannot contain '/' or ':', "
        'got "team/churn"',
    ),
    (
        "mlflow: {registered_model: 'team:churn'}",
        "mlflow.registered_model: an MLflow registered model name cannot contain '/' or ':', "
        'got "team:churn"',
    ),
    ("seed: lucky", 'seed: must be an integer, got "lucky"'),
    # pydantic alone would read true/false as 1/0
    ("seed: true", "seed: must be an integer, got true"),
    ("models: {btyd: {penalizer: false}}", "models.btyd.penalizer: must be a number, got false"),
    ("features: {windows: [30, true]}", "features.windows[1]: must be an integer, got true"),
    (
        "actions: {budget: true, catalogue: [{name: mail, channel: email, cost: 1, "
        "effect: {churn_reduction: 0.2}}]}",
        "actions.budget: must be a number, got true",
    ),
    (
        "actions: {budget: 10, catalogue: [{name: mail, channel: email, cost: 1, "
        "effect: {churn_reductio: 0.2}}]}",
        "actions.catalogue[0].effect.churn_reductio: unknown key (allowed: churn_reduction, "
        "learned, purchase_lift, value)",
    ),
    ("churn: 26W", 'churn: must be a section of key: value pairs, got "26W"'),
]


def write(tmp_path: Path, text: str, name: str = "project.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.mark.parametrize(("extra", "problem"), BAD_FILES)
def test_bad_setting_is_reported_with_its_key_path_expectation_and_value(tmp_path, extra, problem):
    path = write(tmp_path, f"name: demo\ndata: {{dataset: {{name: cdnow}}}}\n{extra}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"{path}: invalid configuration:\n  {problem}"
    assert_clean(str(info.value))
    assert info.value.__cause__ is None and info.value.__suppress_context__


BAD_DATA = [
    ({}, ['data.transactions: is required unless "dataset" is given']),
    (
        {"dataset": {"name": "cdnow"}, "plausible_range": ["2020-01-01", "2010-01-01"]},
        [
            "data.plausible_range: must be [earliest, latest] with earliest before latest, "
            'got ["2020-01-01", "2010-01-01"]'
        ],
    ),
    (
        {"dataset": {"name": "cdnow"}, "plausible_range": ["2020-01-01", "2020-01-01"]},
        [
            "data.plausible_range: must be [earliest, latest] with earliest before latest, "
            'got ["2020-01-01", "2020-01-01"]'
        ],
    ),
    ({"dataset": "cdnow"}, ['data.dataset: must be a section of key: value pairs, got "cdnow"']),
    (
        {"dataset": {"name": "parquet"}},
        ['data.dataset.name: must be one of "cdnow", "synthetic", got "parquet"'],
    ),
    (
        {"dataset": {"sample": True}},
        ['data.dataset.name: is required (one of "cdnow", "synthetic")'],
    ),
    (
        {"dataset": {"name": "cdnow", "customers": 10}},
        ["data.dataset.customers: unknown key (allowed: name, sample)"],
    ),
    (
        {"dataset": {"name": "synthetic", "customers": "many", "size": 3}},
        [
            'data.dataset.customers: must be an integer, got "many"',
            "data.dataset.size: unknown key (allowed: cancellations, customers, end, name, seed, "
            "start, with_campaigns, with_customers, with_interactions)",
        ],
    ),
    (
        {"dataset": {"name": "synthetic", "start": "2024-01-01"}},
        ["data.dataset.end: must be after start (2024-01-01), got 2024-01-01"],
    ),
    (
        {"dataset": {"name": "cdnow"}, "transactions": "tx.csv"},
        ['data.transactions: not allowed together with "dataset", got "tx.csv"'],
    ),
    (
        {"dataset": {"name": "cdnow"}, "mapping": {"transactions": {"cust": "customer_id"}}},
        [
            'data.mapping: only applies to your own tables, not to a "dataset", '
            'got {"transactions": {"cust": "customer_id"}}'
        ],
    ),
    (
        {"dataset": {"name": "cdnow"}, "duplicates": "drop"},
        ['data.duplicates: only applies to your own tables, not to a "dataset", got "drop"'],
    ),
    (
        {"transactions": "tx.csv", "duplicates": "ignore"},
        ['data.duplicates: must be one of "error", "drop", "keep", got "ignore"'],
    ),
    (
        {"transactions": "tx.csv", "mapping": {"orders": {"a": "b"}}},
        ["data.mapping.orders: unknown key (allowed: customers, interactions, transactions)"],
    ),
]


@pytest.mark.parametrize(("data", "problems"), BAD_DATA)
def test_bad_data_section_is_reported_with_its_key_paths(data, problems):
    with pytest.raises(ConfigError) as info:
        parse_config({"name": "demo", "data": data}, source="demo.yaml")
    assert str(info.value) == "demo.yaml: invalid configuration:\n" + "\n".join(
        f"  {p}" for p in problems
    )


def test_event_churn_on_own_tables_needs_an_interactions_table():
    """Own tables without interactions passed validation for event churn."""
    raw = {
        "name": "demo",
        "data": {"transactions": "tx.csv"},
        "churn": {"definition": "event", "event_type": "cancellation"},
    }
    with pytest.raises(ConfigError, match=r'churn\.definition: "event" needs an interactions'):
        parse_config(raw)
    raw["data"]["interactions"] = "events.csv"
    assert parse_config(raw).churn.definition == "event"


def test_every_problem_is_listed_not_just_the_first():
    raw = {"data": {"dataset": {"name": "cdnow"}}, "seed": "x", "clv": {"horizon": "soon"}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="p.yaml")
    assert str(info.value).splitlines() == [
        "p.yaml: invalid configuration:",
        "  name: is required",
        '  seed: must be an integer, got "x"',
        '  clv.horizon: must be a positive duration like "26W", "6M" or a number of days, '
        'got "soon"',
    ]


def test_name_must_be_usable_in_file_and_mlflow_names():
    with pytest.raises(ConfigError, match=r'name: must be letters, digits.*got "my project"'):
        parse_config({**MINIMAL, "name": "my project"})


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert str(info.value) == f"config file not found: {tmp_path / 'nope.yaml'}"


def test_yaml_syntax_error_gives_line_and_column_without_parser_internals(tmp_path):
    path = write(tmp_path, "name: demo\nchurn:\n  horizon: [26W\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: invalid YAML at line 4, column 1: expected ',' or ']', but got '<stream end>'"
    )
    assert_clean(str(info.value))


def test_top_level_must_be_a_mapping(tmp_path):
    for text, shown in (("- name: demo\n", '[{"name": "demo"}]'), ("", "null")):
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert str(info.value) == (
            f"{path}: the top level must be a mapping of keys to values, got {shown}"
        )


# --------------------------------------------------------------------------- overrides


def test_overrides_set_values_read_as_yaml():
    config = load_config(
        CONFIGS / "cdnow.yaml",
        [
            "churn.horizon=13W",
            "models.churn.lightgbm.num_leaves=7",
            "training.cutoffs=[1997-04-01,1997-06-01]",
            "mlflow.tracking_uri=http://mlflow:5000/?a=b",
        ],
    )
    assert config.churn.horizon == "13W"
    assert config.clv.horizon == "6M"  # set explicitly in the file
    assert config.models.churn.lightgbm.num_leaves == 7
    assert config.models.clv.lightgbm.num_leaves == 31
    assert config.training.cutoffs == (dt.date(1997, 4, 1), dt.date(1997, 6, 1))
    assert config.mlflow.tracking_uri == "http://mlflow:5000/?a=b"


def test_override_paths_index_lists_as_error_messages_name_them():
    config = load_config(
        CONFIGS / "cdnow.yaml",
        ["actions.catalogue[2].capacity=7", "training.cutoffs[1]=1997-06-01"],
    )
    assert config.actions.catalogue[2].capacity == 7
    assert config.actions.catalogue[1].capacity is None
    assert config.training.cutoffs == (dt.date(1997, 4, 1), dt.date(1997, 6, 1))
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "cdnow.yaml", ["actions.catalogue[0].cost=-1"])
    assert "actions.catalogue[0].cost: must be" in str(info.value)
    assert str(info.value).endswith("(from --set)")
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "cdnow.yaml", ["actions.catalogue[3].cost=1"])
    assert str(info.value) == "--set actions.catalogue[3].cost: actions.catalogue has 3 item(s)"
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "cdnow.yaml", ["actions.catalogue.cost=1"])
    assert str(info.value) == (
        "--set actions.catalogue.cost: actions.catalogue is a list; name an item, "
        "e.g. actions.catalogue[0].cost"
    )
    with pytest.raises(ConfigError, match=r"churn\.horizon is a value, not a section"):
        load_config(CONFIGS / "cdnow.yaml", ["churn.horizon[0]=1"])


def test_yaml_dates_merge_keys_and_repeated_keys(tmp_path):
    """Dates reach the schema as text (midnight times allowed, impossible days named by
    key); YAML merge keys work; a key written twice in one mapping is refused."""
    path = tmp_path / "c.yaml"
    text = (
        "name: demo\ndata: {dataset: {name: cdnow}}\n"
        "models:\n"
        "  churn: {lightgbm: &lgbm {num_leaves: 7, learning_rate: 0.1}}\n"
        "  clv: {lightgbm: {<<: *lgbm, num_leaves: 9}}\n"
        "training: {cutoffs: [1997-04-01 00:00:00, 1997-07-01T00:00], holdout: 1998-01-01}\n"
    )
    path.write_text(text)
    config = load_config(path)
    assert config.training.cutoffs == (dt.date(1997, 4, 1), dt.date(1997, 7, 1))
    assert config.models.churn.lightgbm.num_leaves == 7
    assert config.models.clv.lightgbm.num_leaves == 9
    assert config.models.clv.lightgbm.learning_rate == 0.1
    path.write_text(text.replace("holdout: 1998-01-01", "holdout: 1998-02-30"))
    with pytest.raises(ConfigError, match=r'training\.holdout: must be .* got "1998-02-30"'):
        load_config(path)
    path.write_text("name: demo\nname: again\n")
    with pytest.raises(ConfigError, match="line 2, column 1: key 'name' appears twice"):
        load_config(path)


def test_override_creates_missing_sections_and_later_overrides_win():
    config = parse_config(MINIMAL, ["mlflow.alias=staging", "mlflow.alias=prod", "seed=9"])
    assert (config.mlflow.alias, config.seed) == ("prod", 9)


def test_override_to_an_unknown_key_path_is_named():
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "cdnow.yaml", ["models.churn.lightgbm.num_leafs=15"])
    assert str(info.value) == (
        f"{CONFIGS / 'cdnow.yaml'}: invalid configuration:\n"
        "  models.churn.lightgbm.num_leafs: unknown key (allowed: colsample_bytree, "
        "early_stopping_rounds, learning_rate, min_child_samples, n_estimators, num_leaves, "
        "reg_lambda) (from --set)"
    )


def test_override_with_a_bad_value_is_marked_as_coming_from_the_command_line():
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL, ["training.cutoffs=[1997-04-01, x]"], source="c.yaml")
    assert str(info.value) == (
        "c.yaml: invalid configuration:\n"
        '  training.cutoffs[1]: must be a date like 1998-01-01, got "x" (from --set)'
    )


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "churn.horizon",
            "--set 'churn.horizon': expected key.path=value, e.g. --set churn.horizon=13W",
        ),
        ("=13W", "--set '=13W': expected key.path=value, e.g. --set churn.horizon=13W"),
        (
            "churn..horizon=13W",
            "--set 'churn..horizon=13W': expected key.path=value, e.g. --set churn.horizon=13W",
        ),
        (
            "churn.horizon.days=3",
            '--set churn.horizon.days: churn.horizon is a value, not a section (it holds "6M")',
        ),
        (
            "training.cutoffs=[1997-04-01",
            "--set training.cutoffs: the value is not valid YAML at line 1, column 12: "
            "expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_malformed_override_is_refused(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "cdnow.yaml", [override])
    assert str(info.value) == message


def test_overrides_do_not_change_the_raw_input():
    raw = {"name": "demo", "data": {"dataset": {"name": "cdnow"}}, "churn": {"horizon": "26W"}}
    parse_config(raw, ["churn.horizon=13W", "data.dataset.sample=true"])
    assert raw == {
        "name": "demo",
        "data": {"dataset": {"name": "cdnow"}},
        "churn": {"horizon": "26W"},
    }


def test_an_override_of_a_list_item_does_not_change_the_raw_input():
    """The list was edited in place: the caller's catalogue cost became 2."""
    mail = {"name": "mail", "channel": "email", "cost": 1, "effect": {"churn_reduction": 0.2}}
    raw = {**MINIMAL, "actions": {"budget": 10, "catalogue": [mail]}}
    config = parse_config(raw, ["actions.catalogue[0].cost=2"])
    assert config.actions.catalogue[0].cost == 2
    assert raw["actions"]["catalogue"] == [
        {"name": "mail", "channel": "email", "cost": 1, "effect": {"churn_reduction": 0.2}}
    ]


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", SHIPPED)
def test_dumped_config_loads_back_equal(tmp_path, name):
    config = load_config(CONFIGS / f"{name}.yaml")
    dump(config, tmp_path / "copy.yaml")
    again = load_config(tmp_path / "copy.yaml")
    assert again == config
    assert to_yaml(again) == to_yaml(config)


@pytest.mark.parametrize("name", SHIPPED)
def test_every_flattened_setting_reads_back_as_an_override(name):
    config = load_config(CONFIGS / f"{name}.yaml")
    flat = flatten(config)
    assert parse_config(MINIMAL, [f"{k}={v}" for k, v in flat.items()]) == config


def test_flatten_gives_dotted_keys_and_yaml_text():
    flat = flatten(load_config(CONFIGS / "cdnow.yaml"))
    assert flat["models.churn.lightgbm.num_leaves"] == "31"
    assert flat["training.cutoffs"] == "[1997-04-01, 1997-07-01]"
    assert flat["training.holdout"] == "1998-01-01"
    assert flat["data.dataset.sample"] == "false"
    assert flat["output.scores"] == "output/cdnow/scores.parquet"
    assert all(isinstance(v, str) for v in flat.values())


def test_dump_writes_plain_yaml(tmp_path):
    dump(load_config(CONFIGS / "cdnow.yaml"), tmp_path / "c.yaml")
    text = (tmp_path / "c.yaml").read_text()
    assert "!!" not in text
    assert yaml.safe_load(text)["training"]["holdout"] == dt.date(1998, 1, 1)


# --------------------------------------------------------------------------- own tables


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    pd.DataFrame(
        {
            "cust": [1, 1, 2, 3],
            "at": ["2021-01-05", "2021-03-01", "2021-02-10", "2021-06-30"],
            "total": [10.0, 20.0, 5.0, 7.5],
        }
    ).to_csv(folder / "data" / "orders_2021.csv", index=False)
    pd.DataFrame(
        {
            "cust": [1, 2],
            "at": ["2021-04-01", "2021-05-01"],
            "kind": ["quit", "web"],
        }
    ).to_csv(folder / "data" / "events.csv", index=False)
    write(
        folder,
        """\
        name: own
        data:
          transactions: data/orders_*.csv
          interactions: data/events.csv
          mapping:
            transactions: {cust: customer_id, at: timestamp, total: amount}
            interactions: {cust: customer_id, at: timestamp, kind: event_type}
          event_types: {quit: cancellation, web: web_visit}
        training:
          cutoffs: [2021-02-01]
        churn:
          horizon: 30D
          definition: event
          event_type: cancellation
        """,
        "own.yaml",
    )
    return folder


def test_relative_source_paths_resolve_against_the_config_folder(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("project") / "own.yaml")
    assert config.data.transactions == str(project.resolve() / "data" / "orders_*.csv")
    monkeypatch.chdir(project / "data")
    tables = load_tables(config)
    assert tables.to_pandas("transactions")["amount"].sum() == 42.5
    assert sorted(tables.to_pandas("interactions")["event_type"]) == ["cancellation", "web_visit"]
    assert resolve_cutoffs(config, tables.observed_until) == (
        days("2021-02-01"),
        pd.Timestamp("2021-06-01"),
    )


def test_absolute_and_remote_source_paths_are_kept(project):
    absolute = str(project / "data" / "events.csv")
    config = load_config(
        project / "own.yaml",
        [f"data.transactions={absolute}", "data.interactions=s3://bucket/events/*.parquet"],
    )
    assert config.data.transactions == absolute
    assert config.data.interactions == "s3://bucket/events/*.parquet"


def test_a_python_mapping_keeps_relative_paths_relative_to_the_working_directory():
    config = parse_config({"name": "p", "data": {"transactions": "tx.parquet"}})
    assert config.data.transactions == "tx.parquet"


def test_plausible_range_admits_customers_who_signed_up_before_1970(tmp_path):
    pd.DataFrame(
        {"customer_id": [1, 2], "timestamp": ["2020-01-05", "2020-02-01"], "amount": [5.0, 7.0]}
    ).to_csv(tmp_path / "tx.csv", index=False)
    pd.DataFrame({"customer_id": [1, 2], "signup_date": ["1965-03-01", "2019-01-01"]}).to_csv(
        tmp_path / "customers.csv", index=False
    )
    data = {"transactions": "tx.csv", "customers": "customers.csv"}
    path = write(tmp_path, f"name: old\ndata: {json.dumps(data)}\n")
    with pytest.raises(DataValidationError, match=r"data\.plausible_range in a config"):
        load_tables(load_config(path))
    config = load_config(path, ["data.plausible_range=[1950-01-01, null]"])
    assert load_tables(config).customers.collect().shape[0] == 2


def test_the_duplicates_setting_reaches_the_tables(tmp_path):
    """data.duplicates was not passed on: any duplicate line was an error."""
    pd.DataFrame(
        {"customer_id": [1, 1, 2], "timestamp": ["2023-01-01"] * 3, "amount": [5.0, 5.0, 7.0]}
    ).to_csv(tmp_path / "tx.csv", index=False)
    for duplicates, rows in (("drop", 2), ("keep", 3)):
        raw = {"name": "d", "data": {"transactions": "tx.csv", "duplicates": duplicates}}
        config = parse_config(raw, base_dir=tmp_path)
        assert len(load_tables(config).to_pandas("transactions")) == rows


def test_only_true_and_false_are_booleans_so_a_column_named_no_can_be_mapped(tmp_path):
    """YAML 1.1 reads No, yes, on and off as booleans: a source column "No" (an order
    number) mapped onto order_id would become the key false."""
    path = write(
        tmp_path,
        "name: demo\ndata:\n  transactions: t.csv\n  mapping: {transactions: {No: order_id}}\n",
    )
    assert load_config(path).data.mapping.transactions == {"No": "order_id"}
    path.write_text(path.read_text() + "seed: yes\n")
    with pytest.raises(ConfigError, match='seed: must be an integer, got "yes"'):
        load_config(path)


def test_moments_in_messages_show_their_time_of_day_only_when_they_have_one():
    from cxml.dates import shown

    assert shown(pd.Timestamp("2023-10-01")) == "2023-10-01"
    assert shown(pd.Timestamp("2023-10-01 12:00")) == "2023-10-01 12:00"
    assert shown(pd.Timestamp("2023-10-01 00:00:05")) == "2023-10-01 00:00:05"
