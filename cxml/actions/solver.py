"""The action plan as an optimisation: at most one action per customer, a total budget and
per-action capacities, maximising the total expected incremental value.

Every constraint is of the "at most" kind and every cost is >= 0, so leaving a customer
without an action never breaks one, and an action whose value is <= 0 is never worth taking:
only *candidates* (feasible customer-action pairs of positive value) enter the problem.

Two methods:

- ``"exact"``: the integer programme solved by HiGHS through `scipy.optimize.milp`
  (binary x_ik; one row per customer, one per capped action, one for the budget).
- ``"lagrangian"``: the budget and capacity rows are priced with multipliers; for given
  prices every customer independently takes the action of largest *reduced* value
  ``v_ik - lambda * cost_k - mu_k``, which gives the Lagrangian dual bound
  ``D(lambda, mu) = sum_i max(0, max_k reduced_ik) + lambda * budget + sum_k mu_k * cap_k``,
  an upper bound on the optimum for any prices >= 0. The prices minimising it (those of
  the LP relaxation) are found by Kelley's cutting-plane method over the few multipliers,
  then a feasible plan is built greedily in order of reduced value and filled with what
  budget and capacity are left. The reported gap ``(bound - value) / bound`` bounds the
  distance to the optimum. Cost is linear in the number of candidates.

``"auto"`` takes the exact method up to `EXACT_LIMIT` candidate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from cxml.errors import CxmlError, ParameterError

Method = Literal["auto", "exact", "lagrangian"]
#: Candidate pairs up to which "auto" solves the integer programme exactly.
EXACT_LIMIT = 300_000
#: Relative gap at which the cutting-plane search for prices stops.
PRICE_TOLERANCE = 1e-6
MAX_PRICE_ITERATIONS = 200
#: Offer rounds of the greedy plan builder (each withdraws at least one refused offer).
MAX_GREEDY_ROUNDS = 200


class SolverError(CxmlError, RuntimeError):
    """The solver failed (time limit, numerical trouble); the message says what happened."""


@dataclass(frozen=True)
class Solution:
    """A feasible plan and what is known about its optimality.

    Attributes
    ----------
    choice : numpy.ndarray of int
        The action index per customer, -1 for no action.
    value : float
        Total value of the plan.
    bound : float
        An upper bound on the optimum (equal to `value` when solved exactly).
    method : str
        ``"exact"``, ``"lagrangian"`` or ``"unconstrained"`` (no budget or capacity binds).
        When the budget or capacities only rule some actions out entirely (`out_of_reach`)
        and each customer's best remaining action fits, that plan is the optimum:
        ``"exact"``, with nothing given at all when no action is left.
    """

    choice: np.ndarray
    value: float
    bound: float
    method: str

    @property
    def gap(self) -> float:
        """Relative distance to the bound: the plan is at most this far from the optimum."""
        if self.bound <= 0:
            return 0.0
        gap = (self.bound - self.value) / self.bound
        return gap if gap > 1e-12 else 0.0  # below that it is rounding, not a gap


def solve(
    values: np.ndarray,
    costs: np.ndarray,
    *,
    capacities: np.ndarray | None = None,
    budget: float = np.inf,
    method: Method = "auto",
    time_limit: float = 600.0,
    mip_gap: float = 1e-6,
) -> Solution:
    """The value-maximising plan under the budget and capacities.

    Parameters
    ----------
    values : array of shape (n_customers, n_actions)
        Expected incremental value of each action for each customer, net of its cost;
        ``-inf`` (or NaN) where the action is not allowed for the customer.
    costs : array of shape (n_actions,)
        Cost per contact, >= 0, charged against `budget`.
    capacities : array of shape (n_actions,) or None
        Most customers each action can be given; ``inf`` for no limit.
    budget : float
        Most total cost; ``inf`` for no limit.
    method : {"auto", "exact", "lagrangian"}
    time_limit : float
        Seconds HiGHS may take on the exact problem.
    mip_gap : float
        Relative optimality gap at which HiGHS stops: the exact plan is within it of the
        optimum (its `bound` says by how much at most). 0 proves optimality, which can take
        long on large instances.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ParameterError(f"values must be 2-dimensional, got shape {values.shape}")
    k = values.shape[1]
    costs = np.asarray(costs, dtype=float)
    caps = np.full(k, np.inf) if capacities is None else np.asarray(capacities, dtype=float)
    if costs.shape != (k,) or caps.shape != (k,):
        raise ParameterError(f"costs and capacities need one entry per action ({k})")
    if not (np.all(np.isfinite(costs)) and np.all(costs >= 0)):
        raise ParameterError(f"costs must be finite and >= 0, got {costs.tolist()}")
    if np.any(caps < 0) or np.isnan(budget) or budget < 0:
        raise ParameterError("capacities and budget must be >= 0")
    if method not in ("auto", "exact", "lagrangian"):
        raise ParameterError(f"method must be 'auto', 'exact' or 'lagrangian', got {method!r}")
    caps = np.floor(caps)
    paying = np.isfinite(values) & (values > 0)
    over_budget, no_capacity = out_of_reach(costs, caps, budget)
    candidate = paying & ~(over_budget | no_capacity)[None, :]
    reduced = np.where(candidate, values, -np.inf)
    free = _best(reduced)
    if _fits(free, costs, caps, budget):
        # Each customer's best action within reach is the optimum; the budget or a capacity
        # binds when it ruled out someone's best action (all of them when nothing is left).
        binds = not np.array_equal(free, _best(np.where(paying, values, -np.inf)))
        total = _total(values, free)
        return Solution(free, total, total, "exact" if binds else "unconstrained")
    pairs = int(candidate.sum())
    if method == "exact" or (method == "auto" and pairs <= EXACT_LIMIT):
        return _exact(values, candidate, costs, caps, budget, time_limit, mip_gap)
    return _lagrangian(reduced, costs, caps, budget)


