"""The action plan: the optimal assignment, a random control group, reasons and a summary.

A share of customers (`Catalogue.control_share`) is drawn into a control group by a seeded
hash of the customer id (the same customer is in or out whatever the batch or row order).
The plan is solved over everyone, so it is the policy's decision for each customer; the
control group's actions are then withheld. ``assignment_probability`` is the probability,
under that randomisation, that the customer gets the action in ``action``, which is what
off-policy evaluation of the plan needs later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxml.actions.catalogue import CONTROL, NO_ACTION, Catalogue
from cxml.actions.solver import Solution, out_of_reach, solve
from cxml.actions.value import ActionValues
from cxml.errors import ParameterError

#: The summary row of the control group: customers whose planned action is withheld.
NONE_ALLOWED = " -> no_action: no action allowed (eligibility, consent or cool-down)"
PLAN_COLUMNS = (
    "action",
    "expected_value",
    "action_rank_2",
    "action_rank_2_value",
    "planned_action",
    "in_control_group",
    "assignment_probability",
    "reason",
)


@dataclass(frozen=True)
class ActionPlan:
    """A plan for a batch of customers.

    Attributes
    ----------
    assignments : pandas.DataFrame
        The PLAN_COLUMNS, one row per customer in the input order.
    summary : pandas.DataFrame
        Per action executed (``no_action`` included) and ``control`` (customers whose planned
        action is withheld): customers, cost, expected value.
    totals : dict
        budget, spend, expected_value, the value and cost of treating every customer with
        their best allowed action ("treat everyone eligible"), the optimum's bound, the gap,
        the method, the control-group size and the value withheld from it, and the customers
        out of reach (some action pays, but each such action costs more than the whole
        budget or has a capacity of 0). Treating no one is worth 0.
    catalogue : Catalogue or None
        The catalogue the plan was made with (None: a plan stored by an older cxml).
    replanned : bool
        Made with another catalogue than the one the model was trained with
        (`Pipeline.with_actions`, e.g. the scoring configuration's).
    """

    assignments: pd.DataFrame
    summary: pd.DataFrame
    totals: dict[str, float | str | None]
    catalogue: Catalogue | None = None
    replanned: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Summary, totals and the catalogue as plain JSON-able values (what scores carry
        in ``attrs``)."""
        stored: dict[str, Any] = {
            "summary": self.summary.to_dict("records"),
            "totals": dict(self.totals),
        }
        if self.catalogue is not None:
            stored["catalogue"] = self.catalogue.model_dump(mode="json")
            stored["replanned"] = self.replanned
        return stored

    @classmethod
    def from_scores(cls, scores: pd.DataFrame) -> ActionPlan:
        """The plan of a scored frame: its PLAN_COLUMNS and ``attrs["action_plan"]``."""
        stored = scores.attrs.get("action_plan")
        if stored is None:
            raise ParameterError(
                "these scores carry no action plan: score with an action catalogue configured"
            )
        catalogue = stored.get("catalogue")  # absent from plans stored by older versions
        return cls(
            scores[list(PLAN_COLUMNS)],
            pd.DataFrame(stored["summary"]),
            dict(stored["totals"]),
            None if catalogue is None else Catalogue.model_validate(catalogue),
            bool(stored.get("replanned", False)),
        )

    def text(self, currency: str | None = None) -> str:
        """The summary as a few lines for a terminal; amounts in `currency` (None: the
        catalogue's)."""
        if currency is None:
            currency = "" if self.catalogue is None else self.catalogue.currency
        unit = f" {currency}" if currency else ""
        t = self.totals
        lines = [
            f"{'action':<20} {'customers':>10} {'cost':>12} {'expected value':>16}",
            *(
                f"{r.action:<20} {r.customers:>10,} {r.cost:>12,.0f} {r.expected_value:>16,.0f}"
                for r in self.summary.itertuples()
            ),
            f"spend {t['spend']:,.0f}{unit}"
            + ("" if t["budget"] is None else f" of budget {t['budget']:,.0f}{unit}")
            + f"; expected value {t['expected_value']:,.0f}{unit} "
            f"(plan solved {t['method']}, within {100 * float(t['gap']):.3g} % of the optimum)",
        ]
        if t.get("out_of_reach_customers"):  # absent from plans stored by older versions
            lines.append(
                f"out of reach: {t['out_of_reach_customers']:,} customers whose paying actions "
                "all cost more than the budget or have a capacity of 0"
            )
        lines.append(
            f"treat everyone eligible: value {t['treat_all_value']:,.0f}{unit} at cost "
            f"{t['treat_all_cost']:,.0f}{unit}; treat no one: 0{unit}"
        )
        if self.replanned:
            lines.append(
                "re-planned: with another action catalogue than the model was trained with "
                "(the model's learned effects, if any, kept)"
            )
        return "\n".join(lines)


def control_group(customer_ids: pd.Index | np.ndarray, share: float, seed: int) -> np.ndarray:
    """True for the customers drawn into the control group: a seeded hash of each id < share.

    The hash is of the id's text, an integer's being its decimal text: the integer 42 and
    the text "42" are the same customer (CSV and Parquet ids), the text "042" is another.
    """
    if share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    # Hash the text, mix in the seed, hash again: integer hashing ignores pandas' hash_key.
    salt = pd.util.hash_array(np.array([seed], dtype=np.int64))[0]
    texts = pd.util.hash_array(_id_texts(customer_ids), categorize=False)
    hashed = pd.util.hash_array(texts ^ salt)
    return (hashed / np.float64(2**64)) < share


def _id_texts(customer_ids: pd.Index | np.ndarray) -> np.ndarray:
    """The ids as an object array of text; integers as their decimal text (Arrow's cast,
    about 3x faster than numpy's)."""
    ids = np.asarray(customer_ids)
    if ids.dtype.kind in "iu":
        return pa.array(ids).cast(pa.string()).to_numpy(zero_copy_only=False)
    return ids.astype(str).astype(object)


def plan_actions(
    values: ActionValues,
    customer_ids: pd.Index | np.ndarray,
    catalogue: Catalogue,
    *,
    context: pd.DataFrame | None = None,
) -> ActionPlan:
    """Solve the plan for the customers of `values` and explain each decision.

    `context` (optional, same rows) gives ``churn_probability``, ``clv`` and
    ``churn_drivers`` for the reasons.
    """
    budget = np.inf if catalogue.budget is None else catalogue.budget
    solution = solve(
        values.candidates,
        values.costs,
        capacities=values.capacities,
        budget=budget,
        method=catalogue.method,
    )
    names = [NO_ACTION, *values.names]
    chosen = solution.choice
    rows = np.arange(len(chosen))
    planned_value = np.where(chosen >= 0, values.values[rows, np.maximum(chosen, 0)], 0.0)
    stuck = _out_of_reach(values, budget)
    drawn = control_group(customer_ids, catalogue.control_share, catalogue.seed)
    control = drawn & (chosen >= 0)  # the actions withheld
    runner, runner_value = _runner_up(values, chosen)
    share = catalogue.control_share
    assignments = pd.DataFrame(
        {
            "action": _labels(np.where(control, -1, chosen), names),
            "expected_value": np.where(control, 0.0, planned_value),
            "action_rank_2": _labels(runner, names),
            "action_rank_2_value": runner_value,
            "planned_action": _labels(chosen, names),
            "in_control_group": drawn,
            "assignment_probability": np.where(
                chosen < 0, 1.0, np.where(control, share, 1.0 - share)
            ),
            "reason": _reasons(values, chosen, planned_value, control, stuck, context, catalogue),
        }
    )
    return ActionPlan(
        assignments,
        _summary(assignments, values, chosen, control),
        _totals(values, solution, chosen, drawn, planned_value, stuck, catalogue),
        catalogue,
    )


#: The index `_labels` reads as a missing action (no runner-up).
_NONE = -2


def _labels(choice: np.ndarray, names: list[str]) -> pd.Categorical:
    """Action names (categorical) from action indices, -1 being no_action, `_NONE` none."""
    return pd.Categorical.from_codes(choice + 1, categories=names)


def _texts(values: np.ndarray, template: str, decimals: int) -> pa.Array:
    """`template` formatted per value, each distinct rounded value formatted once."""
    distinct, inverse = np.unique(np.round(values, decimals), return_inverse=True)
    return pa.array([template.format(v) for v in distinct.tolist()], pa.string()).take(inverse)


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of text arrays and constants (Arrow, vectorised)."""
    return pc.binary_join_element_wise(*parts, "")


def _out_of_reach(values: ActionValues, budget: float) -> np.ndarray:
    """Per customer, why no plan can give them an action that pays (0: some plan can, or
    none pays): 1 each costs more than the budget, 2 each has a capacity of 0, 3 either."""
    over_budget, no_capacity = out_of_reach(values.costs, values.capacities, budget)
    if not (over_budget | no_capacity).any():
        return np.zeros(len(values.values), dtype=np.int64)
    paying = values.candidates > 0
    stuck = paying.any(axis=1) & ~(paying & ~(over_budget | no_capacity)).any(axis=1)
    why = (paying & over_budget).any(axis=1) + 2 * (paying & no_capacity).any(axis=1)
    return np.where(stuck, why, 0)


def _runner_up(values: ActionValues, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best allowed alternative to each decision (no_action counts, at value 0);
    none (a missing label, NaN) when nothing else is allowed."""
    others = values.candidates.copy()
    rows = np.flatnonzero(chosen >= 0)
    others[rows, chosen[rows]] = -np.inf
    with_none = np.concatenate([np.zeros((len(chosen), 1)), others], axis=1)
    with_none[chosen < 0, 0] = -np.inf  # the decision was no_action
    best = np.argmax(with_none, axis=1)
    value = with_none[np.arange(len(chosen)), best]
    none_left = ~np.isfinite(value)
    return np.where(none_left, _NONE, best - 1), np.where(none_left, np.nan, value)


def _reasons(
    values: ActionValues,
    chosen: np.ndarray,
    planned_value: np.ndarray,
    control: np.ndarray,
    stuck: np.ndarray,
    context: pd.DataFrame | None,
    catalogue: Catalogue,
) -> pd.arrays.ArrowStringArray:
    """One line per customer: risk x value, drivers, and the decision with its value.

    Built with Arrow kernels: each case's ending on its own rows, then one join per row.
    """
    unit = f" {catalogue.currency}" if catalogue.currency else ""
    n = len(chosen)
    names = pa.array(values.names, pa.string())
    best, best_value = values.best
    budget = f"the budget of {_amount(catalogue.budget, unit)}"
    why = pa.array(
        [
            f"costs more than {budget}",
            "has a capacity of 0",
            f"costs more than {budget} or has a capacity of 0",
        ],
        pa.string(),
    )
    cases = [
        (
            (chosen >= 0) & ~control,
            lambda r: (
                " -> ",
                names.take(chosen[r]),
                ", ",
                _money(planned_value[r], unit),
                " expected",
            ),
        ),
        (
            (chosen >= 0) & control,
            lambda r: (
                " -> control group (plan: ",
                names.take(chosen[r]),
                ", ",
                _money(planned_value[r], unit),
                " expected, withheld)",
            ),
        ),
        (
            (chosen < 0) & ~np.isfinite(best_value),
            lambda r: (pa.array([NONE_ALLOWED] * len(r), pa.string()),),
        ),
        (
            (chosen < 0) & np.isfinite(best_value) & (best_value <= 0),
            lambda r: (
                " -> no_action: no action pays (best ",
                names.take(best[r]),
                " ",
                _money(best_value[r], unit),
                ")",
            ),
        ),
        (
            stuck > 0,
            lambda r: (
                " -> no_action: every action that pays ",
                why.take(stuck[r] - 1),
                " (best ",
                names.take(best[r]),
                " ",
                _money(best_value[r], unit),
                ")",
            ),
        ),
        (
            (chosen < 0) & (best_value > 0) & (stuck == 0),
            lambda r: (
                " -> no_action: budget or capacity went to higher-value customers (best ",
                names.take(best[r]),
                " ",
                _money(best_value[r], unit),
                ")",
            ),
        ),
    ]
    rows = [np.flatnonzero(mask) for mask, _ in cases]
    tails = [_join("", *ending(r)) for r, (_, ending) in zip(rows, cases, strict=True)]
    order = np.empty(n, dtype=np.int64)
    order[np.concatenate(rows)] = np.arange(n)
    tail = pa.concat_arrays(tails).take(order)
    if context is None:
        return pd.arrays.ArrowStringArray(tail)
    risk = _texts(context["churn_probability"].to_numpy(dtype=float), "churn risk {:.2f}", 2)
    clv = _texts(context["clv"].to_numpy(dtype=float), " x CLV {:,.0f}" + unit, 0)
    drivers = context.get("churn_drivers", pd.Series("", index=context.index))
    drivers = pa.array(drivers.fillna("").astype(str).to_numpy(), pa.string())
    separator = pa.array(["", "; drivers: "], pa.string()).take(
        pc.greater(pc.binary_length(drivers), 0).cast(pa.int8())
    )
    return pd.arrays.ArrowStringArray(_join(risk, clv, separator, drivers, tail))


def _money(values: np.ndarray, unit: str) -> pa.Array:
    return _texts(values, "{:+,.0f}" + unit, 0)


def _amount(value: float | None, unit: str) -> str:
    """A budget as text: whole amounts without decimals."""
    number = float("inf") if value is None else float(value)
    return f"{number:,.0f}{unit}" if number.is_integer() else f"{number:,.2f}{unit}"


def _summary(
    assignments: pd.DataFrame, values: ActionValues, chosen: np.ndarray, control: np.ndarray
) -> pd.DataFrame:
    """Customers, cost and expected value per executed action, plus the control group."""
    executed = np.where(control, -1, chosen)
    rows = []
    for j, name in enumerate([NO_ACTION, *values.names]):
        mask = executed == j - 1
        cost = 0.0 if j == 0 else float(values.costs[j - 1] * mask.sum())
        rows.append(
            {
                "action": name,
                "customers": int(mask.sum()),
                "cost": cost,
                "expected_value": float(assignments["expected_value"].to_numpy()[mask].sum()),
            }
        )
    rows[0]["customers"] -= int(control.sum())
    rows.append(
        {"action": CONTROL, "customers": int(control.sum()), "cost": 0.0, "expected_value": 0.0}
    )
    return pd.DataFrame(rows)


def _totals(
    values: ActionValues,
    solution: Solution,
    chosen: np.ndarray,
    drawn: np.ndarray,
    planned_value: np.ndarray,
    stuck: np.ndarray,
    catalogue: Catalogue,
) -> dict[str, float | str | None]:
    control = drawn & (chosen >= 0)
    executed = (chosen >= 0) & ~control
    spend = float(values.costs[chosen[executed]].sum())
    best, _ = values.best
    everyone = np.flatnonzero(best >= 0)
    return {
        "budget": catalogue.budget,
        "spend": spend,
        "expected_value": float(planned_value[executed].sum()),
        "planned_value": solution.value,
        "bound": solution.bound,
        "gap": solution.gap,
        "method": solution.method,
        "control_customers": int(drawn.sum()),
        "withheld_customers": int(control.sum()),
        "withheld_value": float(planned_value[control].sum()),
        "out_of_reach_customers": int((stuck > 0).sum()),
        "treat_all_value": float(values.values[everyone, best[everyone]].sum()),
        "treat_all_cost": float(values.costs[best[everyone]].sum()),
        "treat_none_value": 0.0,
    }
