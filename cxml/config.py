"""The project configuration: one frozen pydantic model per section of a YAML file.

`load_config` reads a file, applies ``--set key.path=value`` overrides to the raw YAML and
validates the result. Every problem becomes one line of a `ConfigError` that names the
dotted key path, what was expected and the value found; unknown keys are errors.

Sections: ``name``, ``seed``, ``data``, ``features``, ``training``, ``churn``, ``clv``,
``models``, ``mlflow``, ``output``, ``actions`` (the next-best-action catalogue) and
``engine`` (``duckdb`` or ``spark``) with its ``spark`` settings; ``docs/config.md`` lists
every key.
Settings left out take the defaults below; those derived from others
(the CLV horizon, MLflow names, output paths) are filled in during validation, so a loaded
or dumped config states every setting.

Paths of data sources are resolved against the folder of the config file, so a project runs
the same from any working directory; output paths and the MLflow tracking URI are relative
to the working directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import narwhals as nw
import pandas as pd
import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from cxml.actions.catalogue import Catalogue
from cxml.data import Tables, engine
from cxml.data.engine import Connection
from cxml.datasets import load_cdnow, make_synthetic
from cxml.dates import shown
from cxml.errors import ConfigError, SnapshotError
from cxml.features.catalogue import plan
from cxml.features.snapshot import available_columns
from cxml.features.spec import FeatureSpec, as_cutoff, parse_horizon
from cxml.fields import Float, Int

DURATION_EXPECTED = 'must be a positive duration like "26W", "6M" or a number of days'


class Section(BaseModel):
    """Base of every section: unknown keys are errors and a validated config is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- value types


def _duration(value: Any) -> Any:
    """A horizon or period as `parse_horizon` reads it: days (int) or text like '26W'."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            parse_horizon(value)
        except SnapshotError:
            pass
        else:
            return value.strip().upper() if isinstance(value, str) else value
    raise ValueError(DURATION_EXPECTED)


def _day(value: Any) -> dt.date:
    """A calendar day: a date, or ISO text like '1998-01-01' (a time of day only if it is
    midnight, e.g. '1998-01-01 00:00:00')."""
    if isinstance(value, str):
        text = value.strip()
        parse = dt.date.fromisoformat if len(text) == 10 else dt.datetime.fromisoformat
        with contextlib.suppress(ValueError):
            value = parse(text)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date()
    elif isinstance(value, dt.date):
        return value
    raise ValueError("must be a date like 1998-01-01")


def _holdout(value: Any) -> Any:
    """The holdout cut-off: "auto" or a day."""
    if value == "auto":
        return value
    try:
        return _day(value)
    except ValueError:
        raise ValueError('must be "auto" or a date like 1998-01-01') from None


Duration = Annotated[int | str, BeforeValidator(_duration)]
Day = Annotated[dt.date, BeforeValidator(_day)]
Text = Annotated[str, Field(min_length=1)]


def _key_error(key: str | None, expected: str, *value: Any) -> PydanticCustomError:
    """A cross-field problem at `key` of the section being validated (value optional)."""
    context: dict[str, Any] = {"key": key, "expected": expected}
    if value:
        context["value"] = value[0]
    return PydanticCustomError("config", "{expected}", context)


# --------------------------------------------------------------------------- data


class CdnowDataset(Section):
    """The bundled CDNOW purchases (`cxml.datasets.load_cdnow`)."""

    name: Literal["cdnow"]
    sample: bool = False  # the 2,357-customer sample of the BG/NBD paper


class SyntheticDataset(Section):
    """Simulated retail histories (`cxml.datasets.make_synthetic`); with `cancellations`, a
    "cancellation" event at each dropout (contractual churn)."""

    name: Literal["synthetic"]
    customers: Int = Field(5000, ge=1)
    seed: Int | None = None  # None: the project seed
    start: Day = dt.date(2022, 1, 1)
    end: Day = dt.date(2024, 1, 1)
    with_interactions: bool = True  # web/app visits, e-mails, tickets, NPS/CSAT/CES surveys
    with_customers: bool = True
    with_campaigns: bool = True
    cancellations: bool = False  # contractual: a "cancellation" event at each dropout

    @model_validator(mode="after")
    def _period(self) -> SyntheticDataset:
        if self.end <= self.start:
            raise _key_error("end", f"must be after start ({self.start})", self.end)
        return self


class ColumnMapping(Section):
    """Per table, your column name -> cxml's canonical column name."""

    transactions: dict[str, str] = {}
    interactions: dict[str, str] = {}
    customers: dict[str, str] = {}


