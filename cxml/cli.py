"""The `cxml` command line: a thin shell over the Python API."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cxml import __version__
from cxml.errors import CxmlError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Churn, customer lifetime value and next-best action.",
)
console = Console()
errors = Console(stderr=True)


def _exits_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input ends with exit code 2 and one message, never a traceback."""

    @wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CxmlError as exc:
            errors.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return run


@app.callback(invoke_without_command=True)
def main(version: bool = typer.Option(False, "--version", help="Print the version.")) -> None:
    """cxml command line."""
    if version:
        console.print(f"cxml {__version__}")
        raise typer.Exit(0)


@app.command()
@_exits_cleanly
def demo(
    cutoff: str = typer.Option("1998-01-01", help="Snapshot cut-off date."),
    quiet: bool = typer.Option(False, "--quiet", help="Print only the summary."),
) -> None:
    """Build a point-in-time snapshot of the bundled CDNOW data and summarise it."""
    from cxml.datasets import load_cdnow
    from cxml.features import FeatureSpec, build_snapshot

    started = time.perf_counter()
    tables = load_cdnow()
    snapshot = build_snapshot(tables, cutoff, FeatureSpec(time_unit="W"))
    elapsed = time.perf_counter() - started
    table = Table(
        title=f"CDNOW snapshot at {cutoff} ({len(snapshot):,} customers, "
        f"{snapshot.shape[1]} features, {elapsed:.2f} s)"
    )
    for name in ("statistic", "value"):
        table.add_column(name)
    repeaters = snapshot["frequency"] > 0
    recency, age = snapshot["recency"].mean(), snapshot["T"].mean()
    repeat_value = snapshot.loc[repeaters, "monetary_value"].mean()
    rows = {
        "customers": f"{len(snapshot):,}",
        "repeat buyers": f"{int(repeaters.sum()):,} ({repeaters.mean():.1%})",
        "mean repeat purchases (frequency)": f"{snapshot['frequency'].mean():.3f}",
        "mean recency / T (weeks)": f"{recency:.2f} / {age:.2f}",
        "mean repeat-purchase value (repeaters)": f"{repeat_value:.2f}",
        "revenue before cut-off": f"{snapshot['revenue'].sum():,.2f}",
        "active in the last 90 days": f"{(snapshot['n_orders_90d'] > 0).mean():.1%}",
    }
    for key, value in rows.items():
        table.add_row(key, value)
    console.print(table)
    if not quiet:
        console.print(snapshot.head(5).T.to_string(), highlight=False)


if __name__ == "__main__":
    app()
