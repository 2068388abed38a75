"""Eligibility rules: safe boolean expressions over snapshot and score columns.

An action's eligibility rule is a short expression such as
``churn_probability > 0.4 and clv > 150 and email_consent``. `parse_rule` checks it once,
when the configuration is read, and `Rule.evaluate` computes it column-wise over a frame,
giving one ``bool`` per row.

Grammar
-------
- ``and``, ``or``, ``not`` and parentheses;
- comparisons ``== != < <= > >=``, including chains (``0.2 < churn_probability <= 0.8``);
- ``x in [...]`` and ``x not in [...]`` with a list or tuple of literals;
- arithmetic ``+ - * /`` and unary ``-``/``+`` on numbers;
- literals: numbers, strings (``'gold'``), ``True``/``False``;
- column names (Python identifiers);
- functions ``abs(x)``, ``min(a, b, ...)``, ``max(a, b, ...)``, ``isnull(x)``, ``notnull(x)``.
  There is no ``days_since``: snapshot columns are already measured at the cut-off
  (``days_since_last_purchase``), so dates never reach a rule.

Values have one of three kinds: ``number``, ``text`` and ``bool``. Arithmetic and ordering
need numbers, ``and``/``or``/``not`` need booleans, ``==``/``!=``/``in`` need both sides of
one kind, and the whole rule must be boolean. With column kinds given to `parse_rule` every
kind error is found at parse time; with only column names, the kinds are read from the frame
and checked before anything is computed.

Missing values
--------------
- A comparison or ``in`` with a missing (NaN/None/NA) operand is False, ``!=`` and
  ``not in`` included; ``not (x > 1)`` is therefore True for a missing ``x``. Write
  ``isnull(x) or x != 1`` to keep the missing rows.
- Arithmetic, ``abs``, ``min`` and ``max`` propagate missing values; division by zero gives
  a missing value (so comparisons on it are False), never an infinity or an error.
- A missing boolean counts as False (a customer whose consent is unknown has not consented).

Limits
------
A rule has at most `MAX_RULE_LENGTH` characters, `MAX_NODES` expression nodes and
`MAX_DEPTH` levels of nesting, checked before the expression is interpreted, so huge or
deeply nested input fails fast instead of exhausting memory or the recursion limit.

Why a hand-written interpreter over Python's `ast`
--------------------------------------------------
The text is parsed by the standard library's ``ast.parse(..., mode="eval")`` (the CPython
parser, maintained with the language); the tree is never compiled to code or evaluated. Each
node is checked against a whitelist, translated into the small immutable tree below and
interpreted here, vectorised over numpy arrays. Names are looked up only among the declared columns,
never in a Python namespace, so there is no attribute access, import, file or network access
to escape to. The maintained alternatives were weighed: asteval and simpleeval evaluate one
scalar Python value at a time, expose a much larger language than rules need, and have had
sandbox escapes reported; numexpr has no strings, ``in`` lists or missing-value rules; a
grammar library (lark, pyparsing) would add a grammar to maintain for the same language Python
already parses. ``pandas.eval``/``DataFrame.query`` fall back to Python evaluation and are not
a security boundary.
"""

from __future__ import annotations

import ast
import difflib
import operator
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

import numpy as np
import pandas as pd

from cxml.errors import ConfigError, ParameterError

Kind = Literal["number", "text", "bool"]
KINDS: tuple[Kind, ...] = get_args(Kind)
MAX_RULE_LENGTH = 2_000
MAX_NODES = 200
MAX_DEPTH = 30
_SHOWN_TEXT = 120

_KIND_PHRASE = {"number": "a number", "text": "text", "bool": "true/false"}
_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}
_COMPARE_FUNCS: dict[str, Callable[[object, object], object]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_FORBIDDEN_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "'**' is not allowed",
    ast.FloorDiv: "'//' is not allowed; use '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed",
    ast.LShift: "'<<' is not allowed",
    ast.RShift: "'>>' is not allowed",
    ast.BitAnd: "'&' is not allowed; use 'and'",
    ast.BitOr: "'|' is not allowed; use 'or'",
    ast.BitXor: "'^' is not allowed",
    ast.Invert: "'~' is not allowed; use 'not'",
    ast.Is: "'is' is not allowed; use '==' or isnull(x)",
    ast.IsNot: "'is not' is not allowed; use '!=' or notnull(x)",
}
_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Subscript: "subscripts (x[...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "conditional expressions (a if c else b) are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Starred: "starred expressions (*x) are not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed; use a list [...]",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}
_FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "abs": (1, 1),
    "isnull": (1, 1),
    "max": (2, None),
    "min": (2, None),
    "notnull": (1, 1),
}
_FUNCTION_LIST = ", ".join(sorted(_FUNCTION_ARITY))
# Operator and context nodes are part of their expression, not parts of their own.
_TOKENS = (ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop)


