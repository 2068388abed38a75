"""The notebooks in notebooks/: committed without outputs, and each one runs top to bottom.

Each notebook is executed with nbclient on a kernel of the running interpreter, in an empty
working directory with its own temporary folder. The last code cell of every notebook asserts
what its results promise (one score row per customer, probabilities in [0, 1], KPIs in range,
the registered model reproducing the in-memory pipeline) and prints "checks passed"; the test
checks that this cell ran and that nothing was written to the working directory.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.conftest import ROOT, cli_env

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ("01_quickstart_cdnow.ipynb", "02_cx_kpis.ipynb", "04_mlflow_and_config.ipynb")
#: What may stay in a committed notebook's metadata: enough to pick the kernel.
NOTEBOOK_METADATA = {"kernelspec", "language_info"}
#: Per-cell limit; a whole notebook is meant to take under a minute on an idle machine.
CELL_TIMEOUT = 600
PASSED = "checks passed"


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


def test_the_notebooks_are_all_there() -> None:
    assert {p.name for p in NOTEBOOKS} >= set(EXPECTED)


def unstripped(notebook: nbformat.NotebookNode) -> list[str]:
    """What a committed notebook should not hold: outputs, execution counts, metadata."""
    extra = sorted(set(notebook.metadata) - NOTEBOOK_METADATA)
    problems = [f"notebook metadata {extra}"] if extra else []
    for cell in notebook.cells:
        extra = sorted(set(cell.metadata) - {"tags"})
        if extra:
            problems.append(f"cell {cell.id}: metadata {extra}")
        if cell.cell_type == "code" and cell.outputs:
            problems.append(f"cell {cell.id}: outputs")
        if cell.cell_type == "code" and cell.execution_count is not None:
            problems.append(f"cell {cell.id}: execution count")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    assert unstripped(notebook) == [], f"strip {path.name} before committing"


def test_a_notebook_saved_after_running_is_not_stripped() -> None:
    notebook = nbformat.read(NOTEBOOKS[0], as_version=nbformat.NO_CONVERT)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.execution_count = 1
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n")]
    cell.metadata["collapsed"] = False
    notebook.metadata["widgets"] = {}
    assert unstripped(notebook) == [
        "notebook metadata ['widgets']",
        f"cell {cell.id}: metadata ['collapsed']",
        f"cell {cell.id}: outputs",
        f"cell {cell.id}: execution count",
    ]


@pytest.fixture(scope="module")
def kernel_specs(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """A `python3` kernel spec that starts this interpreter (not whatever `python` is on PATH)."""
    folder = tmp_path_factory.mktemp("kernels")
    write_kernel_spec(folder / "python3")
    spec = json.loads((folder / "python3" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    return KernelSpecManager(kernel_dirs=[str(folder)])


def stdout_of(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(
    path: Path, tmp_path: Path, kernel_specs: KernelSpecManager
) -> None:
    cwd, scratch = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    scratch.mkdir()
    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=kernel_specs)
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=CELL_TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    # Raises CellExecutionError, naming the cell, on any error. The notebook's temporary
    # files (its MLflow store) go where pytest cleans up.
    client.execute(env={**cli_env(), "TMPDIR": str(scratch)})
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")

    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), "every code cell ran"
    assert PASSED in stdout_of(code[-1]), "the final checks cell printed its result"
    assert list(cwd.iterdir()) == [], "the notebook wrote into its working directory"
