"""The plan solver against an exhaustive search, and its constraints on random instances."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxml.actions import Solution, solve
from cxml.actions import solver as solver_module
from cxml.errors import ParameterError


def exhaustive(values: np.ndarray, costs: np.ndarray, caps: np.ndarray, budget: float) -> float:
    """The optimum by trying every action (or none) for every customer, memoised on the
    resources left: an independent reference for small instances with integer costs."""
    n, k = values.shape

    @cache
    def best(i: int, money: float, left: tuple[int, ...]) -> float:
        if i == n:
            return 0.0
        top = best(i + 1, money, left)  # no action
        for a in range(k):
            if np.isfinite(values[i, a]) and costs[a] <= money + 1e-9 and left[a] > 0:
                rest = tuple(c - (j == a) for j, c in enumerate(left))
                top = max(top, values[i, a] + best(i + 1, money - costs[a], rest))
        return top

    return best(0, float(budget), tuple(int(min(c, n)) for c in caps))


@st.composite
def instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    n = draw(st.integers(1, 12))
    k = draw(st.integers(1, 4))
    cell = st.one_of(
        st.floats(-20, 60, allow_nan=False).map(lambda v: round(v, 2)), st.just(-np.inf)
    )
    values = np.array(
        draw(st.lists(st.lists(cell, min_size=k, max_size=k), min_size=n, max_size=n)), dtype=float
    )
    costs = np.array(draw(st.lists(st.integers(0, 6), min_size=k, max_size=k)), dtype=float)
    caps = np.array(
        draw(st.lists(st.one_of(st.integers(0, 6), st.just(np.inf)), min_size=k, max_size=k)),
        dtype=float,
    )
    budget = draw(st.one_of(st.integers(0, 40).map(float), st.just(np.inf)))
    return values, costs, caps, budget


def assert_feasible(choice, values, costs, caps, budget) -> None:
    taken = np.flatnonzero(choice >= 0)
    assert np.all(np.isfinite(values[taken, choice[taken]])), "a forbidden action was given"
    counts = np.bincount(choice[taken], minlength=len(costs))
    assert np.all(counts <= caps), (counts, caps)
    assert costs[choice[taken]].sum() <= budget + 1e-9


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_exact_plan_equals_exhaustive_optimum(instance) -> None:
    values, costs, caps, budget = instance
    solution = solve(values, costs, capacities=caps, budget=budget, method="exact", mip_gap=0)
    assert_feasible(solution.choice, values, costs, caps, budget)
    assert solution.value == pytest.approx(exhaustive(values, costs, caps, budget), abs=1e-6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_lagrangian_plan_is_feasible_and_its_bound_holds(instance) -> None:
    values, costs, caps, budget = instance
    solution = solve(values, costs, capacities=caps, budget=budget, method="lagrangian")
    optimum = exhaustive(values, costs, caps, budget)
    assert_feasible(solution.choice, values, costs, caps, budget)
    assert solution.value <= optimum + 1e-6
    assert solution.bound >= optimum - 1e-6  # the dual bound is a true upper bound
    assert 0 <= solution.gap <= 1


def test_large_instance_gap_is_small() -> None:
    rng = np.random.default_rng(0)
    values = rng.gamma(2, 10, (20_000, 5)) - rng.uniform(5, 15, 5)
    values[rng.random(values.shape) < 0.3] = -np.inf
    costs = np.array([1, 3, 10, 20, 2.0])
    caps = np.array([8000, 4000, 1200, 400, np.inf])
    exact = solve(values, costs, capacities=caps, budget=24_000, method="exact")
    fast = solve(values, costs, capacities=caps, budget=24_000, method="lagrangian")
    assert_feasible(fast.choice, values, costs, caps, 24_000)
    assert fast.value >= exact.value * (1 - 0.005)
    assert fast.bound >= exact.value - 1e-6
    assert fast.gap < 0.005


def test_unconstrained_takes_each_customers_best_positive_action() -> None:
    values = np.array([[1.0, 5.0], [-1.0, -2.0], [3.0, -np.inf]])
    solution = solve(values, np.array([1.0, 1.0]))
    assert solution.choice.tolist() == [1, -1, 0]
    assert solution.value == 8.0 and solution.method == "unconstrained"


@pytest.mark.parametrize("method", ["exact", "lagrangian"])
def test_a_fractional_capacity_is_rounded_down(method) -> None:
    """A capacity of 1.5 allows one customer, not two."""
    values = np.array([[10.0], [9.0], [8.0]])
    solution = solve(values, np.array([1.0]), capacities=np.array([1.5]), method=method)
    assert solution.choice.tolist() == [0, -1, -1]


def test_gap_is_relative_to_the_bound() -> None:
    """The gap is (bound - value) / bound, not relative to the value (which would say 1)."""
    assert Solution(np.array([0]), 50.0, 100.0, "lagrangian").gap == pytest.approx(0.5)


def test_exact_bound_is_highs_dual_bound_when_stopped_at_a_gap() -> None:
    """With a non-zero mip gap HiGHS may stop early: the bound is then its dual bound, above
    the plan's value, not the value itself. Seven customers want one action of cost 2 with a
    budget of 7: the plan takes three (16 + 15 + 14 = 45), the relaxation a half more."""
    values = np.arange(10.0, 17.0)[:, None]
    costs = np.array([2.0])
    stopped = solve(values, costs, budget=7, method="exact", mip_gap=0.3)
    assert stopped.value == 45.0
    assert stopped.bound > stopped.value
    assert 0 < stopped.gap <= 0.3
    proved = solve(values, costs, budget=7, method="exact", mip_gap=0)
    assert proved.bound == proved.value == 45.0


def test_lagrangian_fill_pass_spends_leftover_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the price-ordered pass runs out of offer rounds, the fill pass by value still
    gives the leftover budget to a cheap positive pair.

    Customers 0..n-1 each take their own action of capacity 1; customer n wants all of those
    (refused one per round) and a cheap action f (value 60, cost 1) that the budget's high
    price puts last; three customers compete for an action of cost 2 with a budget of 5, so
    1 is left over for f."""
    rounds = 3
    monkeypatch.setattr(solver_module, "MAX_GREEDY_ROUNDS", rounds)
    n = rounds + 2
    z, f = n, n + 1
    values = np.full((n + 4, n + 2), -np.inf)
    values[np.arange(n), np.arange(n)] = 100.0
    values[n, :n] = 50.0
    values[n, f] = 60.0
    values[n + 1 :, z] = 300.0
    costs = np.r_[np.zeros(n), 2.0, 1.0]
    caps = np.r_[np.ones(n), np.inf, np.inf]
    solution = solve(values, costs, capacities=caps, budget=5, method="lagrangian")
    assert_feasible(solution.choice, values, costs, caps, 5)
    assert solution.choice[n] == f
    assert solution.value == pytest.approx(100.0 * n + 60.0 + 600.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"values": np.ones(3), "costs": np.ones(1)}, "2-dimensional"),
        ({"values": np.ones((2, 2)), "costs": np.ones(3)}, "one entry per action"),
        ({"values": np.ones((2, 1)), "costs": np.array([-1.0])}, "costs must be finite"),
        ({"values": np.ones((2, 1)), "costs": np.ones(1), "budget": -1.0}, "budget must be"),
        ({"values": np.ones((2, 1)), "costs": np.ones(1), "method": "greedy"}, "method must"),
    ],
)
def test_bad_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(ParameterError, match=message):
        solve(**kwargs)


