"""Eligibility rules: what they compute, what they refuse, and that nothing else comes out."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from cxml.actions import Rule, RuleError, column_kinds, parse_rule
from cxml.errors import ConfigError

NAN = np.nan
FRAME = pd.DataFrame(
    {
        "churn_probability": [0.1, 0.5, NAN, 0.9, 0.3, 0.45],
        "clv": [200.0, 100.0, 300.0, 0.0, NAN, 151.0],
        "orders": [3, 0, 5, 1, 2, 7],
        "email_consent": pd.array([True, None, True, False, True, False], dtype="boolean"),
        "sms_consent": [True, False, True, True, False, False],
        "segment": pd.Series(["gold", None, "silver", "gold", "bronze", "silver"], dtype="str"),
        "country": pd.Series(["DE", "FR", None, "DE", "AT", "gold"], dtype=object),
    }
)
KINDS = column_kinds(FRAME)
ACTION = "retention_call"

p, clv, orders = FRAME["churn_probability"], FRAME["clv"], FRAME["orders"].astype(float)
email = FRAME["email_consent"].fillna(False).astype(bool)
sms, segment, country = FRAME["sms_consent"], FRAME["segment"], FRAME["country"]


def parse(text: str, columns: object = KINDS) -> Rule:
    return parse_rule(text, action=ACTION, columns=columns)  # type: ignore[arg-type]


def known(*series: pd.Series) -> pd.Series:
    """Rows where none of `series` is missing: a comparison is False elsewhere."""
    result = pd.Series(True, index=FRAME.index)
    for values in series:
        result &= values.notna()
    return result


VALID: list[tuple[str, pd.Series]] = [
    (
        "churn_probability > 0.4 and clv > 150 and email_consent",
        (p > 0.4) & (clv > 150) & email,
    ),
    ("0.2 < churn_probability <= 0.8", (p > 0.2) & (p <= 0.8)),
    ("clv != 100", known(clv) & (clv != 100)),
    ("not clv > 150", ~(clv > 150)),
    ("segment in ['gold', 'silver']", segment.isin(["gold", "silver"])),
    ("segment not in ('gold',)", known(segment) & ~segment.isin(["gold"])),
    ("isnull(clv) or clv >= 200", clv.isna() | (clv >= 200)),
    ("notnull(segment) and country == 'DE'", segment.notna() & (country == "DE")),
    ("segment == country", known(segment, country) & (segment == country)),
    ("clv / orders > 50", (clv / orders.replace(0, NAN)) > 50),
    ("clv / 0 < 1 or clv / 0 >= 1", pd.Series(False, index=FRAME.index)),
    ("abs(churn_probability - 0.5) < 0.1", (p - 0.5).abs() < 0.1),
    ("max(clv, 120) * churn_probability > 40", np.maximum(clv, 120) * p > 40),
    ("min(orders, 3, 4) == 3", known(orders) & (np.minimum(orders, 3) == 3)),
    ("-clv < -150", -clv < -150),
    ("+orders >= 2", orders >= 2),
    ("not sms_consent or email_consent", ~sms | email),
    ("sms_consent == email_consent", known(FRAME["email_consent"]) & (sms == email)),
    ("email_consent != False", known(FRAME["email_consent"]) & email),
    ("orders in [0, 1, -2]", orders.isin([0, 1])),
    (
        "(clv > 100 or orders > 4) and not segment == 'gold'",
        ((clv > 100) | (orders > 4)) & ~(segment == "gold"),
    ),
    ("(clv > 100\n and email_consent)", (clv > 100) & email),
    ("  churn_probability * 100 >= 45.0", p * 100 >= 45.0),
    ("True", pd.Series(True, index=FRAME.index)),
    ("1 > 2", pd.Series(False, index=FRAME.index)),
]


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_valid_rule_matches_an_independent_pandas_computation(
    text: str, expected: pd.Series
) -> None:
    result = parse(text).evaluate(FRAME)
    assert result.dtype == bool
    np.testing.assert_array_equal(result, expected.to_numpy(dtype=bool))


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_valid_rule_gives_the_same_with_only_column_names_known(
    text: str, expected: pd.Series
) -> None:
    result = parse(text, columns=list(FRAME.columns)).evaluate(FRAME)
    np.testing.assert_array_equal(result, expected.to_numpy(dtype=bool))


def test_unknown_column_names_action_rule_position_and_close_matches() -> None:
    text = "churn_probability > 0.4 and clv > 150 and emial_consent"
    with pytest.raises(RuleError) as caught:
        parse(text)
    assert str(caught.value) == (
        f"action 'retention_call': eligibility rule \"{text}\", column 43: "
        "unknown column 'emial_consent' (did you mean 'email_consent' or 'sms_consent'?)"
    )
    assert isinstance(caught.value, ConfigError)
    assert (caught.value.action, caught.value.column) == (ACTION, 43)


HOSTILE: list[tuple[str, str, int | None]] = [
    ("__import__('os')", "unknown function '__import__' (allowed: abs, isnull, max, min", 1),
    ("__import__('os').system('ls')", "attribute access ('.system') is not allowed", 18),
    ("os.system('ls')", "attribute access ('.system') is not allowed", 4),
    ("clv.__class__", "attribute access ('.__class__') is not allowed", 5),
    ("().__class__.__bases__", "attribute access ('.__bases__') is not allowed", 14),
    ("clv.to_csv('/tmp/x') or True", "attribute access ('.to_csv') is not allowed", 5),
    ("open('/etc/passwd')", "unknown function 'open'", 1),
    ("exec('1')", "unknown function 'exec'", 1),
    ("eval('1')", "unknown function 'eval'", 1),
    ("getattr(clv, 'x')", "unknown function 'getattr'", 1),
    ("read_csv('f')", "unknown function 'read_csv'", 1),
    ("frobnicate(clv) > 1", "unknown function 'frobnicate'", 1),
    ("SELECT * FROM read_text('/etc/passwd')", "not a valid expression: invalid syntax", 15),
    ("import os", "not a valid expression", 1),
    ("clv > 1; import os", "not a valid expression", 8),
    ("clv > 1 and", "not a valid expression", 12),
    ("clv > 1\x00", "not a valid expression", None),
    ("lambda: 1", "lambda is not allowed", 1),
    ("[c for c in clv]", "comprehensions are not allowed", 1),
    ('f"{clv}" == "1"', "f-strings are not allowed", 1),
    ("(clv := 1) > 0", "assignment (:=) is not allowed", 2),
    ("clv[0] > 1", "subscripts (x[...]) are not allowed", 1),
    ("1 if clv else 2", "conditional expressions (a if c else b) are not allowed", 1),
    ("9**9**9 > clv", "'**' is not allowed", 2),
    ("clv // 2 > 1", "'//' is not allowed; use '/'", 5),
    ("clv > 1 & orders > 2", "'&' is not allowed; use 'and'", 9),
    ("~email_consent", "'~' is not allowed; use 'not'", 1),
    ("max(*clv) > 1", "starred expressions (*x) are not allowed", 5),
    ("abs(x=1) > 1", "keyword arguments are not allowed", 5),
    ("min(clv) > 1", "min() takes at least 2 arguments, got 1", 1),
    ("isnull(clv, orders)", "isnull() takes 1 argument, got 2", 1),
    ("{'a': 1}", "dicts are not allowed", 1),
    ("clv in {1, 2}", "the right side of 'in' must be a list of literals", 8),
    ("clv in orders", "the right side of 'in' must be a list of literals", 8),
    ("clv in [orders]", "list items must be numbers, strings or True/False", 9),
    ("clv in [1, 'a']", "the list mixes a number and text", 8),
    ("clv in [1] == 3", "a list is only allowed on the right of 'in' or 'not in'", 8),
    ("[1, 2] == clv", "a list is only allowed on the right of 'in' or 'not in'", 1),
    ("clv is None", "'is' is not allowed; use '==' or isnull(x)", 5),
    ("clv > None", "None is not allowed; use isnull(x) or notnull(x)", 7),
    ("clv > 1j", "complex literals are not allowed", 7),
    ("b'x' == segment", "bytes literals are not allowed", 1),
    ("clv > 1" + "0" * 400, "the number is too large", 7),
    ("__builtins__", "unknown column '__builtins__'", 1),
    ("len > 1", "unknown column 'len'", 1),
    ("isnull > 1", "unknown column 'isnull' (isnull is a function: isnull(x))", 1),
    ("x" * 100_000, "the rule is 100000 characters long; the limit is 2000", None),
    ("(" * 10_000 + "clv" + ")" * 10_000, "the rule is 20003 characters long", None),
    ("(" * 500 + "clv > 1" + ")" * 500, "not a valid expression: too many nested parentheses", 201),
    ("-" * 40 + "clv > 1", "the rule nests more than 30 levels deep (the limit)", 30),
    ("lambda: " * 30 + "1", "the rule nests more than 30 levels deep (the limit)", 241),
    ("[x for x in " * 15 + "y" + "]" * 15 + " == 1", "nests more than 30 levels deep", None),
    (" or ".join(["clv > 1"] * 70), "the rule has more than 200 parts (the limit)", None),
    ("   ", "the rule is empty", None),
    ("clv + 1", "the rule must be true or false for each row, but 'clv + 1' is a number", 1),
    ("segment", "the rule must be true or false for each row, but 'segment' is text", 1),
    ("segment > 1", "'>' needs numbers, but 'segment' is text", 1),
    ("segment == 1", "cannot compare text with a number ('segment == 1')", 1),
    ("'a' * 100000000 == segment", "'*' needs numbers, but \"'a'\" is text", 1),
    ("email_consent + 1 > 0", "'+' needs numbers, but 'email_consent' is true/false", 1),
    ("clv > True", "'>' needs numbers, but 'True' is true/false", 7),
    ("clv and email_consent", "'and' needs true/false values, but 'clv' is a number", 1),
    ("not orders", "'not' needs true/false values, but 'orders' is a number", 5),
    ("segment in [1, 2]", "cannot look up text ('segment') in a list of numbers", 1),
]


@pytest.mark.parametrize(
    ("text", "fragment", "column"), HOSTILE, ids=[t[:40] for t, _, _ in HOSTILE]
)
def test_hostile_or_invalid_rule_fails_cleanly_with_its_reason_and_position(
    text: str, fragment: str, column: int | None
) -> None:
    with pytest.raises(RuleError) as caught:
        parse(text)
    message = str(caught.value)
    assert message.startswith(f"action '{ACTION}': eligibility rule \"")
    assert fragment in message
    assert caught.value.column == column


def test_position_counts_characters_not_bytes_and_names_the_line() -> None:
    columns = {"größe": "number", "kläx": "number"}
    with pytest.raises(RuleError, match=r"column 15: unknown column 'kläy'") as caught:
        parse("größe > 1 and kläy > 2", columns=columns)
    assert caught.value.reason.startswith("unknown column 'kläy' (did you mean 'kläx'?)")
    with pytest.raises(RuleError, match=r", line 2, column 6: unknown column 'kläy'"):
        parse("(größe > 1\n and kläy > 2)", columns=columns)


def test_long_rule_is_shortened_in_the_message() -> None:
    with pytest.raises(RuleError) as caught:
        parse("x" * 100_000)
    assert len(str(caught.value)) < 300


def test_rule_that_is_not_text_is_a_rule_error() -> None:
    with pytest.raises(RuleError, match="the rule must be a string, got bool"):
        parse(True)  # type: ignore[arg-type]


def test_kind_errors_surface_at_evaluation_when_only_names_were_given() -> None:
    rule = parse("segment > 1", columns=list(FRAME.columns))
    with pytest.raises(RuleError, match=r"column 1: '>' needs numbers, but 'segment' is text"):
        rule.evaluate(FRAME)
    with pytest.raises(RuleError, match="the rule must be true or false for each row"):
        parse("clv", columns=list(FRAME.columns)).evaluate(FRAME)


def test_arithmetic_alone_is_refused_at_parse_time_even_without_kinds() -> None:
    with pytest.raises(RuleError, match="'clv \\+ 1' is a number"):
        parse("clv + 1", columns=list(FRAME.columns))


def test_frame_must_hold_the_columns_with_the_parsed_kinds() -> None:
    rule = parse("clv > 1 and segment == 'gold'")
    with pytest.raises(RuleError, match="column 13: column 'segment' is not in the frame"):
        rule.evaluate(FRAME.drop(columns="segment"))
    swapped = FRAME.assign(clv=FRAME["segment"])
    with pytest.raises(
        RuleError, match="column 'clv' holds text, but the rule was parsed with it as a number"
    ):
        rule.evaluate(swapped)


def test_date_or_mixed_columns_are_refused_by_name() -> None:
    frame = FRAME.assign(
        signup=pd.to_datetime(["2024-01-01"] * len(FRAME)), mixed=[1, "a", 2, "b", 3, "c"]
    )
    for name in ("signup", "mixed"):
        rule = parse(f"isnull({name})", columns=list(frame.columns))
        with pytest.raises(RuleError, match="rules work on numbers, text and true/false"):
            rule.evaluate(frame)
    assert "signup" not in column_kinds(frame)


def test_rule_is_immutable_and_lists_the_columns_it_reads() -> None:
    rule = parse("clv > 1 and (segment == 'gold' or clv < 0) and notnull(country)")
    assert rule.columns == ("clv", "segment", "country")
    assert rule.action == ACTION
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.text = "True"  # type: ignore[misc]
    assert hash(rule) == hash(parse(rule.text))


def test_result_is_a_fresh_writable_array_one_per_row() -> None:
    result = parse("True").evaluate(FRAME)
    assert result.shape == (len(FRAME),)
    result[0] = False  # a broadcast view would be read-only
    assert parse("clv > 1").evaluate(FRAME.iloc[:0]).shape == (0,)


@pytest.mark.parametrize("dtype", ["str", "string", "string[pyarrow]", object])
def test_text_equality_with_missing_values_in_every_text_dtype(dtype: object) -> None:
    frame = pd.DataFrame({"region": pd.Series(["north", None, "south"], dtype=dtype)})
    for text, expected in (
        ("region != 'south'", [True, False, False]),
        ("region == 'north'", [True, False, False]),
    ):
        rule = parse_rule(text, action=ACTION, columns=column_kinds(frame))
        np.testing.assert_array_equal(rule.evaluate(frame), expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("not vip", [True, True]), ("vip", [False, False]), ("vip + 1 > 0", [False, False])],
)
def test_an_all_missing_column_takes_the_kind_the_rule_uses(text: str, expected: list) -> None:
    """Parsed with names only, a column missing in the whole batch has no kind of its own;
    it reads as missing values of the kind the rule needs (``not`` of a missing flag is
    true, as for a partly missing column)."""
    rule = parse_rule(text, action=ACTION, columns=["vip"])
    frame = pd.DataFrame({"vip": pd.Series([None, None], dtype=object)})
    np.testing.assert_array_equal(rule.evaluate(frame), expected)


def test_object_columns_with_none_read_as_booleans_text_and_numbers() -> None:
    frame = pd.DataFrame(
        {
            "flag": pd.Series([True, None, False], dtype=object),
            "code": pd.Series(["a", None, "b"], dtype=object),
            "value": pd.Series([1, None, 2.5], dtype=object),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "tier": pd.Categorical(["x", None, "y"]),
        }
    )
    assert column_kinds(frame) == {
        "flag": "bool",
        "code": "text",
        "value": "number",
        "count": "number",
        "tier": "text",
    }
    rule = parse_rule(
        "flag or code == 'b' or value > 2 or count == 3 or tier in ['x']",
        action=ACTION,
        columns=list(frame.columns),
    )
    np.testing.assert_array_equal(rule.evaluate(frame), [True, False, True])


# Fuzzing ------------------------------------------------------------------------------------

TOKENS = [
    *FRAME.columns,
    "unknown",
    "0",
    "1.5",
    "-2",
    "1e400",
    "'gold'",
    "'DE'",
    '"x"',
    "True",
    "False",
    "None",
    "and",
    "or",
    "not",
    "in",
    "not in",
    "is",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "**",
    "//",
    "%",
    "&",
    "|",
    "~",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    ":=",
    "abs",
    "min",
    "max",
    "isnull",
    "notnull",
    "__import__",
    "__class__",
    "lambda",
    "if",
    "else",
    "for",
    "f'",
    "\n",
    "#",
]
token_soup = st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join)
WRAPPERS = [
    "(-{})",
    "not {}",
    "abs({})",
    "min({}, 1)",
    "({} + clv)",
    "({} > 1)",
    "[{}]",
    "[x for x in {}]",
    "lambda: {}",
    "{}.real",
    "{}[0]",
    "({} if clv else 1)",
    "clv in [{}]",
]


def _nest(wrappers: list[str]) -> str:
    text = "clv"
    for wrapper in wrappers:
        text = wrapper.format(text)
    return text


nested = st.lists(st.sampled_from(WRAPPERS), max_size=60).map(_nest)
known_columns = st.sampled_from([KINDS, list(FRAME.columns)])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=120), token_soup, nested), columns=known_columns)
def test_any_text_gives_a_rule_error_or_one_boolean_per_row(text: str, columns: object) -> None:
    try:
        result = parse(text, columns=columns).evaluate(FRAME)
    except RuleError:
        return
    assert isinstance(result, np.ndarray)
    assert result.dtype == bool
    assert result.shape == (len(FRAME),)


# Generated well-formed rules, each with its value computed by pandas.
Expression = tuple[str, pd.Series]


def _constant(value: float | bool) -> pd.Series:
    return pd.Series(value, index=FRAME.index, dtype=float if not isinstance(value, bool) else bool)


def _number_leaf() -> st.SearchStrategy[Expression]:
    columns = st.sampled_from(["churn_probability", "clv", "orders"]).map(
        lambda name: (name, FRAME[name].astype(float))
    )
    numbers = st.one_of(
        st.integers(-5, 300).map(float), st.floats(-1e3, 1e3, allow_nan=False).map(float)
    ).map(lambda value: (f"({value!r})", _constant(value)))
    return st.one_of(columns, numbers)


def _extreme(function: str, values: list[pd.Series]) -> pd.Series:
    stacked = pd.concat(values, axis=1)
    return (
        stacked.min(axis=1, skipna=False)
        if function == "min"
        else stacked.max(axis=1, skipna=False)
    )


ARITHMETIC: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda left, right: (left / right).mask(right == 0),
}


@st.composite
def numbers(draw: st.DrawFn, depth: int = 0) -> Expression:
    if depth >= 2 or draw(st.booleans()):
        return draw(_number_leaf())
    kind = draw(st.sampled_from(["neg", "abs", "min", "max", *ARITHMETIC]))
    text, value = draw(numbers(depth + 1))
    if kind == "neg":
        return f"(-{text})", -value
    if kind == "abs":
        return f"abs({text})", value.abs()
    other_text, other = draw(numbers(depth + 1))
    if kind in ("min", "max"):
        return f"{kind}({text}, {other_text})", _extreme(kind, [value, other])
    return f"({text} {kind} {other_text})", ARITHMETIC[kind](value, other)


COMPARE: dict[str, Callable[[pd.Series, pd.Series], pd.Series]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@st.composite
def comparisons(draw: st.DrawFn) -> Expression:
    first_text, first = draw(numbers())
    op = draw(st.sampled_from(sorted(COMPARE)))
    second_text, second = draw(numbers())
    value = COMPARE[op](first, second) & known(first, second)
    text = f"{first_text} {op} {second_text}"
    if draw(st.booleans()):  # a chain: a < b <= c
        op2 = draw(st.sampled_from(sorted(COMPARE)))
        third_text, third = draw(_number_leaf())
        value &= COMPARE[op2](second, third) & known(second, third)
        text += f" {op2} {third_text}"
    return f"({text})", value


@st.composite
def text_tests(draw: st.DrawFn) -> Expression:
    name = draw(st.sampled_from(["segment", "country"]))
    column = FRAME[name]
    words = draw(st.lists(st.sampled_from(["gold", "silver", "DE", "FR", "x"]), max_size=3))
    kind = draw(st.sampled_from(["==", "!=", "in", "not in", "same"]))
    if kind == "same":
        return "(segment == country)", known(segment, country) & (segment == country)
    if kind in ("in", "not in"):
        found = column.isin(words)
        value = known(column) & (found if kind == "in" else ~found)
        return f"({name} {kind} {words!r})", value
    word = words[0] if words else "gold"
    value = known(column) & COMPARE[kind](column, word)
    return f"({name} {kind} {word!r})", value


def _flag_leaf() -> st.SearchStrategy[Expression]:
    return st.one_of(
        st.just(("email_consent", email)),
        st.just(("sms_consent", sms)),
        st.booleans().map(lambda flag: (repr(flag), _constant(flag))),
        numbers().map(lambda number: (f"isnull({number[0]})", number[1].isna())),
        numbers().map(lambda number: (f"notnull({number[0]})", number[1].notna())),
        comparisons(),
        text_tests(),
    )


@st.composite
def conditions(draw: st.DrawFn, depth: int = 0) -> Expression:
    if depth >= 3 or draw(st.booleans()):
        return draw(_flag_leaf())
    kind = draw(st.sampled_from(["not", "and", "or"]))
    text, value = draw(conditions(depth + 1))
    if kind == "not":
        return f"(not {text})", ~value
    other_text, other = draw(conditions(depth + 1))
    combined = (value & other) if kind == "and" else (value | other)
    return f"({text} {kind} {other_text})", combined


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=conditions(), columns=known_columns)
def test_generated_rule_equals_the_same_expression_built_with_pandas(
    expression: Expression, columns: object
) -> None:
    text, expected = expression
    try:
        rule = parse(text, columns=columns)
    except RuleError as error:
        if "(the limit)" in error.reason:
            reject()  # a valid rule beyond the size limits
        raise
    np.testing.assert_array_equal(rule.evaluate(FRAME), expected.to_numpy(dtype=bool))