class DataConfig(Section):
    """Where the histories come from: a named `dataset`, or your own table files.

    `transactions`, `interactions` and `customers` are CSV or Parquet paths or globs;
    relative paths are resolved against the config file's folder.
    """

    dataset: Annotated[CdnowDataset | SyntheticDataset, Field(discriminator="name")] | None = None
    transactions: Text | None = None
    interactions: Text | None = None
    customers: Text | None = None
    mapping: ColumnMapping = ColumnMapping()
    event_types: dict[str, str] = {}  # your event type -> canonical event type
    duplicates: Literal["error", "drop", "keep"] = "error"
    # Earliest and latest plausible timestamps (default 1970-01-01 to tomorrow; null keeps
    # a default), e.g. [1950-01-01, null] for customers who signed up before 1970.
    plausible_range: tuple[dt.date | None, dt.date | None] | None = None

    @field_validator("plausible_range")
    @classmethod
    def _ordered(
        cls, value: tuple[dt.date | None, dt.date | None] | None
    ) -> tuple[dt.date | None, dt.date | None] | None:
        if value is not None and None not in value and not value[0] < value[1]:
            raise ValueError("must be [earliest, latest] with earliest before latest")
        return value

    @field_validator("transactions", "interactions", "customers")
    @classmethod
    def _resolve(cls, value: str | None, info: ValidationInfo) -> str | None:
        base = (info.context or {}).get("base_dir")
        if (
            value is None
            or base is None
            or "://" in value
            or Path(value).expanduser().is_absolute()
        ):
            return value
        return str(Path(base) / value)

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.dataset is None and self.transactions is None:
            raise _key_error("transactions", 'is required unless "dataset" is given')
        if self.dataset is not None:
            if self.transactions is not None:
                raise _key_error(
                    "transactions", 'not allowed together with "dataset"', self.transactions
                )
            own_tables = {
                "interactions": self.interactions,
                "customers": self.customers,
                "mapping": {k: v for k, v in self.mapping.model_dump().items() if v} or None,
                "event_types": self.event_types or None,
                "duplicates": None if self.duplicates == "error" else self.duplicates,
            }
            for key, value in own_tables.items():
                if value is not None:
                    raise _key_error(
                        key, 'only applies to your own tables, not to a "dataset"', value
                    )
        return self

    @property
    def has_interactions(self) -> bool:
        """Whether the loaded tables will include interactions."""
        if isinstance(self.dataset, CdnowDataset):
            return False
        if isinstance(self.dataset, SyntheticDataset):
            return self.dataset.with_interactions
        return self.interactions is not None


# --------------------------------------------------------------------------- training


class RollingCutoffs(Section):
    """`count` cut-offs `every` period apart, the latest as late as the holdout allows."""

    every: Duration = "1M"
    count: Int = Field(6, ge=1)


def _cutoffs_kind(value: Any) -> str:
    """Which form of `TrainingConfig.cutoffs` a value takes: a rule (mapping) or dates."""
    return "rolling" if isinstance(value, Mapping | RollingCutoffs) else "dates"


Cutoffs = Annotated[
    Annotated[tuple[Day, ...], Tag("dates")] | Annotated[RollingCutoffs, Tag("rolling")],
    Discriminator(_cutoffs_kind),
]