class RuleError(ConfigError):
    """An eligibility rule is invalid, or cannot be evaluated on the frame it was given.

    The message names the action, the rule text, the 1-based position in the text (when the
    problem has one) and what is wrong.
    """

    def __init__(self, action: str, rule: str | None, offset: int | None, reason: str) -> None:
        self.action = action
        self.rule = rule
        self.reason = reason
        self.line: int | None = None
        self.column: int | None = None
        if rule is None:  # a catalogue setting the action depends on, not its rule
            super().__init__(f"action {action!r}: {reason}")
            return
        where = ""
        if offset is not None:
            self.line = rule.count("\n", 0, offset) + 1
            self.column = offset - (rule.rfind("\n", 0, offset) + 1) + 1
            where = f", column {self.column}"
            if "\n" in rule:
                where = f", line {self.line}" + where
        shown = rule if len(rule) <= _SHOWN_TEXT else rule[: _SHOWN_TEXT - 3] + "..."
        super().__init__(f'action {action!r}: eligibility rule "{shown}"{where}: {reason}')


# The parsed rule: a small immutable tree. `start`/`end` are character offsets into the text.
@dataclass(frozen=True)
class _Column:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class _Literal:
    value: float | str | bool
    start: int
    end: int


@dataclass(frozen=True)
class _Unary:
    op: Literal["-", "+", "not"]
    operand: _Node
    start: int
    end: int


@dataclass(frozen=True)
class _Binary:
    op: str
    left: _Node
    right: _Node
    start: int
    end: int


@dataclass(frozen=True)
class _Logical:
    op: Literal["and", "or"]
    operands: tuple[_Node, ...]
    start: int
    end: int


@dataclass(frozen=True)
class _In:
    operand: _Node
    values: tuple[float | str | bool, ...]
    negated: bool
    start: int
    end: int


@dataclass(frozen=True)
class _Call:
    function: str
    args: tuple[_Node, ...]
    start: int
    end: int


_Node: TypeAlias = _Column | _Literal | _Unary | _Binary | _Logical | _In | _Call


