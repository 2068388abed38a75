"""Scoring benchmark: `cxml score` end to end on a large customer base.

    python -m benchmarks.score [--customers 1000000]

Trains (once per run, not timed) a model with `cxml train` on 20,000 synthetic customers
into a local MLflow store, then times the command a user runs,

    cxml score CONFIG --model models:/bench@champion --as-of 2024-01-01 --output scores.parquet

on the cached synthetic Parquet data of `--customers` customers (about ten transaction lines
and ten interactions each): reading and validating the tables, the snapshot, loading the
registered model, scoring every customer and writing the file. Target (issue 4): <= 60 s and
peak RSS <= 4 GB on 2 cores.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from benchmarks._harness import DATA_ROOT, END, dataset, machine, parse_or_run_stage, rows

TRAIN_CUSTOMERS = 20_000
MODEL = "models:/bench@champion"


def _config(folder: Path, data: Path) -> Path:
    """A project config reading `data`'s Parquet tables, with its MLflow store in `folder`."""
    config = {
        "name": "bench",
        "data": {
            table: str(data / f"{table}.parquet")
            for table in ("transactions", "interactions", "customers")
        },
        "training": {"cutoffs": {"every": "3M", "count": 3}},
        "churn": {"horizon": "90D"},
        "mlflow": {"tracking_uri": f"sqlite:///{folder / 'mlflow.db'}"},
    }
    path = folder / f"bench_{data.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _cxml(*args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("cxml")
    return subprocess.run(
        [str(script), *args, "--quiet"], capture_output=True, text=True, check=False
    )


def _score(data: str) -> dict:
    """Child stage: time `cxml score` as a subprocess; its peak RSS is this stage's children's."""
    folder, config = Path(data).parent, Path(data)
    output = folder / "scores.parquet"
    started = time.perf_counter()
    done = _cxml("score", str(config), "--model", MODEL, "--as-of", END, "--output", str(output))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    scores = pd.read_parquet(output, columns=["customer_id"])
    return {
        "seconds": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2,
        "rows": len(scores),
        "unique": bool(scores["customer_id"].is_unique),
    }


def main() -> None:
    args = parse_or_run_stage(__doc__, {"score": _score})
    if args is None:
        return
    folder = DATA_ROOT / "score"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlflow.db").unlink(missing_ok=True)
    train_config = _config(folder, dataset(TRAIN_CUSTOMERS))
    started = time.perf_counter()
    trained = _cxml("train", str(train_config))
    if trained.returncode != 0:
        raise SystemExit(trained.stderr[-3000:])
    train_seconds = time.perf_counter() - started
    big = dataset(args.customers)
    score_config = _config(folder, big)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.score", "--stage", "score", "--data", str(score_config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    counts = rows(big)
    print(f"machine: {machine()}")
    print(
        f"training (not timed target): cxml train on {TRAIN_CUSTOMERS:,} customers "
        f"{train_seconds:.1f} s"
    )
    print(
        f"cxml score: {args.customers:,} customers, {counts['transactions']:,} transaction "
        f"lines, {counts.get('interactions', 0):,} interactions"
    )
    print(
        f"  {figures['seconds']:.1f} s end to end, peak RSS {figures['peak_rss_gb']:.2f} GB, "
        f"{figures['rows']:,} rows written (unique ids: {figures['unique']})"
    )
    print(
        f"  targets: <= 60 s {'met' if figures['seconds'] <= 60 else 'NOT met'}; "
        f"<= 4 GB {'met' if figures['peak_rss_gb'] <= 4 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