class TrainingConfig(Section):
    """Training cut-offs (explicit dates or a rolling rule) and the holdout cut-off.

    See `resolve_cutoffs` for how ``"auto"`` and a rolling rule become dates.
    """

    cutoffs: Cutoffs = RollingCutoffs()
    holdout: Annotated[dt.date | Literal["auto"], BeforeValidator(_holdout)] = "auto"

    @field_validator("cutoffs")
    @classmethod
    def _dates(
        cls, value: tuple[dt.date, ...] | RollingCutoffs
    ) -> tuple[dt.date, ...] | RollingCutoffs:
        if isinstance(value, tuple):
            if not value:
                raise ValueError(
                    'must be a non-empty list of dates or a rule like {every: "1M", count: 6}'
                )
            return tuple(sorted(set(value)))
        return value


# --------------------------------------------------------------------------- targets


class ChurnConfig(Section):
    """What churn means: no purchase within `horizon` ("inactivity"), or an interaction of
    type `event_type` within it ("event", e.g. "cancellation" for subscriptions)."""

    horizon: Duration = "90D"
    definition: Literal["inactivity", "event"] = "inactivity"
    event_type: Text | None = None

    @model_validator(mode="after")
    def _event_type(self) -> ChurnConfig:
        if self.definition == "event" and self.event_type is None:
            raise _key_error("event_type", 'is required when definition is "event"')
        if self.definition == "inactivity" and self.event_type is not None:
            raise _key_error(
                "event_type", 'only allowed when definition is "event"', self.event_type
            )
        return self


class CLVConfig(Section):
    """Customer lifetime value over `horizon`, each purchase discounted to the cut-off at an
    annual rate."""

    horizon: Duration | None = None  # None: the churn horizon
    discount_rate: Float = Field(0.0, ge=0, le=1)  # annual, e.g. 0.1 for 10 %
    coverage: Float = Field(0.8, gt=0, lt=1)  # nominal coverage of the prediction interval


# --------------------------------------------------------------------------- models


class LightGBMParams(Section):
    """The LightGBM settings cxml exposes (defaults as in `cxml.models.ChurnModel`)."""

    n_estimators: Int = Field(1000, ge=1)
    learning_rate: Float = Field(0.05, gt=0, le=1)
    num_leaves: Int = Field(31, ge=2)
    min_child_samples: Int = Field(20, ge=1)
    reg_lambda: Float = Field(0.0, ge=0)
    colsample_bytree: Float = Field(1.0, gt=0, le=1)
    early_stopping_rounds: Int = Field(50, ge=1)


class BTYDConfig(Section):
    """The purchase model of `cxml.models.BTYDModel` and its L2 penalty."""

    model: Literal["bgnbd", "pareto", "mbgnbd"] = "bgnbd"
    penalizer: Float = Field(0.0, ge=0)


class ChurnModelConfig(Section):
    """The churn classifier: LightGBM settings and how its probabilities are calibrated."""

    calibration: Literal["auto", "isotonic", "sigmoid", "none"] = "auto"
    lightgbm: LightGBMParams = LightGBMParams()


class CLVModelConfig(Section):
    """Which CLV model scores customers (BTYD, LightGBM, or LightGBM fed BTYD outputs) and
    the LightGBM objective (`cxml.models.CLVModel`)."""

    kind: Literal["btyd", "gbm", "hybrid"] = "hybrid"
    objective: Literal["zero_inflated", "tweedie"] = "zero_inflated"
    lightgbm: LightGBMParams = LightGBMParams()


class ModelsConfig(Section):
    """Model choices and settings for BTYD, churn and CLV."""

    btyd: BTYDConfig = BTYDConfig()
    churn: ChurnModelConfig = ChurnModelConfig()
    clv: CLVModelConfig = CLVModelConfig()


# --------------------------------------------------------------------------- tracking, output