@dataclass(frozen=True)
class Rule:
    """A parsed eligibility rule; build it with `parse_rule`.

    Attributes
    ----------
    action
        The action the rule belongs to (named in every error).
    text
        The rule as written.
    columns
        The columns the rule reads, in order of first use.
    """

    action: str
    text: str
    columns: tuple[str, ...]
    _tree: _Node = field(repr=False)
    _kinds: tuple[tuple[str, Kind | None], ...] = field(repr=False)

    def __str__(self) -> str:
        return self.text

    def evaluate(self, frame: pd.DataFrame) -> np.ndarray:
        """One ``bool`` per row of `frame`: whether the row satisfies the rule.

        Raises `RuleError` when a column is absent, holds values of another kind than the
        rule was parsed for, or when the rule is not boolean for the frame's column kinds.
        """
        if not isinstance(frame, pd.DataFrame):
            raise ParameterError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
        declared = dict(self._kinds)
        values: dict[str, _Value] = {}
        kinds: dict[str, Kind | None] = {}
        for name in self.columns:
            values[name] = self._read_column(frame, name, declared[name])
            kinds[name] = values[name].kind
        # An undeclared all-missing column takes the kind its use in the rule asks for.
        unclear = [
            n for n in self.columns if declared[n] is None and _series_kind(frame[n]) is None
        ]
        kinds.update(dict.fromkeys(unclear))
        for name in unclear:
            kinds[name] = self._kind_for(name, kinds)
            values[name] = _to_value(frame[name], kinds[name])
        self._check_kinds(kinds)
        with np.errstate(all="ignore"):
            result = _truth(_evaluate(self._tree, values))
        return np.broadcast_to(result, (len(frame),)).copy()

    def _read_column(self, frame: pd.DataFrame, name: str, declared: Kind | None) -> _Value:
        """The column as an array of the declared kind (or of its own kind when undeclared)."""
        offset = _first_use(self._tree, name)
        if name not in frame.columns:
            raise RuleError(self.action, self.text, offset, f"column {name!r} is not in the frame")
        series = frame[name]
        if isinstance(series, pd.DataFrame):
            raise RuleError(self.action, self.text, offset, f"column {name!r} appears twice")
        actual = _series_kind(series)
        if actual == "unsupported":
            reason = (
                f"column {name!r} holds {series.dtype} values ({_inferred(series)}); "
                "rules work on numbers, text and true/false columns"
            )
            raise RuleError(self.action, self.text, offset, reason)
        if declared is not None and actual is not None and actual != declared:
            reason = (
                f"column {name!r} holds {_KIND_PHRASE[actual]}, but the rule was parsed "
                f"with it as {_KIND_PHRASE[declared]}"
            )
            raise RuleError(self.action, self.text, offset, reason)
        return _to_value(series, declared or actual or "number")

    def _kind_for(self, name: str, kinds: Mapping[str, Kind | None]) -> Kind:
        """The first kind of column `name` the rule accepts (number when none does: the
        final check then reports the rule's own error)."""
        for kind in ("number", "bool", "text"):
            try:
                self._check_kinds({**kinds, name: kind})
            except RuleError:
                continue
            return kind
        return "number"

    def _check_kinds(self, kinds: Mapping[str, Kind | None]) -> None:
        """Check every operation's operand kinds, and that the rule as a whole is boolean."""
        kind = _Checker(self.action, self.text, kinds).kind(self._tree)
        if kind not in (None, "bool"):
            reason = (
                "the rule must be true or false for each row, but "
                f"{_snippet(self.text, self._tree)!r} is {_KIND_PHRASE[kind]}"
            )
            raise RuleError(self.action, self.text, self._tree.start, reason)


def column_kinds(frame: pd.DataFrame) -> dict[str, Kind]:
    """The kind of each column of `frame` a rule can use (others, e.g. dates, are left out).

    An all-missing column of no clear kind counts as a number.
    """
    kinds: dict[str, Kind] = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(name, str) and isinstance(series, pd.Series):
            kind = _series_kind(series)
            if kind != "unsupported":
                kinds[name] = kind or "number"
    return kinds


def parse_rule(text: str, *, action: str, columns: Mapping[str, Kind] | Collection[str]) -> Rule:
    """Parse and check an eligibility rule for `action` over the given columns.

    Parameters
    ----------
    text
        The rule, e.g. ``"churn_probability > 0.4 and clv > 150 and email_consent"``.
    action
        The action the rule belongs to; every error names it.
    columns
        The columns a rule may use: a mapping of name to kind (``"number"``, ``"text"``,
        ``"bool"``; see `column_kinds`) to check kinds now, or just the names to check kinds
        when the rule is evaluated.

    Raises
    ------
    RuleError
        The rule is not a string, too long or too deeply nested, not valid syntax, uses
        anything outside the grammar, names an unknown column or function, or mixes kinds.
    """
    if isinstance(columns, str):
        raise ParameterError("columns must be a collection of column names, not one string")
    if isinstance(columns, Mapping):
        bad = {name: kind for name, kind in columns.items() if kind not in KINDS}
        if bad:
            raise ParameterError(f"column kinds must be one of {KINDS}, got {bad}")
        known: dict[str, Kind | None] = dict(columns)
    else:
        known = dict.fromkeys(columns)
    if not isinstance(text, str):
        reason = f"the rule must be a string, got {type(text).__name__}"
        raise RuleError(action, str(text)[:_SHOWN_TEXT], None, reason)
    tree = _Parser(action, text, known).parse()
    names = tuple(dict.fromkeys(_column_names(tree)))
    kinds = tuple((name, known[name]) for name in names)
    rule = Rule(action=action, text=text, columns=names, _tree=tree, _kinds=kinds)
    rule._check_kinds(dict(kinds))
    return rule