@pytest.mark.parametrize("method", ["auto", "exact", "lagrangian"])
@pytest.mark.parametrize(
    ("budget", "caps"), [(0.0, [np.inf, np.inf]), (np.inf, [0, 0]), (1.0, [0, np.inf])]
)
def test_actions_out_of_reach_bind_the_plan(method, budget, caps) -> None:
    """Every paying action costs more than the budget or has a capacity of 0: nothing can be
    given, which is the proven optimum ("exact"), not an unconstrained plan."""
    values = np.array([[5.0, 8.0], [3.0, -1.0]])
    solution = solve(
        values, np.array([2.0, 2.0]), capacities=np.array(caps), budget=budget, method=method
    )
    assert solution.choice.tolist() == [-1, -1]
    assert (solution.value, solution.bound, solution.method) == (0.0, 0.0, "exact")


@pytest.mark.parametrize("method", ["auto", "exact", "lagrangian"])
def test_the_best_action_within_reach_is_exact_when_the_best_one_is_not(method) -> None:
    """The budget of 5 rules out the action of cost 10: each customer's best remaining action
    fits, so that is the optimum, but the budget binds."""
    values = np.array([[5.0, 9.0], [4.0, 9.0]])
    solution = solve(values, np.array([1.0, 10.0]), budget=5, method=method)
    assert solution.choice.tolist() == [0, 0]
    assert (solution.value, solution.bound, solution.method) == (9.0, 9.0, "exact")