class MLflowConfig(Section):
    """Where runs are logged and under which names the pipeline is registered."""

    tracking_uri: Text = "sqlite:///mlflow.db"
    experiment: Text | None = None  # None: the project name
    registered_model: Text | None = None  # None: the project name
    alias: Text = "champion"

    # MLflow's own naming rules, checked here so that `cxml validate` catches them rather
    # than `cxml train` after the model is trained.
    @field_validator("registered_model")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        if value is not None and ("/" in value or ":" in value):
            raise ValueError("an MLflow registered model name cannot contain '/' or ':'")
        return value

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not re.fullmatch(r"[\w\-]+", value):
            raise ValueError("an MLflow alias holds only letters, digits, '_' and '-'")
        if value.lower() == "latest" or re.fullmatch(r"[vV]\d+", value):
            raise ValueError(f"MLflow reserves the alias {value!r} (latest, v1, v2, ...)")
        return value


class OutputConfig(Section):
    """Where scores (``.parquet`` or ``.csv``, by extension) and the HTML report go."""

    scores: Path | None = None  # None: output/<name>/scores.parquet
    report: Path | None = None  # None: output/<name>/report.html

    @field_validator("scores")
    @classmethod
    def _table_format(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() not in (".parquet", ".csv"):
            raise ValueError('must be a file path ending in ".parquet" or ".csv"')
        return value

    @field_validator("report")
    @classmethod
    def _html(cls, value: Path | None) -> Path | None:
        if value is not None and value.suffix.lower() != ".html":
            raise ValueError('must be a file path ending in ".html"')
        return value


# --------------------------------------------------------------------------- engine


class SparkConfig(Section):
    """Where Spark runs when ``engine: spark`` (see docs/spark.md)."""

    master: Text | None = None  # None: as spark-submit or the platform sets it
    options: dict[str, str | int | float | bool] = {}  # Spark settings, e.g. spark.executor.memory
    sample: Float = Field(1.0, gt=0, le=1)  # share of customers `cxml train` fits on


# --------------------------------------------------------------------------- project


class ProjectConfig(Section):
    """A whole cxml project. Only `name` and `data` are required."""

    name: str
    seed: Int = 0
    data: DataConfig
    features: FeatureSpec = FeatureSpec()
    training: TrainingConfig = TrainingConfig()
    churn: ChurnConfig = ChurnConfig()
    clv: CLVConfig = CLVConfig()
    models: ModelsConfig = ModelsConfig()
    mlflow: MLflowConfig = MLflowConfig()
    output: OutputConfig = OutputConfig()
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkConfig = SparkConfig()
    actions: Catalogue | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value):
            raise ValueError(
                'must be letters, digits, "_", "-" or "." (it names files and MLflow objects)'
            )
        return value

    @model_validator(mode="after")
    def _derived(self) -> ProjectConfig:
        """Check what spans sections and fill in the settings derived from others."""
        if self.churn.definition == "event" and not self.data.has_interactions:
            raise _key_error(
                "churn.definition",
                '"event" needs an interactions table (data.interactions, or a synthetic '
                "dataset with interactions)",
                self.churn.definition,
            )
        folder = Path("output") / self.name
        return self.model_copy(
            update={
                "clv": self.clv.model_copy(
                    update={"horizon": self.clv.horizon or self.churn.horizon}
                ),
                "mlflow": self.mlflow.model_copy(
                    update={
                        "experiment": self.mlflow.experiment or self.name,
                        "registered_model": self.mlflow.registered_model or self.name,
                    }
                ),
                "output": self.output.model_copy(
                    update={
                        "scores": self.output.scores or folder / "scores.parquet",
                        "report": self.output.report or folder / "report.html",
                    }
                ),
            }
        )


# --------------------------------------------------------------------------- loading


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ProjectConfig:
    """Read a YAML config, apply ``key.path=value`` overrides and validate it.

    Raises
    ------
    ConfigError
        The file is missing or not valid YAML, an override is malformed, or a setting is
        invalid; the message names the file and each key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML{_yaml_problem(exc)}") from None
    return parse_config(raw, overrides, base_dir=path.resolve().parent, source=str(path))


def parse_config(
    raw: Any,
    overrides: Sequence[str] = (),
    *,
    base_dir: str | Path | None = None,
    source: str = "config",
) -> ProjectConfig:
    """Validate a config given as a mapping (e.g. parsed YAML), after applying overrides.

    Relative data paths are resolved against `base_dir` when given; `source` names the
    config in error messages.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys to values, got {_show(raw)}"
        )
    raw = apply_overrides(raw, overrides)
    try:
        return ProjectConfig.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems = _problems(exc, raw, [o.partition("=")[0].strip() for o in overrides])
        raise ConfigError(
            f"{source}: invalid configuration:\n" + "\n".join(f"  {p}" for p in problems)
        ) from None