def out_of_reach(
    costs: np.ndarray, capacities: np.ndarray, budget: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per action, whether no plan can give it: it costs more than the whole budget; its
    capacity is below one customer."""
    return np.asarray(costs) > budget, np.floor(capacities) < 1


def _best(reduced: np.ndarray) -> np.ndarray:
    """Each customer's action of largest positive entry, -1 where none is positive."""
    if reduced.shape[1] == 0:
        return np.full(len(reduced), -1)
    best = np.argmax(reduced, axis=1)
    return np.where(reduced[np.arange(len(reduced)), best] > 0, best, -1)


def _fits(choice: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float) -> bool:
    chosen = choice[choice >= 0]
    counts = np.bincount(chosen, minlength=len(costs))
    return bool(np.all(counts <= caps) and costs[chosen].sum() <= budget * (1 + 1e-12))


def _total(values: np.ndarray, choice: np.ndarray) -> float:
    rows = np.flatnonzero(choice >= 0)
    return float(values[rows, choice[rows]].sum())


def _exact(
    values: np.ndarray,
    candidate: np.ndarray,
    costs: np.ndarray,
    caps: np.ndarray,
    budget: float,
    time_limit: float,
    mip_gap: float,
) -> Solution:
    rows, cols = np.nonzero(candidate)
    m = len(rows)
    v = values[rows, cols]
    customers, row_of = np.unique(rows, return_inverse=True)
    blocks = [sparse.csr_array((np.ones(m), (row_of, np.arange(m))), shape=(len(customers), m))]
    upper = [np.ones(len(customers))]
    capped = np.flatnonzero(np.isfinite(caps))
    if len(capped):
        slot = np.full(len(caps), -1)
        slot[capped] = np.arange(len(capped))
        keep = slot[cols] >= 0
        blocks.append(
            sparse.csr_array(
                (np.ones(int(keep.sum())), (slot[cols][keep], np.flatnonzero(keep))),
                shape=(len(capped), m),
            )
        )
        upper.append(caps[capped])
    if np.isfinite(budget):
        blocks.append(sparse.csr_array(costs[cols][None, :]))
        upper.append(np.array([budget]))
    result = milp(
        -v,
        constraints=LinearConstraint(sparse.vstack(blocks).tocsr(), -np.inf, np.concatenate(upper)),
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
        # HiGHS presolve takes minutes on large plans and finds nothing to remove here.
        options={"time_limit": time_limit, "mip_rel_gap": mip_gap, "presolve": False},
    )
    if result.x is None or result.status not in (0,):
        raise SolverError(f"HiGHS did not solve the plan: {result.message}")
    taken = result.x > 0.5
    choice = np.full(len(values), -1)
    choice[rows[taken]] = cols[taken]
    total = _total(values, choice)
    bound = -float(getattr(result, "mip_dual_bound", -total))
    return Solution(choice, total, max(bound, total), "exact")


def _lagrangian(
    reduced: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float
) -> Solution:
    keep = np.isfinite(reduced).any(axis=1)
    sub = reduced[keep]
    prices, bound = _prices(sub, costs, caps, budget)
    priced = sub - (prices[0] * costs + prices[1:])[None, :]
    choice_sub = _greedy(sub, priced, costs, caps, budget)
    choice = np.full(len(reduced), -1)
    choice[keep] = choice_sub
    total = _total(np.where(np.isfinite(reduced), reduced, 0.0), choice)
    return Solution(choice, total, max(bound, total), "lagrangian")


def _dual(
    values: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float, y: np.ndarray
) -> tuple[float, np.ndarray]:
    """The dual bound at prices ``y = (lambda, mu_1..mu_K)`` and a subgradient."""
    priced = values - (y[0] * costs + y[1:])[None, :]
    best = _best(priced)
    rows = np.flatnonzero(best >= 0)
    gain = priced[rows, best[rows]].sum()
    counts = np.bincount(best[rows], minlength=len(costs)).astype(float)
    finite_budget = budget if np.isfinite(budget) else 0.0
    finite_caps = np.where(np.isfinite(caps), caps, 0.0)
    value = gain + y[0] * finite_budget + y[1:] @ finite_caps
    grad = np.concatenate([[finite_budget - costs @ counts], finite_caps - counts])
    return float(value), grad


def _prices(
    values: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float
) -> tuple[np.ndarray, float]:
    """Kelley's cutting planes for the prices minimising the dual bound; returns (prices, bound).

    Unlimited resources keep a price of 0. The box is large enough to hold an optimum: no
    price above a pair's largest value (per unit of cost for the budget) can help.
    """
    k = len(costs)
    top = float(values[np.isfinite(values)].max()) if np.isfinite(values).any() else 0.0
    spend = costs > 0
    upper_budget = float(np.max(top / costs[spend])) if np.isfinite(budget) and spend.any() else 0
    upper = np.concatenate([[upper_budget], np.where(np.isfinite(caps), top, 0.0)])
    y = np.zeros(k + 1)
    best_y, best = y, np.inf
    cuts: list[np.ndarray] = []
    rhs: list[float] = []
    for _ in range(MAX_PRICE_ITERATIONS):
        value, grad = _dual(values, costs, caps, budget, y)
        if value < best:
            best_y, best = y, value
        # t >= value + grad . (z - y)  <=>  grad . z - t <= grad . y - value
        cuts.append(np.concatenate([grad, [-1.0]]))
        rhs.append(float(grad @ y - value))
        master = linprog(
            np.concatenate([np.zeros(k + 1), [1.0]]),
            A_ub=np.array(cuts),
            b_ub=np.array(rhs),
            bounds=[*[(0.0, u) for u in upper], (None, None)],
            method="highs",
        )
        if master.status != 0:
            raise SolverError(f"price search failed: {master.message}")
        lower = float(master.x[-1])
        if best - lower <= PRICE_TOLERANCE * max(abs(best), 1.0):
            break
        y = master.x[:-1]
    return best_y, best


def _greedy(
    values: np.ndarray, priority: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float
) -> np.ndarray:
    """A feasible plan: pairs accepted in order of `priority` while budget and capacity last.

    Each round offers every unassigned customer its best remaining pair; the offers are
    accepted in priority order within each action's remaining capacity and the remaining
    budget, and refused pairs are withdrawn. Then the same runs on value per cost to fill
    what is left.
    """
    n = len(values)
    choice = np.full(n, -1)
    left = caps.copy()
    money = float(budget)
    for score in (priority, values):
        open_ = np.where(np.isfinite(values), score, -np.inf)
        for _ in range(MAX_GREEDY_ROUNDS):
            open_[choice >= 0] = -np.inf
            offer = np.argmax(open_, axis=1)
            rows = np.flatnonzero(np.isfinite(open_[np.arange(n), offer]))
            if not len(rows):
                break
            acts = offer[rows]
            order = np.argsort(-open_[rows, acts], kind="stable")
            rows, acts = rows[order], acts[order]
            full = _rank_within(acts, len(costs)) >= left[acts]
            spend = np.cumsum(np.where(full, 0.0, costs[acts]))
            ok = ~full & (spend <= money * (1 + 1e-12))
            choice[rows[ok]] = acts[ok]
            left -= np.bincount(acts[ok], minlength=len(costs))
            money -= float(costs[acts[ok]].sum())
            # Refused offers that can never fit any more are withdrawn; the first offer that
            # broke the budget costs more than what is left, so every round makes progress.
            gone = ~ok & (full | (costs[acts] > money * (1 + 1e-12)) | (left[acts] < 1))
            open_[rows[gone], acts[gone]] = -np.inf
            if not ok.any() and not gone.any():
                break
    return choice


def _rank_within(groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Position of each element among the earlier elements of its group (0, 1, 2, ...)."""
    order = np.argsort(groups, kind="stable")
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(groups), dtype=np.int64)
    rank[order] = np.arange(len(groups)) - np.repeat(starts, counts)
    return rank
