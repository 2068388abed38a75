"""The feature catalogue: every snapshot column, where it comes from and how it is computed.

A `Metric` aggregates one source frame per customer (optionally over a look-back window
and a row filter); a `Derived` feature is an expression over metrics. Names that start with
an underscore are intermediate and never reach the snapshot. `catalogue(spec, available)`
expands the templates for the configured windows and event types; `docs/features.md`
describes the same list for readers.

Sources (built in `cxml.features.sources`; `t` = event time in days since 1970-01-01 UTC):
- ``lines``: transaction lines before the cut-off (purchases and returns);
- ``orders``: purchases grouped by order (one line = one order when there is no order_id);
- ``days``: purchase days, as in the BTYD literature (a day with purchases = one transaction);
- ``events``: interactions before the cut-off;
- ``latest``: the latest survey answer per customer and survey type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import narwhals as nw

from cxml.data import NOT_TOUCHES
from cxml.features import sources
from cxml.features.spec import FeatureSpec, Group

Source = Literal["lines", "orders", "days", "events", "latest", "customers"]
Agg = Literal["count", "sum", "mean", "max", "min", "std", "n_unique"]


@dataclass(frozen=True)
class Context:
    """Numbers a feature expression may use: the cut-off and the BTYD unit, in days."""

    cutoff: float  # days since epoch; events with t < cutoff are visible
    unit: float

    @property
    def last_day(self) -> float:
        """The last (partly) observed calendar day: the BTYD observation-period end."""
        return float(-(-self.cutoff // 1)) - 1.0


Where = Callable[[Context], nw.Expr]


@dataclass(frozen=True)
class Metric:
    """An aggregate of `column` over rows of `source` that match `where` within a window.

    `window` is (start, end) in days before the cut-off: rows with
    cutoff - end <= t < cutoff - start.
    """

    name: str
    group: Group
    source: Source
    agg: Agg
    description: str
    column: str | None = None
    where: Where | None = None
    window: tuple[float, float] | None = None
    requires: tuple[str, ...] = ()  # optional input columns this metric needs

    @property
    def fills_zero(self) -> bool:
        """Counts and sums are 0 for customers without rows; other aggregates stay null."""
        return self.agg in ("count", "sum", "n_unique")


@dataclass(frozen=True)
class Derived:
    """A feature computed from metrics (or earlier derived features) after aggregation."""

    name: str
    group: Group
    expr: Callable[[Context], nw.Expr]
    inputs: tuple[str, ...]
    description: str
    requires: tuple[str, ...] = ()


Feature = Metric | Derived


def _ratio(num: str, den: str) -> nw.Expr:
    """num / den, null where den is 0 or null."""
    return nw.when(nw.col(den) > 0).then(nw.col(num) / nw.col(den))


def _smoothed_trend(recent: str, previous: str) -> nw.Expr:
    """(recent + 1) / (previous + 1): > 1 growing, < 1 fading, defined for zero counts."""
    return (nw.col(recent) + 1) / (nw.col(previous) + 1)


def _is(event: str) -> Where:
    return lambda ctx: nw.col("event_type") == event


def _is_touch(ctx: Context) -> nw.Expr:
    return ~nw.col("event_type").is_in(NOT_TOUCHES)


def _purchase_lines(ctx: Context) -> nw.Expr:
    return ~nw.col("is_return")


def _return_lines(ctx: Context) -> nw.Expr:
    return nw.col("is_return")


def _first_day(ctx: Context) -> nw.Expr:
    return nw.col("gap").is_null()


def _btyd(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric("_n_days", "btyd", "days", "count", "purchase days"),
        Metric("_first_day", "btyd", "days", "min", "first purchase day", "day"),
        Metric("_last_day", "btyd", "days", "max", "last purchase day", "day"),
        Metric("_days_amount", "btyd", "days", "sum", "value of purchase days", "amount"),
        # The first purchase day is the one without a gap to a previous day; an ordered
        # "first" aggregate would be shorter but Spark has none.
        Metric(
            "_first_day_amount",
            "btyd",
            "days",
            "sum",
            "value of the first purchase day",
            "amount",
            where=_first_day,
        ),
        # A difference of two aggregates: rounding stays ~1e-16 of the customer's total value.
        Derived(
            "_repeat_amount",
            "btyd",
            lambda ctx: nw.col("_days_amount") - nw.col("_first_day_amount"),
            ("_days_amount", "_first_day_amount"),
            "value of repeat purchase days",
        ),
        Derived(
            "frequency",
            "btyd",
            lambda ctx: nw.when(nw.col("_n_days") > 0).then(nw.col("_n_days") - 1),
            ("_n_days",),
            "repeat purchase days (BTYD x); null without purchases",
        ),
        Derived(
            "recency",
            "btyd",
            lambda ctx: (nw.col("_last_day") - nw.col("_first_day")) / ctx.unit,
            ("_first_day", "_last_day"),
            "first to last purchase day, in time units (BTYD t_x)",
        ),
        Derived(
            "T",
            "btyd",
            lambda ctx: (ctx.last_day - nw.col("_first_day")) / ctx.unit,
            ("_first_day",),
            "first purchase day to the last observed day (cut-off - 1 day), in time units",
        ),
        Derived(
            "monetary_value",
            "btyd",
            lambda ctx: (
                nw.when(nw.col("_n_days") > 1)
                .then(nw.col("_repeat_amount") / (nw.col("_n_days") - 1))
                .otherwise(nw.when(nw.col("_n_days") == 1).then(0.0))
            ),
            ("_n_days", "_repeat_amount"),
            "mean value of repeat purchase days (0 for one-time buyers), as in lifetimes",
        ),
    ]


def _orders(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric("n_orders", "orders", "orders", "count", "orders before the cut-off"),
        Metric("revenue", "orders", "orders", "sum", "purchase value before the cut-off", "value"),
        Metric("avg_order_value", "orders", "orders", "mean", "mean order value", "value"),
        Metric("max_order_value", "orders", "orders", "max", "largest order value", "value"),
    ]


def _recency(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric("_first_t", "recency", "orders", "min", "first purchase time", "t"),
        Metric("_last_t", "recency", "orders", "max", "last purchase time", "t"),
        Derived(
            "days_since_last_purchase",
            "recency",
            lambda ctx: ctx.cutoff - nw.col("_last_t"),
            ("_last_t",),
            "days from the last purchase to the cut-off",
        ),
        Derived(
            "days_since_first_purchase",
            "recency",
            lambda ctx: ctx.cutoff - nw.col("_first_t"),
            ("_first_t",),
            "days from the first purchase to the cut-off (purchase tenure)",
        ),
    ]


def _windows(spec: FeatureSpec) -> list[Feature]:
    out: list[Feature] = []
    for w in spec.windows:
        out += [
            Metric(
                f"n_orders_{w}d",
                "windows",
                "orders",
                "count",
                f"orders in the last {w} days",
                window=(0, w),
            ),
            Metric(
                f"revenue_{w}d",
                "windows",
                "orders",
                "sum",
                f"purchase value in the last {w} days",
                "value",
                window=(0, w),
            ),
            Metric(
                f"_n_orders_prev_{w}d",
                "windows",
                "orders",
                "count",
                f"orders {w}..{2 * w} days before the cut-off",
                window=(w, 2 * w),
            ),
            Derived(
                f"orders_trend_{w}d",
                "windows",
                lambda ctx, w=w: _smoothed_trend(f"n_orders_{w}d", f"_n_orders_prev_{w}d"),
                (f"n_orders_{w}d", f"_n_orders_prev_{w}d"),
                f"(orders last {w}d + 1) / (orders in the {w}d before + 1)",
            ),
        ]
    return out


def _gaps(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric(
            "gap_std_days",
            "gaps",
            "days",
            "std",
            "standard deviation of days between purchase days (ddof=1)",
            "gap",
        ),
        Derived(
            "gap_mean_days",
            "gaps",
            lambda ctx: nw.when(nw.col("_n_days") > 1).then(
                (nw.col("_last_day") - nw.col("_first_day")) / (nw.col("_n_days") - 1)
            ),
            ("_n_days", "_first_day", "_last_day"),
            "mean days between purchase days; null with fewer than two",
        ),
        Derived(
            "overdue_ratio",
            "gaps",
            lambda ctx: _ratio("days_since_last_purchase", "gap_mean_days"),
            ("days_since_last_purchase", "gap_mean_days"),
            "days since last purchase / mean gap: > 1 means overdue",
        ),
    ]


def _mix(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric(
            "n_categories",
            "mix",
            "lines",
            "n_unique",
            "distinct categories bought",
            "category",
            where=_purchase_lines,
            requires=("category",),
        ),
        Metric(
            "n_channels",
            "mix",
            "lines",
            "n_unique",
            "distinct sales channels used",
            "channel",
            where=_purchase_lines,
            requires=("channel",),
        ),
        Metric("_gross", "mix", "lines", "sum", "purchase value", "amount", where=_purchase_lines),
        Metric("_returned", "mix", "lines", "sum", "returned value", "amount", where=_return_lines),
        Metric(
            "_discount",
            "mix",
            "lines",
            "sum",
            "discount on purchases",
            "discount",
            where=_purchase_lines,
            requires=("discount",),
        ),
        Derived(
            "return_share",
            "mix",
            lambda ctx: _ratio("_returned", "_gross"),
            ("_returned", "_gross"),
            "returned value / purchase value",
        ),
        Derived(
            "discount_share",
            "mix",
            lambda ctx: nw.when(nw.col("_gross") + nw.col("_discount") > 0).then(
                nw.col("_discount") / (nw.col("_gross") + nw.col("_discount"))
            ),
            ("_discount", "_gross"),
            "discount / (purchase value + discount)",
            requires=("discount",),
        ),
    ]


def _interactions(spec: FeatureSpec) -> list[Feature]:
    out: list[Feature] = []
    for e in spec.event_types:
        for w in spec.windows:
            out.append(
                Metric(
                    f"n_{e}_{w}d",
                    "interactions",
                    "events",
                    "count",
                    f"'{e}' events in the last {w} days",
                    where=_is(e),
                    window=(0, w),
                )
            )
        out += [
            Metric(
                f"_last_{e}_t",
                "interactions",
                "events",
                "max",
                f"last '{e}' time",
                "t",
                where=_is(e),
            ),
            Derived(
                f"days_since_last_{e}",
                "interactions",
                lambda ctx, e=e: ctx.cutoff - nw.col(f"_last_{e}_t"),
                (f"_last_{e}_t",),
                f"days since the last '{e}' event; null if none",
            ),
        ]
    out += _touches()
    visits = lambda ctx: nw.col("event_type").is_in(["web_visit", "app_visit"])  # noqa: E731
    for w in spec.windows:
        out += [
            Metric(
                f"_email_sent_{w}d",
                "interactions",
                "events",
                "count",
                "e-mails sent",
                where=_is("email_sent"),
                window=(0, w),
            ),
            Metric(
                f"_email_click_{w}d",
                "interactions",
                "events",
                "count",
                "e-mail clicks",
                where=_is("email_click"),
                window=(0, w),
            ),
            Derived(
                f"email_ctr_{w}d",
                "interactions",
                lambda ctx, w=w: _ratio(f"_email_click_{w}d", f"_email_sent_{w}d"),
                (f"_email_click_{w}d", f"_email_sent_{w}d"),
                f"e-mail clicks / e-mails sent in the last {w} days; null if none sent",
            ),
            Metric(
                f"_visits_{w}d",
                "interactions",
                "events",
                "count",
                "web + app visits",
                where=visits,
                window=(0, w),
            ),
            Metric(
                f"_visits_prev_{w}d",
                "interactions",
                "events",
                "count",
                "web + app visits in the window before",
                where=visits,
                window=(w, 2 * w),
            ),
            Derived(
                f"visits_trend_{w}d",
                "interactions",
                lambda ctx, w=w: _smoothed_trend(f"_visits_{w}d", f"_visits_prev_{w}d"),
                (f"_visits_{w}d", f"_visits_prev_{w}d"),
                f"(web+app visits last {w}d + 1) / (visits in the {w}d before + 1)",
            ),
        ]
    return out


def _touches() -> list[Feature]:
    """Touches: purchases and every interaction whose type is not in `NOT_TOUCHES` (those the
    business starts, and cancellations); other event types a business logs count as touches.

    The recency of the latest touch of any kind tells a customer who went quiet everywhere
    from one who only stopped buying for a while.
    """
    return [
        Metric(
            "_first_touch_t",
            "interactions",
            "events",
            "min",
            "first touch time",
            "t",
            where=_is_touch,
        ),
        Metric(
            "_last_touch_t",
            "interactions",
            "events",
            "max",
            "last touch time",
            "t",
            where=_is_touch,
        ),
        Metric(
            "_n_touch_events",
            "interactions",
            "events",
            "count",
            "interactions that are touches",
            where=_is_touch,
        ),
        Derived(
            "days_since_last_touch",
            "interactions",
            lambda ctx: ctx.cutoff - nw.max_horizontal("_last_t", "_last_touch_t"),
            ("_last_t", "_last_touch_t"),
            "days since the latest touch (a purchase or an interaction not in NOT_TOUCHES); "
            "null if none",
        ),
        Derived(
            "touches",
            "interactions",
            lambda ctx: nw.col("n_orders") + nw.col("_n_touch_events"),
            ("n_orders", "_n_touch_events"),
            "touches before the cut-off: orders + interactions not in NOT_TOUCHES",
        ),
        Derived(
            "touches_per_day",
            "interactions",
            lambda ctx: (
                nw.col("touches")
                / (ctx.cutoff - nw.min_horizontal("_first_t", "_first_touch_t") + 1)
            ),
            ("touches", "_first_t", "_first_touch_t"),
            "touches / (days since the first touch + 1); null if none",
        ),
    ]


def _nps_class(ctx: Context) -> nw.Expr:
    last = nw.col("nps_last")
    return (
        nw.when(last >= 9)
        .then(nw.lit("promoter"))
        .when(last >= 7)
        .then(nw.lit("passive"))
        .when(last >= 0)
        .then(nw.lit("detractor"))
    )


def _cx(spec: FeatureSpec) -> list[Feature]:
    out: list[Feature] = []
    for survey in ("nps", "csat", "ces"):
        out += [
            Metric(
                f"{survey}_last",
                "cx",
                "latest",
                "mean",
                f"latest {survey} answer",
                "value",
                where=_is(survey),
                requires=("value",),
            ),
            Metric(
                f"{survey}_mean",
                "cx",
                "events",
                "mean",
                f"mean {survey} answer",
                "value",
                where=_is(survey),
                requires=("value",),
            ),
        ]
    ticket = _is("support_ticket")
    return [
        *out,
        Derived(
            "nps_class",
            "cx",
            _nps_class,
            ("nps_last",),
            "promoter (9-10), passive (7-8) or detractor (0-6) by the latest NPS answer",
            requires=("value",),
        ),
        Metric("n_support_tickets", "cx", "events", "count", "support tickets", where=ticket),
        Metric(
            "fcr_share",
            "cx",
            "events",
            "mean",
            "share of support tickets resolved at first contact",
            "resolved_first_contact",
            where=ticket,
            requires=("resolved_first_contact",),
        ),
        Metric(
            "resolution_hours_mean",
            "cx",
            "events",
            "mean",
            "mean support resolution time (hours)",
            "value",
            where=ticket,
            requires=("value",),
        ),
        Metric("n_referrals", "cx", "events", "count", "referrals made", where=_is("referral")),
    ]


def _attributes(spec: FeatureSpec) -> list[Feature]:
    return [
        Metric(
            "_signup_t",
            "attributes",
            "customers",
            "min",
            "signup time",
            sources.SIGNUP_T,
            requires=("signup_date",),
        ),
        Derived(
            "tenure_days",
            "attributes",
            lambda ctx: ctx.cutoff - nw.col("_signup_t"),
            ("_signup_t",),
            "days since signup",
            requires=("signup_date",),
        ),
    ]


_BUILDERS: tuple[Callable[[FeatureSpec], list[Feature]], ...] = (
    _btyd,
    _recency,
    _orders,
    _windows,
    _gaps,
    _mix,
    _interactions,
    _cx,
    _attributes,
)
_TABLE_OF: dict[Source, str] = {
    "lines": "transactions",
    "orders": "transactions",
    "days": "transactions",
    "events": "interactions",
    "latest": "interactions",
    "customers": "customers",
}


@dataclass
class Plan:
    """The features to compute for a spec and the available input columns, in order."""

    metrics: list[Metric] = field(default_factory=list)
    derived: list[list[Derived]] = field(default_factory=list)  # levels: each uses earlier ones
    outputs: list[str] = field(default_factory=list)


def catalogue(spec: FeatureSpec | None = None) -> list[Feature]:
    """Every feature of every group, expanded for `spec`'s windows and event types."""
    spec = spec or FeatureSpec()
    return [f for build in _BUILDERS for f in build(spec)]


