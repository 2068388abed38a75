"""The whole benchmark suite: every stage at several sizes, and how its cost grows.

    python -m benchmarks [--sizes 100000,300000,1000000] [--stages snapshot,btyd,...]
                         [--no-spark] [--spark-timeout 900]

Generates (once, cached under benchmarks/data/) synthetic Parquet data of each size with about
ten transaction lines and ten interactions per customer, then runs each stage at each size in
a fresh process, so that its peak RSS is its own, and prints wall and CPU seconds, throughput
(customers of the data set per wall second), peak RSS and the 1-minute load average before and
after. Per stage it fits k in cost ~ size^k (least squares on log-log over the sizes), for wall
and for CPU seconds, against the linear target k <= 1.1.

cxml stages:
- snapshot: `Tables` (read + validate) + `build_snapshot` with every default feature
  (benchmarks.snapshot);
- btyd: `BTYDModel` fit + P(alive) + 12-month CLV (benchmarks.btyd);
- training: `cxml train` on a separate synthetic data set of one customer in ten
  (size / 10), three cut-offs, into a fresh MLflow store: a model is fitted on a sample, and
  the sample grows with the base it will score;
- scoring: `cxml score` end to end on the size, with one model trained by `cxml train` on
  20,000 customers (not timed), so that only the data grows (benchmarks.score);
- actions: action values and the constrained Lagrangian plan for the size (benchmarks.actions).
Reference points for the snapshot: the same features as hand-written DuckDB SQL, lifetimes'
`summary_data_from_transaction_data` (its four BTYD columns), and cxml's `build_snapshot` on
Spark local[2] (session start not timed; CPU and peak RSS add the JVM's to the driver's).
A Spark run slower than `--spark-timeout` is stopped and larger sizes are not tried.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks import btyd as btyd_bench
from benchmarks import score as score_bench
from benchmarks import snapshot as snapshot_bench
from benchmarks._harness import CUTOFF, DATA_ROOT, dataset, load, machine, measure, run_stage

#: Training fits on one customer in this many (a separate data set of size / TRAIN_SHARE).
TRAIN_SHARE = 10
#: The largest growth exponent that counts as linear.
LINEAR = 1.1
RUNS = DATA_ROOT / "run"
SPARK_OPTIONS = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "4g",
}


def _children() -> tuple[float, float]:
    """CPU seconds and peak RSS (GB) of this process's finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024**2


def _snapshot(customers: int) -> dict:
    return snapshot_bench.STAGES["cxml"](str(dataset(customers)))


def _sql(customers: int) -> dict:
    return snapshot_bench.STAGES["sql"](str(dataset(customers)))


def _lifetimes(customers: int) -> dict:
    return snapshot_bench.STAGES["lifetimes"](str(dataset(customers)))


def _btyd(customers: int) -> dict:
    return btyd_bench.STAGES["cxml"](str(dataset(customers)))


