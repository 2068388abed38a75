"""`build_snapshot`: one point-in-time row per customer from the catalogue's features."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeAlias

import narwhals as nw
import pandas as pd

from cxml.data import CUSTOMERS, Tables
from cxml.data.engine import collect
from cxml.data.sums import exact_mean, exact_std, exact_sum
from cxml.dates import shown
from cxml.errors import DataValidationError, ParameterError, SnapshotError
from cxml.features import sources
from cxml.features.catalogue import Context, Metric, Plan, plan
from cxml.features.spec import CUTOFF, LABELS, FeatureSpec, as_cutoff

#: What the builders return: pandas (collected), the lazy narwhals frame, or the engine's
#: own lazy frame (a Spark DataFrame or a DuckDB relation).
Output: TypeAlias = Literal["pandas", "lazy", "native"]

#: Aggregates computed exactly, so that a snapshot does not depend on the engine's order
#: of addition (`cxml.data.sums`).
EXACT = {"sum": exact_sum, "mean": exact_mean, "std": exact_std}


def _aggregate(metric: Metric, ctx: Context) -> nw.Expr:
    """The narwhals aggregation of one metric."""
    cond = metric.where(ctx) if metric.where else None
    if metric.window is not None:
        start, end = metric.window
        in_window = (nw.col("t") >= ctx.cutoff - end) & (nw.col("t") < ctx.cutoff - start)
        cond = in_window if cond is None else cond & in_window
    if metric.agg == "count":
        # Counting non-null markers is cheaper for the engine than summing cast booleans.
        expr = nw.len() if cond is None else nw.when(cond).then(1).count()
        return expr.alias(metric.name)
    assert metric.column is not None
    value = nw.col(metric.column)
    if metric.column == "resolved_first_contact":
        value = value.cast(nw.Float64)
    if cond is not None:
        value = nw.when(cond).then(value)
    if metric.agg == "n_unique":
        # n_unique counts null as a value; rows filtered out by `cond` are null.
        expr = value.n_unique() - value.is_null().cast(nw.Int64).max()
    elif metric.agg in EXACT:
        expr = EXACT[metric.agg](value)
    else:
        expr = getattr(value, metric.agg)()
    return expr.alias(metric.name)


def available_columns(tables: Tables) -> dict[str, list[str]]:
    """Table name -> its columns, for the tables present."""
    return {name: frame.collect_schema().names() for name, frame in tables.frames().items()}


def _attribute_sources(tables: Tables, spec: FeatureSpec) -> dict[str, bool]:
    """The customers-table columns a snapshot passes through -> whether each is a date."""
    if tables.customers is None or "attributes" not in spec.groups:
        return {}
    schema = tables.customers.collect_schema()
    return {
        name: isinstance(dtype, nw.Datetime | nw.Date)
        for name, dtype in schema.items()
        if name not in CUSTOMERS.names
    }


def _attribute_name(column: str, dated: bool) -> str:
    return f"days_since_{column}" if dated else column


def attribute_columns(tables: Tables, spec: FeatureSpec) -> list[str]:
    """The snapshot columns of the customers table's attributes: each column as is, but a
    date column ``x`` as ``days_since_x``. A column named like the one derived from a date
    column is refused (DataValidationError): one would overwrite the other."""
    columns = _attribute_sources(tables, spec)
    names = [_attribute_name(c, dated) for c, dated in columns.items()]
    for column, dated in columns.items():
        if dated and _attribute_name(column, dated) in columns:
            raise DataValidationError(
                "customers",
                _attribute_name(column, dated),
                f"the name of the column cxml derives from the date column '{column}'",
                "rename one of the two columns in the source, or leave one out",
            )
    return names


def _attributes(tables: Tables, spec: FeatureSpec, cutoff: dt.datetime) -> list[nw.Expr]:
    """The attribute columns at `cutoff`. A date becomes the days from it to the cut-off,
    null while it is still to come (a 'paid_start' after the cut-off was not known then)."""
    now = sources.to_days(cutoff)
    return [
        nw.when(nw.col(c) < cutoff)
        .then(now - sources.days_since_epoch(c))
        .alias(_attribute_name(c, dated))
        if dated
        else nw.col(c)
        for c, dated in _attribute_sources(tables, spec).items()
    ]


def _check_attribute_names(attributes: list[str], todo: Plan) -> None:
    """DataValidationError for a customers column named like a feature (internal ones too),
    a label or the cut-off: it would replace what cxml computes (a column 'churned' would
    become the label)."""
    internal = {m.name for m in todo.metrics} | {d.name for level in todo.derived for d in level}
    taken = {*internal, *todo.outputs, *LABELS, CUTOFF, sources.SIGNUP_T}
    for name in attributes:
        if name in taken:
            what = (
                "label"
                if name in LABELS
                else "feature"
                if name in todo.outputs
                else "column"  # the cut-off, or an internal step of a feature
            )
            raise DataValidationError(
                "customers",
                name,
                f"the name of a {what} cxml computes",
                "rename the column in the source, or leave it out",
            )


def snapshot_columns(tables: Tables, spec: FeatureSpec) -> tuple[list[str], list[str]]:
    """The feature and the attribute columns a snapshot of `tables` will have, with the
    attribute names checked as `build_snapshot` checks them (DataValidationError)."""
    todo, attributes = _checked_plan(tables, spec)
    return list(todo.outputs), attributes


def _checked_plan(tables: Tables, spec: FeatureSpec) -> tuple[Plan, list[str]]:
    """The feature plan for `tables` and the attribute columns, their names checked."""
    todo = plan(spec, available_columns(tables))
    attributes = attribute_columns(tables, spec)
    _check_attribute_names(attributes, todo)
    return todo, attributes


def nobody_seen(cutoff: Any) -> SnapshotError:
    """The error for a scoring date before any customer is seen."""
    return SnapshotError(
        f"no customer is seen before {shown(as_cutoff(cutoff))}: the data starts later; "
        "choose a later date"
    )


def snapshot_frame(
    tables: Tables, cutoff: dt.datetime, spec: FeatureSpec, undated_customers: bool = False
) -> nw.LazyFrame:
    """The lazy snapshot: customer_id and the feature columns (`build_snapshot`)."""
    todo, attributes = _checked_plan(tables, spec)
    ctx = Context(cutoff=sources.to_days(cutoff), unit=spec.unit_days)
    frame = sources.population(tables, cutoff, undated_customers)
    by_source: dict[str, list[Metric]] = {}
    for metric in todo.metrics:
        by_source.setdefault(metric.source, []).append(metric)
    zero_fill: list[str] = []
    for source, metrics in by_source.items():
        rows = sources.SOURCES[source](tables, cutoff)
        aggregated = rows.group_by("customer_id").agg(*(_aggregate(m, ctx) for m in metrics))
        frame = frame.join(aggregated, on="customer_id", how="left")
        zero_fill += [m.name for m in metrics if m.fills_zero]
    if zero_fill:
        frame = frame.with_columns(nw.col(c).fill_null(0) for c in zero_fill)
    for level in todo.derived:
        frame = frame.with_columns(d.expr(ctx).alias(d.name) for d in level)
    if attributes:
        frame = frame.join(
            sources.customers(tables, cutoff).select(
                "customer_id", *_attributes(tables, spec, cutoff)
            ),
            on="customer_id",
            how="left",
        )
    return frame.select("customer_id", *todo.outputs, *attributes)


def build_snapshot(
    tables: Tables,
    cutoff: Any,
    spec: FeatureSpec | None = None,
    *,
    output: Output = "pandas",
    undated_customers: bool = False,
) -> Any:
    """One row per customer first seen before `cutoff`, indexed by ``customer_id``.

    Only events with ``timestamp < cutoff`` influence a row. Columns follow the feature
    catalogue (`cxml.features.catalogue`) for the groups in `spec`, followed by the
    customers table's attributes; text columns become pandas categoricals.

    Parameters
    ----------
    tables
        Validated customer histories.
    cutoff
        The point in time (date, datetime or ISO text; tz-aware values are converted to UTC).
    spec
        Feature groups, windows, BTYD time unit and event types; defaults to everything.
    output
        ``"pandas"`` (default), ``"lazy"`` for the un-executed narwhals frame, or
        ``"native"`` for the engine's own (a Spark DataFrame on Spark-backed tables);
        the lazy forms have ``customer_id`` as a column and engine types.
    undated_customers
        Also give a row to every customers-table row without a signup date (or every row
        when the table has no ``signup_date``): for scoring the present, where every input
        customer must appear. Off for past cut-offs, where they may not have been customers
        yet (training frames and labels leave them out).
    """
    spec = spec or FeatureSpec()
    frame = snapshot_frame(tables, as_cutoff(cutoff), spec, undated_customers)
    return as_output(frame, output, to_pandas)


def as_output(frame: nw.LazyFrame, output: Output, to_pandas: Any) -> Any:
    """`frame` as asked for; `to_pandas` collects it."""
    if output == "lazy":
        return frame
    if output == "native":
        return frame.to_native()
    if output == "pandas":
        return to_pandas(frame)
    raise ParameterError(f"output must be 'pandas', 'lazy' or 'native', got {output!r}")


def to_pandas(frame: nw.LazyFrame) -> pd.DataFrame:
    """Collect a snapshot-shaped frame: sorted, indexed by customer_id, text as categoricals,
    numbers as float64 (a count is whole until some customer lacks it: one type for both)."""
    schema = frame.collect_schema()
    counts = [c for c, t in schema.items() if c != "customer_id" and t.is_integer()]
    # Cast on the engine: converting columns one by one in pandas fragments wide frames.
    frame = frame.with_columns(nw.col(*counts).cast(nw.Float64)) if counts else frame
    result = collect(frame.sort("customer_id")).set_index("customer_id")
    for col, dtype in result.dtypes.items():
        if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
            result[col] = result[col].astype("category")
    return result