def plan(spec: FeatureSpec, available: dict[str, Iterable[str]]) -> Plan:
    """Select the features of `spec.groups` whose tables and columns exist, with their inputs.

    `available` maps table name -> its columns (absent tables are missing keys).
    """
    features = catalogue(spec)
    by_name = {f.name: f for f in features}

    every_column = {c for cols in available.values() for c in cols}

    def usable(f: Feature) -> bool:
        if isinstance(f, Metric):
            table = _TABLE_OF[f.source]
            return table in available and all(r in available[table] for r in f.requires)
        return all(r in every_column for r in f.requires) and all(
            usable(by_name[i]) for i in f.inputs
        )

    wanted = [f for f in features if f.group in spec.groups and usable(f)]
    needed: dict[str, Feature] = {}

    def need(f: Feature) -> None:
        for i in getattr(f, "inputs", ()):
            need(by_name[i])
        needed.setdefault(f.name, f)

    for f in wanted:
        need(f)
    ordered = [f for f in features if f.name in needed]
    return Plan(
        metrics=[f for f in ordered if isinstance(f, Metric)],
        derived=_levels([f for f in ordered if isinstance(f, Derived)]),
        outputs=[f.name for f in wanted if not f.name.startswith("_")],
    )


def _levels(derived: list[Derived]) -> list[list[Derived]]:
    """Group derived features so that each level needs only metrics and earlier levels."""
    names = {d.name for d in derived}
    done: set[str] = set()
    levels: list[list[Derived]] = []
    pending = list(derived)
    while pending:
        ready = [d for d in pending if all(i not in names or i in done for i in d.inputs)]
        levels.append(ready)
        done |= {d.name for d in ready}
        pending = [d for d in pending if d not in ready]
    return levels
