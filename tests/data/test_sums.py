"""`cxml.data.sums`: aggregates that give the same bits whatever order the engine adds in."""

from __future__ import annotations

import duckdb
import narwhals as nw
import numpy as np
import pandas as pd
import pytest

from cxml.data.engine import collect
from cxml.data.sums import exact_mean, exact_std, exact_sum, exact_total, on_grid


def _aggregate(frame: pd.DataFrame, *exprs: nw.Expr) -> pd.DataFrame:
    rel = duckdb.connect().from_df(frame)
    return collect(nw.from_native(rel).group_by("g").agg(*exprs).sort("g")).set_index("g")


@pytest.fixture(scope="module")
def cents() -> pd.DataFrame:
    """A million amounts in cents over 500 groups: float sums of these depend on order."""
    rng = np.random.default_rng(7)
    n = 1_000_000
    return pd.DataFrame({"g": rng.integers(0, 500, n), "x": rng.integers(1, 1_000_000, n) / 100})


def test_duckdb_sums_are_the_same_bits_in_any_row_order(cents):
    con = duckdb.connect()
    con.execute("SET threads = 4")
    con.register("cents", cents)

    def both(order: str) -> pd.DataFrame:
        rel = con.sql(f"SELECT * FROM cents ORDER BY {order}")
        out = (
            nw.from_native(rel)
            .group_by("g")
            .agg(exact_sum(nw.col("x")).alias("exact"), nw.col("x").sum().alias("naive"))
        )
        return collect(out.sort("g")).set_index("g")

    runs = [both(order) for order in ("x", "x DESC", "hash(x)", "hash(x + 1)")]
    naive = [r["naive"].to_numpy() for r in runs]
    # The data are order-sensitive: plain float sums differ between the runs ...
    assert any(not np.array_equal(naive[0], other) for other in naive[1:])
    # ... and the exact sums do not, and are the decimal sums of the cents.
    for run in runs[1:]:
        assert np.array_equal(run["exact"].to_numpy(), runs[0]["exact"].to_numpy())
    in_cents = (cents["x"] * 100).round().astype(np.int64).groupby(cents["g"]).sum()
    np.testing.assert_array_equal(runs[0]["exact"].to_numpy(), (in_cents / 100).to_numpy())


def test_sum_of_cents_is_the_decimal_sum():
    frame = pd.DataFrame({"g": [1, 1, 2, 2, 2], "x": [0.1, 0.2, 41.43, 0.005, 0.005]})
    out = _aggregate(frame, exact_sum(nw.col("x")).alias("s"))
    assert 0.1 + 0.2 != 0.3  # what a float sum gives
    assert out["s"].tolist() == [0.3, 41.44]


def test_values_round_to_the_nearest_millionth():
    frame = pd.DataFrame({"g": [1, 2, 3, 4], "x": [1.0000004, 1.0000006, -2.6e-6, 2.4e-6]})
    out = _aggregate(
        frame, exact_sum(nw.col("x")).alias("s"), on_grid(nw.col("x")).max().alias("grid")
    )
    assert out["s"].tolist() == [1.0, 1.000001, -3e-6, 2e-6]
    assert out["grid"].tolist() == out["s"].tolist()


def test_mean_and_std_against_numpy_with_nulls_and_small_groups():
    rng = np.random.default_rng(3)
    gaps = rng.integers(0, 400, 60).astype(float)
    groups = np.repeat(np.arange(6), 10)
    gaps[::7] = np.nan
    frame = pd.DataFrame(
        {
            "g": np.concatenate([groups, [6, 7, 7, 8, 8, 8]]),
            "x": np.concatenate([gaps, [5.0, np.nan, 9.0, 30.0, 30.0, 30.0]]),
        }
    )
    out = _aggregate(
        frame, exact_mean(nw.col("x")).alias("mean"), exact_std(nw.col("x")).alias("std")
    )
    expected = frame.groupby("g")["x"].agg(["mean", "std"])
    np.testing.assert_allclose(out["mean"], expected["mean"], rtol=1e-15)
    np.testing.assert_allclose(out["std"].iloc[:6], expected["std"].iloc[:6], rtol=1e-12)
    # one value: no standard deviation; equal values: exactly 0, not a rounding residue
    assert out["std"].isna().tolist()[6:] == [True, True, False]
    assert out.loc[8, "std"] == 0.0


def test_a_group_without_values_has_sum_zero_and_no_mean():
    frame = pd.DataFrame({"g": [1, 1], "x": [np.nan, np.nan]})
    out = _aggregate(frame, exact_sum(nw.col("x")).alias("s"), exact_mean(nw.col("x")).alias("m"))
    assert out.loc[1, "s"] == 0.0
    assert np.isnan(out.loc[1, "m"])


def test_totals_of_any_size_are_exact_in_any_order():
    """Past 9e9 the millionths of `exact_sum` are no longer whole floats; `exact_total`
    adds whole units and millionths as integers."""
    values = [6e12, 6e12, 0.25, 0.5, 7.125]
    for order in (values, values[::-1], values[2:] + values[:2]):
        frame = pd.DataFrame({"g": [1] * len(order), "x": order})
        out = _aggregate(frame, exact_total(nw.col("x")).alias("t"))
        assert out.loc[1, "t"] == 12_000_000_000_007.875