def apply_overrides(raw: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """A copy of `raw` with each ``key.path=value`` set; the value is read as YAML.

    A path may index lists as error messages name them (``actions.catalogue[0].cost=2``).
    Sections on the path are created when missing; validation then reports unknown keys.
    `raw` itself is not changed.
    """
    result = dict(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        steps = _key_steps(key)
        if not sep or steps is None:
            raise ConfigError(
                f"--set {item!r}: expected key.path=value, e.g. --set churn.horizon=13W"
            )
        try:
            value = _load_yaml(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"--set {key}: the value is not valid YAML{_yaml_problem(exc)}"
            ) from None
        node: Any = result
        for depth, step in enumerate(steps):
            where = _key_text(steps[: depth + 1])
            if isinstance(step, int):
                if not isinstance(node, list) or step >= len(node):
                    size = f"has {len(node)} item(s)" if isinstance(node, list) else "is no list"
                    raise ConfigError(f"--set {key}: {_key_text(steps[:depth])} {size}")
            elif isinstance(node, list):
                here = _key_text(steps[:depth])
                raise ConfigError(
                    f"--set {key}: {here} is a list; name an item, e.g. "
                    f"{_key_text([*steps[:depth], 0, *steps[depth:]])}"
                )
            elif not isinstance(node, dict):
                raise ConfigError(
                    f"--set {key}: {_key_text(steps[:depth])} is a value, not a section "
                    f"(it holds {_show(node)})"
                )
            if depth == len(steps) - 1:
                node[step] = value
                break
            child = node[step] if isinstance(step, int) else node.get(step)
            if isinstance(child, list):
                child = list(child)  # copies: the caller's mapping stays as it was
            elif child is None or isinstance(child, Mapping):
                child = dict(child or {})
            else:
                raise ConfigError(
                    f"--set {key}: {where} is a value, not a section (it holds {_show(child)})"
                )
            node[step] = child
            node = child
    return result


_KEY_PART = re.compile(r"([^.\[\]\s][^.\[\]]*?)\s*((?:\[\d+\])*)")


def _key_steps(key: str) -> list[str | int] | None:
    """``a.b[0].c`` as ``["a", "b", 0, "c"]``; None when malformed."""
    steps: list[str | int] = []
    for part in key.split("."):
        match = _KEY_PART.fullmatch(part.strip())
        if match is None:
            return None
        steps.append(match.group(1))
        steps += [int(index) for index in re.findall(r"\d+", match.group(2))]
    return steps


def _key_text(steps: Sequence[str | int]) -> str:
    """The inverse of `_key_steps`."""
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps).lstrip(".")


#: YAML 1.2's booleans: YAML 1.1 also reads yes/no/on/off/y/n, so a mapped column "No"
#: (an order number) would become the boolean false.
_BOOLEAN = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """`yaml.safe_load`'s loader, stricter: a key repeated in one mapping is an error, only
    true/false are booleans, and dates stay text, so that the schema parses them and names
    the key of an impossible one (2023-02-30) instead of the YAML library failing without a
    key path."""

    yaml_implicit_resolvers: ClassVar[dict[Any, list[Any]]] = {
        first: [
            (tag, _BOOLEAN if tag.endswith(":bool") else regexp)
            for tag, regexp in resolvers
            if not tag.endswith(":timestamp")
        ]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:  # keys as written; merged (<<) keys may be overridden
            if isinstance(key_node, yaml.ScalarNode) and not key_node.tag.endswith(":merge"):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key_node.value!r} appears twice in one mapping",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text: str) -> Any:
    """Parse YAML text safely (see `_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader: no arbitrary objects


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """' at line L, column C: problem' for a YAML error, without parser internals."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        return f" at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return f": {exc}"


# --------------------------------------------------------------------------- using a config


def load_tables(config: ProjectConfig) -> Tables:
    """The validated `Tables` the config's ``data`` section describes."""
    data = config.data
    connection = _connection(config)
    if isinstance(data.dataset, CdnowDataset):
        return load_cdnow(sample=data.dataset.sample, connection=connection)
    if isinstance(data.dataset, SyntheticDataset):
        d = data.dataset
        tables, _ = make_synthetic(
            d.customers,
            config.seed if d.seed is None else d.seed,
            start=d.start,
            end=d.end,
            with_interactions=d.with_interactions,
            with_customers=d.with_customers,
            with_campaigns=d.with_campaigns,
            cancellations=d.cancellations,
            connection=connection,
        )
        return tables
    mapping = {table: columns for table, columns in data.mapping.model_dump().items() if columns}
    return Tables(
        data.transactions,
        data.interactions,
        data.customers,
        mapping=mapping,
        event_types=data.event_types,
        duplicates=data.duplicates,
        plausible_range=data.plausible_range,
        connection=connection,
    )


def _connection(config: ProjectConfig) -> Connection | None:
    """The configured engine's connection: a Spark session, or None for a new DuckDB one."""
    if config.engine == "spark":
        return engine.connect("spark", master=config.spark.master, options=config.spark.options)
    return None


def load_training_tables(config: ProjectConfig) -> Tables:
    """`load_tables` for `cxml train`: on Spark, ``spark.sample`` of the customers, cached
    once read, and a `DriverMemoryWarning` when the training frames to collect look too big
    for memory."""
    tables = load_tables(config)
    if config.engine != "spark":
        return tables
    tables = tables.sample(config.spark.sample, config.seed).cache()
    cutoffs, _ = resolve_cutoffs(config, tables.observed_until, tables.observed_from)
    ids = tables.transactions.select(nw.col("customer_id").n_unique())
    customers = int(engine.collect(ids).iloc[0, 0])
    columns = len(plan(config.features, available_columns(tables)).outputs)
    # Every training cut-off and the holdout give at most one row per customer.
    engine.check_collect_size(customers * (len(cutoffs) + 1), columns, tables.connection)
    return tables


def resolve_cutoffs(
    config: ProjectConfig, observed_until: Any, observed_from: Any = None
) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """The training cut-offs and the holdout cut-off, as dates.

    Every label window ``[t, t + H)`` uses the longer of the churn and CLV horizons. The
    holdout cut-off ``"auto"`` is the latest day whose window ends by `observed_until`
    (exclusive, e.g. `Tables.observed_until`). Training windows must end by the holdout
    cut-off, so none overlaps the holdout window: a rolling rule puts its latest cut-off at
    the latest day allowed and steps back by ``every``; explicit dates are checked.

    Raises
    ------
    ConfigError
        A label window runs past the data or into the holdout window, or (when
        `observed_from`, the first event time, is given) a cut-off is not after it.
    """
    until = pd.Timestamp(as_cutoff(observed_until))
    horizons = [parse_horizon(config.churn.horizon), parse_horizon(config.clv.horizon)]
    horizon_text = " / ".join(dict.fromkeys([str(config.churn.horizon), str(config.clv.horizon)]))

    def latest_start(end: pd.Timestamp) -> pd.Timestamp:
        return min(end - h for h in horizons).normalize()

    def window_end(start: pd.Timestamp) -> pd.Timestamp:
        return max(start + h for h in horizons)

    training = config.training
    latest_holdout = latest_start(until)
    if training.holdout == "auto":
        holdout = latest_holdout
    else:
        holdout = pd.Timestamp(training.holdout)
        if holdout > latest_holdout:
            raise ConfigError(
                f"training.holdout: the {horizon_text} label window of {shown(holdout)} ends "
                f"{shown(window_end(holdout))}, after the data ends ({shown(until)}, "
                f'exclusive); use {shown(latest_holdout)} or earlier, or "auto"'
            )
    latest = latest_start(holdout)
    if isinstance(training.cutoffs, RollingCutoffs):
        step = parse_horizon(training.cutoffs.every)
        cutoffs = [latest - i * step for i in reversed(range(training.cutoffs.count))]
    else:
        cutoffs = [pd.Timestamp(day) for day in training.cutoffs]
        late = [c for c in cutoffs if c > latest]
        if late:
            raise ConfigError(
                f"training.cutoffs: the {horizon_text} label window of {shown(late[0])} ends "
                f"{shown(window_end(late[0]))}, after the holdout cut-off "
                f"{shown(holdout)}; training cut-offs must be {shown(latest)} or earlier"
            )
    if observed_from is not None:
        first = pd.Timestamp(as_cutoff(observed_from))
        if cutoffs[0] <= first:
            raise ConfigError(
                f"training.cutoffs: the earliest cut-off {shown(cutoffs[0])} is not after "
                f"the first event ({shown(first)}); the data ({shown(first)} to "
                f"{shown(until)}) is too short for these cut-offs with a {horizon_text} "
                "horizon and the holdout cut-off "
                f"{shown(holdout)}: use fewer or closer cut-offs, or a shorter horizon"
            )
    return cutoffs, holdout


def flatten(config: ProjectConfig) -> dict[str, str]:
    """Every setting as ``dotted.key -> text`` (e.g. MLflow params); values read back as YAML."""
    flat: dict[str, str] = {}

    def visit(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                visit(f"{prefix}.{key}" if prefix else key, item)
        else:
            text = yaml.safe_dump(value, default_flow_style=True, width=10**9)
            flat[prefix] = text.removesuffix("\n...\n").strip()

    visit("", _plain(config))
    return flat


def to_yaml(config: ProjectConfig) -> str:
    """The config as YAML text that `load_config` reads back to an equal config."""
    return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)


def dump(config: ProjectConfig, path: str | Path) -> None:
    """Write the config to a YAML file (see `to_yaml`)."""
    Path(path).write_text(to_yaml(config), encoding="utf-8")


def _plain(value: Any) -> Any:
    """A config as plain YAML-safe values (dates stay dates); unset settings are left out."""
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    return str(value) if isinstance(value, Path) else value


# --------------------------------------------------------------------------- error messages

#: What a setting must be, where the default wording of a failed check would be unclear.
_EXPECTED: dict[str, str] = {
    "features.time_unit": 'must be "D", "W" or a positive number of days',
    "features.windows": "must be a non-empty list of positive numbers of days",
    "clv.discount_rate": "must be an annual rate from 0 to 1, e.g. 0.1 for 10 %",
    "clv.coverage": "must be a probability strictly between 0 and 1, e.g. 0.8",
}
_BY_TYPE: dict[str, str] = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "string_too_short": "must not be empty",
    "path_type": "must be a file path",
    "dict_type": "must be a section of key: value pairs",
    "model_type": "must be a section of key: value pairs",
    "model_attributes_type": "must be a section of key: value pairs",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
}
_NO_VALUE = ("missing", "extra_forbidden", "union_tag_not_found")


