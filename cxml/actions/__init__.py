"""Next-best action: the catalogue, eligibility rules, learned uplift, values and the plan."""

from cxml.actions.catalogue import (
    NO_ACTION,
    Action,
    Catalogue,
    CatalogueError,
    Effect,
    replanning,
)
from cxml.actions.plan import PLAN_COLUMNS, ActionPlan, control_group, plan_actions
from cxml.actions.rules import Rule, RuleError, column_kinds, parse_rule
from cxml.actions.solver import Solution, SolverError, solve
from cxml.actions.uplift import UpliftModel, qini, qini_curve, unlearned_report
from cxml.actions.value import ActionValues, action_values, value_at_stake

__all__ = [
    "NO_ACTION",
    "PLAN_COLUMNS",
    "Action",
    "ActionPlan",
    "ActionValues",
    "Catalogue",
    "CatalogueError",
    "Effect",
    "Rule",
    "RuleError",
    "Solution",
    "SolverError",
    "UpliftModel",
    "action_values",
    "column_kinds",
    "control_group",
    "parse_rule",
    "plan_actions",
    "qini",
    "qini_curve",
    "replanning",
    "solve",
    "unlearned_report",
    "value_at_stake",
]
