"""Validation at the edge: each rule is a narwhals predicate that marks offending rows.

All rules of a table are counted in one pass; the first rule that fails raises a
`DataValidationError` naming the table, the column, the rule and up to five offending rows.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import narwhals as nw
import pandas as pd

from cxml.data.contract import SURVEY_RANGES, TableSchema
from cxml.data.engine import RAW_PREFIX, collect
from cxml.errors import DataValidationError

DuplicatePolicy = Literal["error", "keep", "drop"]
MAX_EXAMPLES = 5


class DataQualityWarning(UserWarning):
    """Input that is allowed but worth a look (e.g. interaction ids with no customer)."""


@dataclass(frozen=True)
class Rule:
    """A named check: rows where `offending` is true break it."""

    column: str
    description: str
    offending: Callable[[list[str]], nw.Expr]
    hint: str = ""


def _is_bad_float(col: str) -> nw.Expr:
    c = nw.col(col)
    return c.is_null() | c.is_nan() | ~c.is_finite()


def rules_for(schema: TableSchema, columns: Sequence[str], time_range: tuple[dt.datetime, dt.datetime]) -> list[Rule]:
    """The ordered rules that apply to a table with these (coerced) columns."""
    rules: list[Rule] = []
    for col in columns:
        if col.startswith(RAW_PREFIX):
            target = col[len(RAW_PREFIX):]
            kind = schema.column(target).kind
            rules.append(Rule(
                target, f"unparseable values: expected {kind}",
                lambda cols, c=col, t=target: ~nw.col(c).is_null() & nw.col(t).is_null(),
                "fix or drop these values before loading",
            ))
    rules.append(Rule("customer_id", "null customer ids", lambda cols: nw.col("customer_id").is_null()))
    if "timestamp" in columns:
        rules.append(Rule("timestamp", "null timestamps", lambda cols: nw.col("timestamp").is_null()))
        lo, hi = time_range
        rules.append(Rule(
            "timestamp", f"timestamps outside the plausible range [{lo:%Y-%m-%d}, {hi:%Y-%m-%d}]",
            lambda cols: (nw.col("timestamp") < lo) | (nw.col("timestamp") > hi),
            "check the unit or format of the timestamps, or widen `plausible_range`",
        ))
    if "signup_date" in columns:
        lo, hi = time_range
        rules.append(Rule(
            "signup_date", f"signup dates outside the plausible range [{lo:%Y-%m-%d}, {hi:%Y-%m-%d}]",
            lambda cols: (nw.col("signup_date") < lo) | (nw.col("signup_date") > hi),
        ))
    if schema.name == "transactions":
        rules.append(Rule("amount", "amounts must be finite numbers (no null, NaN or inf)",
                          lambda cols: _is_bad_float("amount")))
        rules.append(Rule(
            "amount", "negative amounts must be flagged as returns",
            lambda cols: (nw.col("amount") < 0) & (~nw.col("is_return").fill_null(False)
                                                   if "is_return" in cols else nw.lit(True)),
            "set is_return=True on refund lines (their amount may be given as negative or positive)",
        ))
        for opt in ("quantity", "discount"):
            if opt in columns:
                rules.append(Rule(opt, f"{opt} must be a finite number >= 0 where given", 
                                  lambda cols, o=opt: ~nw.col(o).is_null() & (nw.col(o).is_nan() | ~nw.col(o).is_finite() | (nw.col(o) < 0))))
    if schema.name == "interactions":
        rules.append(Rule("event_type", "null or empty event types",
                          lambda cols: nw.col("event_type").is_null() | (nw.col("event_type").str.strip_chars() == "")))
        if "value" in columns:
            rules.append(Rule("value", "values must be finite where given",
                              lambda cols: ~nw.col("value").is_null() & (nw.col("value").is_nan() | ~nw.col("value").is_finite())))
            for etype, (lo_v, hi_v) in SURVEY_RANGES.items():
                rules.append(Rule(
                    "value", f"'{etype}' answers must lie in [{lo_v:g}, {hi_v:g}]",
                    lambda cols, e=etype, a=lo_v, b=hi_v: (nw.col("event_type") == e) & (
                        nw.col("value").is_null() | (nw.col("value") < a) | (nw.col("value") > b)),
                ))
    return rules


def _examples(frame: nw.LazyFrame, predicate: nw.Expr) -> str:
    rows = collect(frame.filter(predicate).head(MAX_EXAMPLES))
    rows = rows[[c for c in rows.columns if not c.startswith(RAW_PREFIX)] + [c for c in rows.columns if c.startswith(RAW_PREFIX)]]
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        return rows.to_string(index=False)


def check_rules(frame: nw.LazyFrame, rules: Sequence[Rule], table: str) -> None:
    """Count every rule in one pass and raise on the first one that fails."""
    cols = frame.collect_schema().names()
    exprs = [r.offending(cols).fill_null(False).cast(nw.Int64).sum().alias(f"r{i}") for i, r in enumerate(rules)]
    counts = collect(frame.select(exprs)).iloc[0]
    for i, rule in enumerate(rules):
        n = int(counts[f"r{i}"])
        if n:
            detail = f"{n} offending row(s); first {min(n, MAX_EXAMPLES)}:\n" + _examples(frame, rules[i].offending(cols).fill_null(False))
            if rule.hint:
                detail += f"\nhint: {rule.hint}"
            raise DataValidationError(table, rule.column, rule.description, detail)


def check_not_empty(frame: nw.LazyFrame, table: str) -> int:
    n = int(collect(frame.select(nw.len())).iloc[0, 0])
    if n == 0:
        raise DataValidationError(table, None, "the table is empty", "pass at least one row")
    return n


def check_required(columns: Sequence[str], schema: TableSchema, table: str) -> None:
    missing = [c for c in schema.required if c not in columns]
    if missing:
        raise DataValidationError(
            table, missing[0], f"missing required column(s) {missing}",
            f"columns present: {list(columns)}; map yours onto the contract with `mapping=`",
        )


_OFFSET = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|[+-]\d\d(:?\d\d)?)$"


def check_mixed_time_zones(frame: nw.LazyFrame, table: str, column: str) -> None:
    """Timestamp strings must all carry a UTC offset, or none."""
    raw = RAW_PREFIX + column
    has_tz = nw.col(raw).str.strip_chars().str.contains(_OFFSET)
    counts = collect(frame.filter(~nw.col(raw).is_null()).select(
        has_tz.cast(nw.Int64).sum().alias("tz"), (~has_tz).cast(nw.Int64).sum().alias("naive")
    )).iloc[0]
    if int(counts["tz"]) and int(counts["naive"]):
        detail = "rows with an offset:\n" + _examples(frame.select(column, raw), has_tz) + "\nrows without:\n" + _examples(frame.select(column, raw), ~has_tz & ~nw.col(raw).is_null())
        raise DataValidationError(table, column, "mixed time zones: some timestamps carry a UTC offset, others do not",
                                  detail + "\nhint: give every timestamp an offset, or none (naive = UTC)")


def handle_duplicates(frame: nw.LazyFrame, policy: DuplicatePolicy, table: str, key: Sequence[str] | None = None) -> nw.LazyFrame:
    """Apply the duplicate policy; `key` restricts the check to those columns (then always an error)."""
    cols = [c for c in frame.collect_schema().names() if not c.startswith(RAW_PREFIX)]
    subset = list(key) if key else cols
    if policy == "keep" and not key:
        return frame
    dups = frame.group_by(subset).agg(nw.len().alias("__copies")).filter(nw.col("__copies") > 1)
    n = int(collect(dups.select(nw.len())).iloc[0, 0])
    if not n:
        return frame
    if key or policy == "error":
        rows = collect(dups.sort(subset).head(MAX_EXAMPLES))
        what = f"duplicate {key}" if key else "duplicate rows"
        hint = ("one row per customer is allowed" if key else
                "pass duplicates='drop' to drop exact copies, or duplicates='keep' if repeated identical lines are genuine")
        raise DataValidationError(table, key[0] if key else None, f"{what}: {n} distinct row(s) occur more than once",
                                  rows.to_string(index=False) + f"\nhint: {hint}")
    return frame.unique(subset=cols, keep="any")


def report_orphans(interactions: nw.LazyFrame, known: nw.LazyFrame) -> str | None:
    """Warn (not fail) when interaction ids never occur in transactions or customers."""
    orphans = interactions.select("customer_id").unique().join(known, on="customer_id", how="anti")
    n = int(collect(orphans.select(nw.len())).iloc[0, 0])
    if not n:
        return None
    sample = collect(orphans.sort("customer_id").head(MAX_EXAMPLES))["customer_id"].tolist()
    message = (f"table 'interactions', column 'customer_id': {n} customer id(s) occur in interactions "
               f"but in neither transactions nor customers (kept), e.g. {sample}")
    warnings.warn(message, DataQualityWarning, stacklevel=3)
    return message