def _problems(exc: ValidationError, raw: Mapping[str, Any], overridden: Sequence[str]) -> list[str]:
    """One line per problem: ``key.path: what was expected, got value``."""
    lines: dict[str, str] = {}
    for error in exc.errors():
        kind, ctx = error["type"], error.get("ctx", {})
        path = _key_path(error["loc"], raw, kind == "missing")
        value = error["input"]
        if kind == "config":
            path = ".".join(p for p in (path, ctx["key"]) if p)
            expected, value = ctx["expected"], ctx.get("value", ...)
        elif kind.startswith("union_tag"):
            models, _ = _field_models(path, raw)
            choices = _quoted([name for model in models for name in _names(model)])
            path += "." + ctx["discriminator"].strip("'")
            expected = (
                f"is required (one of {choices})"
                if kind == "union_tag_not_found"
                else f"must be one of {choices}"
            )
            value = ctx.get("tag", ...)
        elif kind == "extra_forbidden":
            expected = f"unknown key (allowed: {', '.join(_allowed_keys(path, raw))})"
        elif path in _EXPECTED:
            expected = _EXPECTED[path]
        elif kind == "value_error":
            expected = str(ctx["error"])
        elif kind == "literal_error":
            expected = f"must be one of {_quoted(_choices(ctx['expected']))}"
        elif kind == "missing":
            expected = "is required"
        else:
            expected = _BY_TYPE.get(kind, error["msg"]).format(**ctx)
        line = f"{path}: {expected}"
        if kind not in _NO_VALUE and value is not ...:
            line += f", got {_show(value)}"
        if any(
            key == path or key.startswith(path + ".") or path.startswith((key + ".", key + "["))
            for key in overridden
        ):
            line += " (from --set)"
        lines[path] = line  # union members fail separately: one line per setting
    return list(lines.values())


