"""Validation at the edge: the declared rules of the data contract, counted in one pass.

Each rule marks the rows that break it with a narwhals predicate. All rules of a table are
counted in a single aggregate query; offending rows are fetched only for a failing rule, and
the first failing rule raises a `DataValidationError` naming the table, the column, the rule
and up to five offending rows.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import narwhals as nw
import pandas as pd

from cxml.data.contract import EVENT_TYPES, SURVEY_RANGES, Kind, TableSchema
from cxml.data.engine import (
    RAW_PREFIX,
    TZ_SUFFIX,
    Connection,
    collect,
    distinct,
    empty_table,
    rows_with_repeated_hash,
)
from cxml.dates import shown
from cxml.errors import DataValidationError

DuplicatePolicy = Literal["error", "keep", "drop"]
MAX_EXAMPLES = 5
#: The transactions may end this many days before another table without a warning.
QUIET_DAYS = 7
#: A silence at the end of the transactions this unlikely at their recent rate is no chance.
SILENCE_CHANCE = 1e-3
#: Largest amount in size: sums count millionths in 64-bit integers (`cxml.data.sums`).
AMOUNT_LIMIT = 1e15


class DataQualityWarning(UserWarning):
    """Input that is allowed but worth a look (e.g. interaction ids with no customer)."""


@dataclass(frozen=True)
class Scope:
    """What rules depend on besides the rows: the plausible time range (naive UTC)."""

    earliest: dt.datetime
    latest: dt.datetime


@dataclass(frozen=True)
class Rule:
    """A named check on one column; rows where `offending` is true break it.

    `description` may use ``{earliest}`` and ``{latest}``. A rule is skipped when its column or
    one of `reads` is absent. With `conflicts_with`, the rule fails only when rows of both
    kinds exist (e.g. timestamps with and without a time zone).
    """

    tables: tuple[str, ...]
    column: str
    description: str
    offending: Callable[[Scope], nw.Expr]
    hint: str = ""
    reads: tuple[str, ...] = ()
    conflicts_with: Callable[[Scope], nw.Expr] | None = None

    def text(self, scope: Scope) -> str:
        """The description with the time range filled in."""
        return self.description.format(
            earliest=f"{scope.earliest:%Y-%m-%d}", latest=f"{scope.latest:%Y-%m-%d}"
        )


def _not_finite(column: str) -> nw.Expr:
    c = nw.col(column)
    return c.is_nan() | ~c.is_finite()


def _is_return() -> nw.Expr:
    return nw.col("is_return").fill_null(False)


def _given_and_not_finite(column: str) -> nw.Expr:
    return ~nw.col(column).is_null() & _not_finite(column)


def _mixed_time_zones(column: str, tables: tuple[str, ...]) -> Rule:
    raw = nw.col(RAW_PREFIX + column)
    with_zone = raw.str.contains(TZ_SUFFIX)
    return Rule(
        tables,
        column,
        "mixed time zones: some values carry a UTC offset or zone, others do not",
        lambda _: ~raw.is_null() & ~with_zone,
        "give every value an offset (converted to UTC) or none (taken as UTC)",
        reads=(RAW_PREFIX + column,),
        conflicts_with=lambda _: ~raw.is_null() & with_zone,
    )


def _time_range(column: str, label: str, tables: tuple[str, ...]) -> Rule:
    c = nw.col(column)
    return Rule(
        tables,
        column,
        f"{label} outside the plausible range [{{earliest}}, {{latest}}]",
        lambda s: (c < s.earliest) | (c > s.latest),
        "check the unit and format of the values, or widen the plausible range "
        "(data.plausible_range in a config, plausible_range= of Tables)",
    )


def _survey_range(event_type: str, low: float, high: float) -> Rule:
    value = nw.col("value")
    return Rule(
        ("interactions",),
        "value",
        f"'{event_type}' answers must be given as whole points from {low:g} to {high:g}",
        lambda _: (
            (nw.col("event_type") == event_type)
            & (value.is_null() | (value < low) | (value > high) | (value.round(0) != value))
        ),
        "check the survey scale (answers are points on it, not averages), or map this event "
        "onto another event type",
    )


_EVENTS = ("transactions", "interactions")
_ALL = ("transactions", "interactions", "customers")

#: The contract's rules, in the order they are reported (after unparseable values).
RULES: tuple[Rule, ...] = (
    Rule(
        _ALL,
        "customer_id",
        "null or blank customer ids",
        lambda _: nw.col("customer_id").is_null(),
        "every row needs a customer id; drop or fill these rows",
    ),
    Rule(
        _EVENTS,
        "timestamp",
        "null timestamps",
        lambda _: nw.col("timestamp").is_null(),
        "every event needs a time; drop or fill these rows",
    ),
    _mixed_time_zones("timestamp", _EVENTS),
    _time_range("timestamp", "timestamps", _EVENTS),
    _mixed_time_zones("signup_date", ("customers",)),
    _time_range("signup_date", "signup dates", ("customers",)),
    Rule(
        ("transactions",),
        "amount",
        "amounts must be finite numbers (no null, NaN or inf)",
        lambda _: nw.col("amount").is_null() | _not_finite("amount"),
        "drop these rows or fill in the amount",
    ),
    Rule(
        ("transactions",),
        "amount",
        f"amounts must be below {AMOUNT_LIMIT:.0e} in size (they are added exactly, in millionths)",
        lambda _: nw.col("amount").abs() >= AMOUNT_LIMIT,
        "check the amount column's unit and parsing: no sale is worth that much",
    ),
    Rule(
        ("transactions",),
        "amount",
        "negative amounts must be flagged as returns",
        lambda _: (nw.col("amount") < 0) & ~_is_return(),
        "set is_return=True on refund lines (their amount may be negative or positive)",
        reads=("is_return",),
    ),
    Rule(
        ("transactions",),
        "quantity",
        "quantities must be finite and >= 0 where given (negative only on returns)",
        lambda _: _given_and_not_finite("quantity") | ((nw.col("quantity") < 0) & ~_is_return()),
        "set is_return=True on returned lines, or fix the quantity",
        reads=("is_return",),
    ),
    Rule(
        ("transactions",),
        "discount",
        "discounts must be finite and >= 0 where given",
        lambda _: _given_and_not_finite("discount") | (nw.col("discount") < 0),
        "give discounts as the positive amount taken off the line",
    ),
    Rule(
        ("interactions",),
        "event_type",
        "null or blank event types",
        lambda _: nw.col("event_type").is_null() | (nw.col("event_type") == ""),
        "every interaction needs an event type; see cxml.data.EVENT_TYPES",
    ),
    Rule(
        ("interactions",),
        "value",
        "values must be finite where given (no NaN or inf)",
        lambda _: _given_and_not_finite("value"),
        "leave the value empty (null) when there is none",
    ),
    *(_survey_range(event, low, high) for event, (low, high) in SURVEY_RANGES.items()),
)

_PARSE_HINTS: dict[Kind, str] = {
    "id": "ids given as numbers must be whole numbers; pass other ids as text",
    "float": "write plain numbers such as 12.5 (no currency signs or thousands separators)",
    "bool": "write true/false or 1/0",
    "timestamp": "write ISO 8601 (2024-03-01, 2024-03-01T12:30:00+01:00) or pass datetimes",
}


def _unparseable(table: str, column: str, kind: Kind) -> Rule:
    raw = nw.col(RAW_PREFIX + column)
    return Rule(
        (table,),
        column,
        f"unparseable values: expected {kind}",
        lambda _: ~raw.is_null() & nw.col(column).is_null(),
        _PARSE_HINTS[kind],
        reads=(RAW_PREFIX + column,),
    )


def rules_for(
    schema: TableSchema, columns: Sequence[str], parsed: Mapping[str, Kind]
) -> list[Rule]:
    """The ordered rules for a table with these columns; `parsed` are columns cast from text."""
    rules = [_unparseable(schema.name, col, kind) for col, kind in parsed.items()]
    rules += [
        r
        for r in RULES
        if schema.name in r.tables and all(c in columns for c in (r.column, *r.reads))
    ]
    return rules


def _count(predicate: nw.Expr) -> nw.Expr:
    """Rows where `predicate` is true (a sum skips nulls, so no per-row fill is needed)."""
    return predicate.cast(nw.Int64).sum()


def check_rules(
    frame: nw.LazyFrame,
    rules: Sequence[Rule],
    scope: Scope,
    table: str,
    summary: Mapping[str, nw.Expr] | None = None,
) -> dict[str, Any]:
    """Count every rule in one aggregate query and raise on the first that fails.

    Also raises when the table has no rows. `summary` names further aggregates computed in
    the same pass; their values are returned.
    """
    summary = dict(summary or {})
    exprs = [nw.len().alias("__rows"), *(e.alias(k) for k, e in summary.items())]
    for i, rule in enumerate(rules):
        exprs.append(_count(rule.offending(scope)).alias(f"__rule{i}"))
        if rule.conflicts_with is not None:
            exprs.append(_count(rule.conflicts_with(scope)).alias(f"__conflict{i}"))
    row = collect(frame.select(exprs)).iloc[0]
    if not _as_int(row["__rows"]):
        raise empty_table(table)
    failing = [
        (rule, _as_int(row[f"__rule{i}"]))
        for i, rule in enumerate(rules)
        if _as_int(row[f"__rule{i}"])
        and (rule.conflicts_with is None or _as_int(row[f"__conflict{i}"]))
    ]
    if failing:
        raise _failure(frame, failing, scope, table)
    return {k: row[k] for k in summary}


def _failure(
    frame: nw.LazyFrame, failing: Sequence[tuple[Rule, int]], scope: Scope, table: str
) -> DataValidationError:
    """The error for the first failing rule, with its offending rows fetched now."""
    rule, n = failing[0]
    columns = _example_columns(frame, rule)
    detail = f"{n} offending row(s); first {min(n, MAX_EXAMPLES)}:\n"
    detail += _examples(frame, rule.offending(scope), columns)
    if rule.conflicts_with is not None:
        detail += "\nconflicting with rows such as:\n"
        detail += _examples(frame, rule.conflicts_with(scope), columns, limit=1)
    if rule.hint:
        detail += f"\nhint: {rule.hint}"
    # Rules on the same column mostly repeat the first (an unparseable amount is null).
    others = [(r, k) for r, k in failing if r.column != rule.column]
    if others:
        also = "; ".join(f"{r.column}: {r.text(scope)} ({k} rows)" for r, k in others)
        detail += f"\nalso failing: {also}"
    return DataValidationError(table, rule.column, rule.text(scope), detail)


def _as_int(value: Any) -> int:
    return 0 if pd.isna(value) else int(value)


def _example_columns(frame: nw.LazyFrame, rule: Rule) -> list[str]:
    present = frame.collect_schema().names()
    wanted = ["customer_id", "timestamp", "event_type", rule.column, *rule.reads]
    return [c for c in dict.fromkeys(wanted) if c in present]


def _examples(
    frame: nw.LazyFrame, predicate: nw.Expr, columns: Sequence[str], limit: int = MAX_EXAMPLES
) -> str:
    rows = collect(frame.filter(predicate.fill_null(False)).select(columns).head(limit))
    return _render(rows)


def _render(rows: pd.DataFrame) -> str:
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        return rows.to_string(index=False)


def check_required(columns: Sequence[str], schema: TableSchema) -> None:
    """Raise when a required column is missing, suggesting a mapping for near-matches."""
    missing = [c for c in schema.required if c not in columns]
    if not missing:
        return
    near = {
        src: target
        for target in missing
        for src in columns
        if _loose(src) == _loose(target) or _loose(src) in _ALIASES.get(target, ())
    }
    hint = (
        f"pass mapping={{'{schema.name}': {near}}} (in a config: data.mapping.{schema.name})"
        if near
        else f"map your columns onto the contract with mapping={{'{schema.name}': {{...}}}} "
        f"(in a config: data.mapping.{schema.name})"
    )
    raise DataValidationError(
        schema.name,
        missing[0],
        f"missing required column(s) {missing}",
        f"columns present: {list(columns)}\nhint: {hint}",
    )


_ALIASES = {
    "customer_id": ("customer", "customerid", "cust", "custid", "clientid", "userid"),
    "timestamp": ("ts", "time", "date", "datetime", "eventtime", "orderdate", "invoicedate"),
    "amount": ("value", "revenue", "total", "price", "sales"),
    "event_type": ("event", "type", "eventname"),
}


def _loose(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def apply_duplicate_policy(
    frame: nw.LazyFrame, policy: DuplicatePolicy, table: str, con: Connection
) -> nw.LazyFrame:
    """Raise on, drop or keep rows that are exact copies of another row."""
    if policy == "keep":
        return frame
    extra, examples = _repeats(frame, frame.collect_schema().names(), con)
    if not extra:
        return frame
    if policy == "drop":
        return distinct(frame)
    raise DataValidationError(
        table,
        None,
        "duplicate rows",
        f"{extra} row(s) repeat another row exactly on every column cxml reads (columns "
        f"outside the data contract, such as a line id, are not read); repeated rows:\n"
        f"{examples}\n"
        "hint: pass duplicates='drop' to drop exact copies, or duplicates='keep' if repeated "
        "identical lines are genuine, e.g. two items of one order at one price (in a config: "
        "data.duplicates)",
    )


def check_unique(frame: nw.LazyFrame, column: str, table: str, con: Connection) -> None:
    """Raise when a value of `column` occurs on more than one row."""
    extra, examples = _repeats(frame, [column], con)
    if extra:
        raise DataValidationError(
            table,
            column,
            f"duplicate {column}s: each may occur on one row only",
            f"{extra} row(s) repeat a {column}; repeated values:\n{examples}\n"
            "hint: keep one row per customer",
        )


def _repeats(frame: nw.LazyFrame, subset: list[str], con: Connection) -> tuple[int, str]:
    """How many rows repeat an earlier one on `subset`; examples only when there are any.

    Only rows whose 64-bit hash of `subset` repeats are compared exactly.
    """
    candidates = rows_with_repeated_hash(frame, subset, con)
    if candidates is None:
        return 0, ""
    groups = candidates.group_by(subset).agg(nw.len().alias("copies"))
    groups = groups.filter(nw.col("copies") > 1)
    extra = _as_int(collect(groups.select((nw.col("copies") - 1).sum())).iloc[0, 0])
    if not extra:
        return 0, ""
    return extra, _render(collect(groups.sort(subset).head(MAX_EXAMPLES)))


def report_orphans(
    table: str, frame: nw.LazyFrame, known: nw.LazyFrame, elsewhere: str
) -> str | None:
    """Warn (not fail) when ids of `table` are not among the `known` ids of the other
    tables; `elsewhere` says which (e.g. "not in customers")."""
    orphans = frame.select("customer_id").unique().join(known, on="customer_id", how="anti")
    n = _as_int(collect(orphans.select(nw.len())).iloc[0, 0])
    if not n:
        return None
    sample = collect(orphans.sort("customer_id").head(MAX_EXAMPLES))["customer_id"].tolist()
    message = (
        f"table {table!r}, column 'customer_id': {n} customer id(s) occur in {table} but "
        f"{elsewhere} (kept), e.g. {sample}; ids written differently (1, 0001, 1.0) are "
        "different customers"
    )
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return message


def report_miscased_events(found: Collection[str]) -> str | None:
    """Warn (not fail) about interaction event types (`found`) that differ from a canonical
    one only in case ("Cancellation", "NPS"): they are other, custom types, so they count
    neither as that event nor against its rules."""
    near = {e: e.lower() for e in found if e not in EVENT_TYPES and e.lower() in EVENT_TYPES}
    if not near:
        return None
    message = (
        f"table 'interactions', column 'event_type': {len(near)} event type(s) differ from a "
        f"canonical one only in case and are kept as custom types: {dict(sorted(near.items()))}"
        "; map them with event_types (data.event_types in a config) to read them as such"
    )
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return message


def report_unused_event_types(event_types: Mapping[str, str], found: Collection[str]) -> str | None:
    """Warn (not fail) about `event_types` entries whose canonical type occurs in no
    interaction (`found`): their own type is absent too, misspelt perhaps."""
    unused = {k: v for k, v in event_types.items() if v not in found}
    if not unused:
        return None
    message = (
        f"table 'interactions', column 'event_type': event_types maps {unused}, but no "
        "interaction has these types; check their spelling against the data"
    )
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return message


def report_early_end(
    transactions: nw.LazyFrame, spans: Mapping[str, tuple[Any, Any]]
) -> str | None:
    """Warn (not fail) when the transactions end well before another table ends: every
    label window after their end would count every customer as churned. Well before is at
    least `QUIET_DAYS` days, and a silence that the transactions' rate over the 90 days
    before their end makes less likely than `SILENCE_CHANCE` (Poisson)."""
    ends = {t: pd.Timestamp(last) for t, (_, last) in spans.items() if last is not None}
    first, last = (pd.Timestamp(x) for x in spans["transactions"])
    table = max(ends, key=ends.__getitem__)
    gap = (ends[table] - last) / pd.Timedelta(days=1)
    if gap < QUIET_DAYS:
        return None
    since = max(first, last - pd.Timedelta(days=90))
    recent = transactions.filter(nw.col("timestamp") > since.to_pydatetime())
    per_day = _as_int(collect(recent.select(nw.len())).iloc[0, 0]) / max(
        (last - since) / pd.Timedelta(days=1), 1.0
    )
    if per_day * gap < -math.log(SILENCE_CHANCE):
        return None
    message = (
        f"table 'transactions', column 'timestamp': the transactions end {shown(last)}, "
        f"{gap:.0f} days before the {table} table ({shown(ends[table])}), after "
        f"{per_day:.1f} lines a day: was the export cut short? Every label window after "
        f"{shown(last)} would count every customer as churned"
    )
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return message
