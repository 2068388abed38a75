"""Shared fixtures: running the `cxml` command line as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CDNOW_CONFIG = ROOT / "configs" / "cdnow.yaml"
#: The CDNOW sample (2,357 customers) for trainings where the full data proves nothing more.
SAMPLE = ("--set", "data.dataset.sample=true")


def cli_env() -> dict[str, str]:
    """The environment of a `cxml` subprocess.

    One OpenMP thread: on two busy cores LightGBM's spinning threads made a sample training
    five times slower. Wide lines keep rich from wrapping messages the tests read; no MLflow
    telemetry.
    """
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "250",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "PYTHONWARNINGS": "ignore",
    }


RunCxml = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def run_cxml() -> RunCxml:
    """`run_cxml(*args, cwd=...)`: ``python -m cxml.cli ARGS`` in `cwd`, output captured."""

    def run(
        *args: str | Path, cwd: Path, timeout: float = 600, prefix: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, *prefix, "-m", "cxml.cli", *map(str, args)]
        return subprocess.run(
            command, cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout
        )

    return run


def one_line(text: str) -> str:
    """Text with every run of whitespace as one space (rich wraps long messages)."""
    return " ".join(text.split())