def _key_path(loc: tuple[int | str, ...], raw: Any, missing: bool) -> str:
    """The dotted key path of an error location, following the raw input.

    pydantic adds labels for union members (a dataset's name, "rolling", "float"); they
    are not keys of the input and are left out.
    """
    path, node = "", raw
    for i, item in enumerate(loc):
        if isinstance(node, list) and isinstance(item, int):
            path += f"[{item}]"
            node = node[item] if item < len(node) else None
        elif isinstance(node, Mapping) and (item in node or (missing and i == len(loc) - 1)):
            path = f"{path}.{item}" if path else str(item)
            node = node.get(item)
    return path


def _field_models(path: str, raw: Any) -> tuple[list[type[BaseModel]], Any]:
    """The model classes the setting at dotted `path` may be, and its raw value."""
    models: list[type[BaseModel]] = [ProjectConfig]
    node = raw
    for key in path.split(".") if path else []:
        name = key.partition("[")[0]  # "catalogue[0]": an item of a list setting
        model = _pick(models, node)
        field = model.model_fields.get(name) if model else None
        if field is None:
            return [], None
        models = _models_of(field.annotation)
        node = node.get(name) if isinstance(node, Mapping) else None
        for index in map(int, re.findall(r"\[(\d+)\]", key)):
            node = node[index] if isinstance(node, list) and index < len(node) else None
    return models, node


