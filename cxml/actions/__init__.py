"""Next-best action: eligibility rules, action values and the action plan."""

from cxml.actions.rules import Rule, RuleError, column_kinds, parse_rule

__all__ = ["Rule", "RuleError", "column_kinds", "parse_rule"]