def _training(customers: int) -> dict:
    """`cxml train` on size / TRAIN_SHARE customers into an empty MLflow store."""
    folder = RUNS / f"train_{customers}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mlflow.db").unlink(missing_ok=True)
    config = score_bench._config(folder, dataset(customers // TRAIN_SHARE))
    started = time.perf_counter()
    done = score_bench._cxml("train", str(config))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    cpu, peak = _children()
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_gb": peak}


def _scoring(customers: int) -> dict:
    """`cxml score` of the size with the model of `_scoring_model`."""
    figures = score_bench._score(str(score_bench._config(RUNS / "score", dataset(customers))))
    return {**figures, "cpu_seconds": _children()[0]}


def _actions(customers: int) -> dict:
    """Action values and the plan (solve, control group, runner-up, reasons)."""
    from benchmarks.actions import constrained, population
    from cxml.actions import action_values, plan_actions

    frame = population(customers, seed=2)
    catalogue = constrained(customers).model_copy(update={"method": "lagrangian"})
    rules = catalogue.rules(frame.columns)

    def run() -> None:
        values = action_values(frame, catalogue, rules)
        plan_actions(values, frame.index, catalogue, context=frame)

    return measure(run)


def _proc_stat(pid: int) -> tuple[float, float]:
    """CPU seconds and peak RSS (GB) of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    return cpu, peak_kb / 1024**2


def _spark(customers: int) -> dict:
    """`Tables` + `build_snapshot` on Spark local[2], read from the same Parquet files."""
    from cxml.data import Tables, engine
    from cxml.features import build_snapshot

    folder = dataset(customers)
    started = time.perf_counter()
    spark = engine.connect("spark", master="local[2]", options=SPARK_OPTIONS)
    session_seconds = time.perf_counter() - started
    jvm = spark.sparkContext._gateway.proc.pid  # the JVM runs outside this process
    jvm_cpu = _proc_stat(jvm)[0]

    def run() -> None:
        tables = Tables(
            f"{folder}/transactions.parquet", f"{folder}/interactions.parquet", connection=spark
        )
        build_snapshot(tables, CUTOFF)

    result = measure(run)
    cpu, peak = _proc_stat(jvm)
    spark.stop()
    return {
        **result,
        "cpu_seconds": result["cpu_seconds"] + cpu - jvm_cpu,
        "peak_rss_gb": result["peak_rss_gb"] + peak,
        "session_seconds": session_seconds,
    }


#: name -> (what is timed, whether it is a reference point rather than a cxml stage).
STAGES: dict[str, tuple[Callable[[int], dict], str, bool]] = {
    "snapshot": (_snapshot, "cxml Tables + build_snapshot", False),
    "btyd": (_btyd, "cxml BTYD fit + P(alive) + CLV", False),
    "training": (_training, f"cxml train on size/{TRAIN_SHARE}", False),
    "scoring": (_scoring, "cxml score end to end", False),
    "actions": (_actions, "action values + plan", False),
    "sql": (_sql, "ref: hand-written DuckDB SQL", True),
    "lifetimes": (_lifetimes, "ref: lifetimes summary utility", True),
    "spark": (_spark, "ref: cxml snapshot on Spark", True),
}


def growth_exponent(sizes: list[int], costs: list[float]) -> float:
    """k of cost ~ size^k, fitted by least squares on log cost against log size."""
    return float(np.polyfit(np.log(sizes), np.log(costs), 1)[0])


def _prepare(sizes: list[int], stages: list[str]) -> None:
    """Data of every size, the BTYD columns and the scoring model: built once, not timed."""
    for size in sizes:
        folder = dataset(size)
        if "btyd" in stages:
            btyd_bench._btyd_columns(folder)
        if "training" in stages:
            dataset(size // TRAIN_SHARE)
    if "scoring" in stages and not (RUNS / "score" / "trained").exists():
        folder = RUNS / "score"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "mlflow.db").unlink(missing_ok=True)
        config = score_bench._config(folder, dataset(score_bench.TRAIN_CUSTOMERS))
        done = score_bench._cxml("train", str(config))
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        (folder / "trained").write_text(score_bench.MODEL)


def _row(stage: str, size: int, r: dict) -> str:
    label = STAGES[stage][1]
    if "error" in r:
        return f"{label:<34}{size:>10,}  {r['error']}"
    return (
        f"{label:<34}{size:>10,}{r['seconds']:>9.1f}{r['cpu_seconds']:>9.1f}"
        f"{size / r['seconds']:>12,.0f}{r['peak_rss_gb']:>9.2f}"
        f"{r['load_before']:>8.1f} / {r['load_after']:.1f}"
    )


def _header() -> str:
    return (
        f"{'stage':<34}{'customers':>10}{'wall s':>9}{'CPU s':>9}{'cust/s':>12}"
        f"{'RSS GB':>9}  load before / after"
    )


def _verdicts(results: dict[str, dict[int, dict]]) -> None:
    print(f"\ngrowth exponent k of cost ~ size^k (linear: k <= {LINEAR})")
    for stage, by_size in results.items():
        done = {s: r for s, r in by_size.items() if "error" not in r}
        label = STAGES[stage][1]
        if len(done) < 2:
            print(f"{label:<34}fewer than two sizes finished")
            continue
        sizes = sorted(done)
        ks = {
            cost: growth_exponent(sizes, [done[s][cost] for s in sizes])
            for cost in ("seconds", "cpu_seconds")
        }
        verdict = ", ".join(
            f"{name} k = {ks[cost]:.2f} ({'<=' if ks[cost] <= LINEAR else 'NOT <='} {LINEAR})"
            for name, cost in (("wall", "seconds"), ("CPU", "cpu_seconds"))
        )
        print(f"{label:<34}{verdict}  over {', '.join(f'{s:,}' for s in sizes)}")


def _run_stage_mode(stage: str, customers: int) -> None:
    print(json.dumps(STAGES[stage][0](customers)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="customers, comma-sep.")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages")
    parser.add_argument("--no-spark", action="store_true", help="leave out the Spark reference")
    parser.add_argument("--spark-timeout", type=float, default=900.0, help="seconds")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        _run_stage_mode(args.stage, args.customers)
        return
    sizes = sorted(int(s) for s in args.sizes.split(","))
    stages = [s for s in args.stages.split(",") if not (args.no_spark and s == "spark")]
    unknown = set(stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    _prepare(sizes, stages)
    print(f"machine: {machine()}; load average {load()}")
    print(f"data: synthetic, cut-off {CUTOFF}; sizes {', '.join(f'{s:,}' for s in sizes)}")
    print(_header(), flush=True)
    results: dict[str, dict[int, dict]] = {stage: {} for stage in stages}
    for size in sizes:
        for stage in stages:
            if any("error" in r for r in results[stage].values()):
                continue  # a stage that failed or ran out of time is not tried larger
            before = os.getloadavg()[0]
            timeout = args.spark_timeout if stage == "spark" else None
            try:
                r = run_stage("benchmarks.run", stage, "--customers", str(size), timeout=timeout)
            except subprocess.TimeoutExpired:
                r = {"error": f"stopped after {timeout:.0f} s"}
            except RuntimeError as exc:
                r = {"error": str(exc).strip().splitlines()[-1]}
            results[stage][size] = {**r, "load_before": before, "load_after": os.getloadavg()[0]}
            print(_row(stage, size, results[stage][size]), flush=True)
    print(_header())
    for stage, by_size in results.items():
        for size, r in by_size.items():
            print(_row(stage, size, r))
    _verdicts(results)
    print(f"machine: {machine()}; load average at the end {load()}")


if __name__ == "__main__":
    main()
