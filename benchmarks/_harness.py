"""Shared benchmark plumbing: synthetic Parquet data sets on disk and isolated timed stages.

Each stage runs in its own Python process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DATA_ROOT = Path(os.environ.get("CXML_BENCH_DATA", Path(__file__).parent / "data"))
#: Generator settings giving about 10 transaction lines and 10 interactions per customer.
PER_CUSTOMER = {"purchases_per_year": 9.0, "visits_per_year": 4.0, "email_interval_days": 75.0}
START, END, CUTOFF = "2022-01-01", "2024-01-01", "2023-07-01"


def dataset(n_customers: int, seed: int = 0) -> Path:
    """Write (once) and return a folder with transactions/interactions/customers Parquet."""
    from cxml.datasets.synthetic import make_synthetic_frames

    folder = DATA_ROOT / f"synthetic_{n_customers}_{seed}"
    if (folder / "done").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    frames, _ = make_synthetic_frames(n_customers, seed, start=START, end=END, **PER_CUSTOMER)
    for name, frame in frames.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "done").write_text(json.dumps({n: len(f) for n, f in frames.items()}))
    return folder


def rows(folder: Path) -> dict[str, int]:
    return json.loads((folder / "done").read_text())


def measure(fn: Callable[[], Any]) -> dict[str, float]:
    """Run `fn` and return wall seconds, CPU seconds (all threads) and peak RSS in GB.

    CPU seconds are the work done; on a shared machine they vary less than wall time.
    """
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss_gb": peak_rss_gb()}


def peak_rss_gb() -> float:
    """This process's peak resident memory (GB), from /proc's VmHWM where there is one.

    Not `getrusage`: a child's ru_maxrss starts at its parent's peak, so a small stage started
    by a large parent would report the parent's memory.
    """
    path = Path("/proc/self/status")
    if not path.exists():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    line = next(x for x in path.read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024**2


def load() -> str:
    """The 1, 5 and 15 minute load averages (other work competing for the cores)."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def run_stage(module: str, stage: str, *args: str, timeout: float | None = None) -> dict[str, Any]:
    """Run `python -m module --stage stage args...` and parse the JSON line it prints last.

    Past `timeout` seconds the stage is killed and `subprocess.TimeoutExpired` raised.
    """
    out = subprocess.run(
        [sys.executable, "-m", module, "--stage", stage, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"stage {stage} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, Python {sys.version.split()[0]}"


def parse_or_run_stage(
    doc: str, stages: Mapping[str, Callable[[str], dict]]
) -> argparse.Namespace | None:
    """Parse a benchmark's command line; when it names a `--stage`, run it, print its JSON
    result and return None (the parent process reads that line)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--stage", choices=sorted(stages))
    parser.add_argument("--data")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(stages))
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stages[args.stage](args.data)))
        return None
    return args