def _models_of(annotation: Any) -> list[type[BaseModel]]:
    """The model classes in an annotation (through Annotated, unions and Optional)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _models_of(args[0])
    if origin in (Union, types.UnionType, list, tuple):
        return [model for arg in args for model in _models_of(arg)]
    return (
        [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
    )


def _pick(models: Sequence[type[BaseModel]], node: Any) -> type[BaseModel] | None:
    """The only model, or the dataset model whose name the raw section gives."""
    if len(models) == 1:
        return models[0]
    name = node.get("name") if isinstance(node, Mapping) else None
    return next((m for m in models if _names(m) == [name]), None)


def _names(model: type[BaseModel]) -> list[str]:
    """The values the ``name`` field of a dataset model allows."""
    return list(get_args(model.model_fields["name"].annotation))


def _allowed_keys(path: str, raw: Any) -> list[str]:
    """The keys of the section that holds the unknown key at `path`."""
    model = _pick(*_field_models(path.rpartition(".")[0], raw))
    return sorted(model.model_fields) if model else []


def _choices(expected: str) -> list[str]:
    """The quoted choices in pydantic's "'a', 'b' or 'c'"."""
    return re.findall(r"'([^']*)'", expected)


def _quoted(choices: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in choices)


def _show(value: Any) -> str:
    """A value as it would read in YAML-ish text, shortened."""
    if isinstance(value, dt.date):
        return value.isoformat()
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."