class _Parser:
    """Translate the whitelisted part of Python's expression syntax into the rule tree."""

    def __init__(self, action: str, text: str, known: Mapping[str, Kind | None]) -> None:
        self.action = action
        self.text = text
        self.known = known
        # The parser rejects leading indentation; offsets stay relative to the original text.
        self.source = text.lstrip()
        self.lines = self.source.split("\n")
        self.line_starts = [len(text) - len(self.source)]
        for line in self.lines[:-1]:
            self.line_starts.append(self.line_starts[-1] + len(line) + 1)

    def fail(self, offset: int | None, reason: str) -> RuleError:
        return RuleError(self.action, self.text, offset, reason)

    def parse(self) -> _Node:
        if len(self.text) > MAX_RULE_LENGTH:
            reason = f"the rule is {len(self.text)} characters long; the limit is {MAX_RULE_LENGTH}"
            raise self.fail(None, reason)
        if not self.source.strip():
            raise self.fail(None, "the rule is empty")
        try:
            with warnings.catch_warnings():
                # e.g. an invalid escape in a string: harmless in a rule, and an exception
                # (not a clean RuleError) where warnings are errors.
                warnings.simplefilter("ignore")
                tree = ast.parse(self.source, mode="eval")
        except SyntaxError as error:
            offset = None
            if error.lineno and error.offset is not None and error.lineno <= len(self.lines):
                line = self.lines[error.lineno - 1]
                # Offset 0 marks the end of the input ("clv > 1 and").
                column = len(line) if error.offset < 1 else min(error.offset - 1, len(line))
                offset = self.line_starts[error.lineno - 1] + column
            raise self.fail(offset, f"not a valid expression: {error.msg}") from None
        except (ValueError, OverflowError) as error:
            raise self.fail(None, f"not a valid expression: {error}") from None
        except (MemoryError, RecursionError):
            raise self.fail(None, "the rule is too deeply nested") from None
        self._check_size(tree.body)
        return self.node(tree.body)

    def _check_size(self, root: ast.expr) -> None:
        """Bound the node count and depth without recursion, before any recursive walk."""
        count, stack = 0, [(root, 1)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self.fail(None, f"the rule has more than {MAX_NODES} parts (the limit)")
            if depth > MAX_DEPTH:
                reason = f"the rule nests more than {MAX_DEPTH} levels deep (the limit)"
                # Some nodes (a lambda's argument list) have no position.
                offset = self._start(node) if isinstance(node, ast.expr) else None
                raise self.fail(offset, reason)
            stack.extend(
                (child, depth + 1)
                for child in ast.iter_child_nodes(node)
                if not isinstance(child, _TOKENS)
            )

    def _start(self, node: ast.AST) -> int:
        return self._offset(node.lineno, node.col_offset)

    def _end(self, node: ast.AST) -> int:
        return self._offset(node.end_lineno, node.end_col_offset)

    def _offset(self, lineno: int | None, byte_column: int | None) -> int:
        """Character offset in the text of an AST position (1-based line, UTF-8 byte column)."""
        line = self.lines[(lineno or 1) - 1]
        before = line.encode()[: byte_column or 0].decode(errors="ignore")
        return self.line_starts[(lineno or 1) - 1] + len(before)

    def node(self, node: ast.expr) -> _Node:
        start, end = self._start(node), self._end(node)
        if isinstance(node, ast.Name):
            return self.column(node.id, start, end)
        if isinstance(node, ast.Constant):
            return _Literal(self.literal(node), start, end)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, start, end)
        if isinstance(node, ast.BinOp):
            op = _ARITHMETIC.get(type(node.op))
            if op is None:
                raise self.fail(
                    self._skip_space(self._end(node.left)), _FORBIDDEN_OPERATORS[type(node.op)]
                )
            return _Binary(op, self.node(node.left), self.node(node.right), start, end)
        if isinstance(node, ast.BoolOp):
            op = "and" if isinstance(node.op, ast.And) else "or"
            return _Logical(op, tuple(self.node(value) for value in node.values), start, end)
        if isinstance(node, ast.Compare):
            return self.compare(node, start, end)
        if isinstance(node, ast.Call):
            return self.call(node, start, end)
        if isinstance(node, ast.List | ast.Tuple):
            raise self.fail(start, "a list is only allowed on the right of 'in' or 'not in'")
        if isinstance(node, ast.Attribute):
            raise self.attribute_error(node)
        reason = _FORBIDDEN_NODES.get(type(node), f"{type(node).__name__} is not allowed")
        raise self.fail(start, reason)

    def attribute_error(self, node: ast.Attribute) -> RuleError:
        """Point at the attribute name, the part after the dot."""
        offset = self._end(node) - len(node.attr)
        return self.fail(offset, f"attribute access ('.{node.attr}') is not allowed")

    def _skip_space(self, offset: int) -> int:
        """The first offset at or after `offset` that is not blank or a closing parenthesis."""
        while offset < len(self.text) and self.text[offset] in " \t\n)":
            offset += 1
        return offset

    def column(self, name: str, start: int, end: int) -> _Column:
        if name not in self.known:
            close = difflib.get_close_matches(name, list(self.known), n=3, cutoff=0.6)
            if close:
                hint = "did you mean " + " or ".join(repr(match) for match in close) + "?"
            elif self.known:
                hint = f"{len(self.known)} known, e.g. " + ", ".join(
                    repr(known) for known in sorted(self.known)[:5]
                )
            else:
                hint = "no columns are known"
            if name in _FUNCTION_ARITY:
                hint = f"{name} is a function: {name}(x)"
            raise self.fail(start, f"unknown column {name!r} ({hint})")
        return _Column(name, start, end)

    def literal(self, node: ast.Constant) -> float | str | bool:
        value = node.value
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float):
            try:
                return float(value)
            except OverflowError:
                raise self.fail(self._start(node), "the number is too large") from None
        if value is None:
            reason = "None is not allowed; use isnull(x) or notnull(x)"
        elif value is Ellipsis:
            reason = "'...' is not allowed"
        else:
            reason = f"{type(value).__name__} literals are not allowed"
        raise self.fail(self._start(node), reason)

    def unary(self, node: ast.UnaryOp, start: int, end: int) -> _Node:
        operand = self.node(node.operand)
        if isinstance(node.op, ast.Not):
            return _Unary("not", operand, start, end)
        if isinstance(node.op, ast.USub):
            return _Unary("-", operand, start, end)
        if isinstance(node.op, ast.UAdd):
            return _Unary("+", operand, start, end)
        raise self.fail(start, _FORBIDDEN_OPERATORS[type(node.op)])

    def compare(self, node: ast.Compare, start: int, end: int) -> _Node:
        """A comparison chain ``a < b <= c`` is ``a < b and b <= c``."""
        left = self.node(node.left)
        parts: list[_Node] = []
        last = len(node.ops) - 1
        for position, (op, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            if isinstance(op, ast.In | ast.NotIn):
                if position < last:
                    reason = "a list is only allowed on the right of 'in' or 'not in'"
                    raise self.fail(self._start(comparator), reason)
                values = self.literal_list(comparator)
                negated = isinstance(op, ast.NotIn)
                parts.append(_In(left, values, negated, left.start, self._end(comparator)))
                continue
            symbol = _COMPARISONS.get(type(op))
            if symbol is None:
                raise self.fail(self._skip_space(left.end), _FORBIDDEN_OPERATORS[type(op)])
            right = self.node(comparator)
            parts.append(_Binary(symbol, left, right, left.start, right.end))
            left = right
        return parts[0] if len(parts) == 1 else _Logical("and", tuple(parts), start, end)

    def literal_list(self, node: ast.expr) -> tuple[float | str | bool, ...]:
        if not isinstance(node, ast.List | ast.Tuple):
            reason = "the right side of 'in' must be a list of literals, like [1, 2] or ['a', 'b']"
            raise self.fail(self._start(node), reason)
        values: list[float | str | bool] = []
        for element in node.elts:
            negative = isinstance(element, ast.UnaryOp) and isinstance(element.op, ast.USub)
            item = element.operand if negative else element
            if not isinstance(item, ast.Constant):
                reason = "list items must be numbers, strings or True/False"
                raise self.fail(self._start(element), reason)
            value = self.literal(item)
            if negative:
                if not isinstance(value, float):
                    raise self.fail(self._start(element), "'-' needs a number")
                value = -value
            values.append(value)
        kinds = {_literal_kind(value) for value in values}
        if len(kinds) > 1:
            phrases = " and ".join(_KIND_PHRASE[kind] for kind in sorted(kinds))
            raise self.fail(self._start(node), f"the list mixes {phrases}")
        return tuple(values)

    def call(self, node: ast.Call, start: int, end: int) -> _Call:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise self.attribute_error(node.func)
            raise self.fail(start, f"only the functions {_FUNCTION_LIST} may be called")
        name = node.func.id
        if name not in _FUNCTION_ARITY:
            raise self.fail(start, f"unknown function {name!r} (allowed: {_FUNCTION_LIST})")
        if node.keywords:
            raise self.fail(self._start(node.keywords[0]), "keyword arguments are not allowed")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(self._start(arg), _FORBIDDEN_NODES[ast.Starred])
        low, high = _FUNCTION_ARITY[name]
        if not low <= len(node.args) <= (high or len(node.args)):
            wanted = f"{low}" if low == high else f"at least {low}"
            plural = "" if wanted == "1" else "s"
            reason = f"{name}() takes {wanted} argument{plural}, got {len(node.args)}"
            raise self.fail(start, reason)
        return _Call(name, tuple(self.node(arg) for arg in node.args), start, end)


class _Checker:
    """Infer the kind of each node, failing on kind errors; unknown kinds (None) pass."""

    def __init__(self, action: str, text: str, kinds: Mapping[str, Kind | None]) -> None:
        self.action = action
        self.text = text
        self.kinds = kinds

    def expect(self, node: _Node, wanted: Kind, what: str) -> None:
        kind = self.kind(node)
        if kind is not None and kind != wanted:
            plural = "numbers" if wanted == "number" else "true/false values"
            reason = (
                f"{what} needs {plural}, but {_snippet(self.text, node)!r} is {_KIND_PHRASE[kind]}"
            )
            raise RuleError(self.action, self.text, node.start, reason)

    def kind(self, node: _Node) -> Kind | None:
        if isinstance(node, _Column):
            return self.kinds[node.name]
        if isinstance(node, _Literal):
            return _literal_kind(node.value)
        if isinstance(node, _Unary):
            wanted: Kind = "bool" if node.op == "not" else "number"
            self.expect(node.operand, wanted, f"'{node.op}'")
            return wanted
        if isinstance(node, _Logical):
            for operand in node.operands:
                self.expect(operand, "bool", f"'{node.op}'")
            return "bool"
        if isinstance(node, _In):
            return self.membership(node)
        if isinstance(node, _Call):
            if node.function in ("isnull", "notnull"):
                self.kind(node.args[0])
                return "bool"
            for arg in node.args:
                self.expect(arg, "number", f"{node.function}()")
            return "number"
        if node.op in _COMPARE_FUNCS:
            return self.comparison(node)
        self.expect(node.left, "number", f"'{node.op}'")
        self.expect(node.right, "number", f"'{node.op}'")
        return "number"

    def comparison(self, node: _Binary) -> Kind:
        if node.op not in ("==", "!="):
            self.expect(node.left, "number", f"'{node.op}'")
            self.expect(node.right, "number", f"'{node.op}'")
            return "bool"
        left, right = self.kind(node.left), self.kind(node.right)
        if left is not None and right is not None and left != right:
            reason = (
                f"cannot compare {_KIND_PHRASE[left]} with {_KIND_PHRASE[right]} "
                f"({_snippet(self.text, node)!r})"
            )
            raise RuleError(self.action, self.text, node.start, reason)
        return "bool"

    def membership(self, node: _In) -> Kind:
        kind = self.kind(node.operand)
        if node.values and kind is not None:
            listed = _literal_kind(node.values[0])
            if listed != kind:
                reason = (
                    f"cannot look up {_KIND_PHRASE[kind]} ({_snippet(self.text, node.operand)!r})"
                    f" in a list of {'numbers' if listed == 'number' else _KIND_PHRASE[listed]}"
                )
                raise RuleError(self.action, self.text, node.start, reason)
        return "bool"


@dataclass(frozen=True)
class _Value:
    """An evaluated column: `data` (scalar or array) and where it is missing (None: nowhere)."""

    kind: Kind
    data: np.ndarray
    missing: np.ndarray | None


def _evaluate(node: _Node, columns: Mapping[str, _Value]) -> _Value:
    """Compute a checked rule tree over the columns (numpy errors are silenced by the caller)."""
    if isinstance(node, _Column):
        return columns[node.name]
    if isinstance(node, _Literal):
        return _Value(_literal_kind(node.value), np.asarray(node.value), None)
    if isinstance(node, _Unary):
        operand = _evaluate(node.operand, columns)
        if node.op == "not":
            return _Value("bool", ~_truth(operand), None)
        return _Value("number", -operand.data if node.op == "-" else operand.data, None)
    if isinstance(node, _Logical):
        combine = np.logical_and if node.op == "and" else np.logical_or
        result = _truth(_evaluate(node.operands[0], columns))
        for operand in node.operands[1:]:
            result = combine(result, _truth(_evaluate(operand, columns)))
        return _Value("bool", result, None)
    if isinstance(node, _In):
        operand = _evaluate(node.operand, columns)
        found = pd.Series(np.atleast_1d(operand.data)).isin(node.values).to_numpy()
        if node.negated:
            found = ~found
        return _Value("bool", found & ~_missing(operand), None)
    if isinstance(node, _Call):
        args = [_evaluate(arg, columns) for arg in node.args]
        if node.function == "isnull":
            return _Value("bool", _missing(args[0]), None)
        if node.function == "notnull":
            return _Value("bool", ~_missing(args[0]), None)
        if node.function == "abs":
            return _Value("number", np.abs(args[0].data), None)
        extreme = np.minimum if node.function == "min" else np.maximum
        result = args[0].data
        for arg in args[1:]:
            result = extreme(result, arg.data)
        return _Value("number", result, None)
    left, right = _evaluate(node.left, columns), _evaluate(node.right, columns)
    if node.op in _COMPARE_FUNCS:
        compared = np.asarray(_COMPARE_FUNCS[node.op](left.data, right.data), dtype=bool)
        return _Value("bool", compared & ~_missing(left) & ~_missing(right), None)
    if node.op == "/":
        quotient = np.divide(left.data, right.data)
        return _Value("number", np.where(right.data == 0, np.nan, quotient), None)
    arithmetic = {"+": np.add, "-": np.subtract, "*": np.multiply}[node.op]
    return _Value("number", arithmetic(left.data, right.data), None)


def _missing(value: _Value) -> np.ndarray:
    if value.kind == "number":
        return np.isnan(value.data)
    if value.missing is None:
        return np.zeros(np.shape(value.data), dtype=bool)
    return value.missing


def _truth(value: _Value) -> np.ndarray:
    """A boolean value with missing entries as False."""
    data = np.asarray(value.data, dtype=bool)
    return data if value.missing is None else data & ~value.missing


def _literal_kind(value: float | str | bool) -> Kind:
    if isinstance(value, bool):
        return "bool"
    return "text" if isinstance(value, str) else "number"


def _series_kind(series: pd.Series) -> Kind | Literal["unsupported"] | None:
    """The kind of a frame column; None when it is all missing and of no clear kind."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _series_kind(pd.Series(dtype.categories)) if len(dtype.categories) else None
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_complex_dtype(dtype):
        return "number"
    is_object = pd.api.types.is_object_dtype(dtype)
    if pd.api.types.is_string_dtype(dtype) and not is_object:
        return "text"
    if not is_object:
        return "unsupported"
    return {
        "boolean": "bool",
        "string": "text",
        "integer": "number",
        "floating": "number",
        "mixed-integer-float": "number",
        "empty": None,
    }.get(_inferred(series), "unsupported")


def _inferred(series: pd.Series) -> str:
    return pd.api.types.infer_dtype(series, skipna=True)


def _to_value(series: pd.Series, kind: Kind) -> _Value:
    missing = series.isna().to_numpy(dtype=bool)
    if kind == "number":
        return _Value(kind, series.to_numpy(dtype="float64", na_value=np.nan), None)
    if kind == "bool":
        return _Value(kind, series.to_numpy(dtype=bool, na_value=False), missing)
    return _Value(kind, series.to_numpy(dtype=object, na_value=None), missing)


def _children(node: _Node) -> tuple[_Node, ...]:
    if isinstance(node, _Unary | _In):
        return (node.operand,)
    if isinstance(node, _Binary):
        return (node.left, node.right)
    if isinstance(node, _Logical):
        return node.operands
    if isinstance(node, _Call):
        return node.args
    return ()


def _column_names(node: _Node) -> list[str]:
    if isinstance(node, _Column):
        return [node.name]
    return [name for child in _children(node) for name in _column_names(child)]


def _first_use(node: _Node, name: str) -> int | None:
    if isinstance(node, _Column):
        return node.start if node.name == name else None
    for child in _children(node):
        found = _first_use(child, name)
        if found is not None:
            return found
    return None


def _snippet(text: str, node: _Node) -> str:
    snippet = text[node.start : node.end]
    return snippet if len(snippet) <= 60 else snippet[:57] + "..."
