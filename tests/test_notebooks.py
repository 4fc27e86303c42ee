"""Notebooks run top to bottom (they only call hyperjax)."""

import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


# A line each notebook must print when it ran to the end (its key figure).
EXPECTED = {"hypernet_basics.ipynb": "3,243,410", "pareto_quickstart.ipynb": "test hypervolume"}
# Shortened for the suite: every cell still runs, on fewer epochs (the training itself
# is tested elsewhere). Each pattern must occur in the notebook, so an edit that drops it
# fails here rather than silently running the notebook at full length.
SHORTEN = {"pareto_quickstart.ipynb": [("num_epochs=8,", "num_epochs=2,"),
                                       ("eval_every=4 * (", "eval_every=1 * (")]}


def test_every_notebook_is_checked():
  assert sorted(p.name for p in NOTEBOOKS) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
  notebook = nbformat.read(path, as_version=4)
  for old, new in SHORTEN.get(path.name, []):
    cells = [c for c in notebook.cells if old in c.source]
    assert len(cells) == 1, f"{path.name}: expected one cell with {old!r}"
    cells[0].source = cells[0].source.replace(old, new)
  NotebookClient(notebook, timeout=300, kernel_name="python3",
                 resources={"metadata": {"path": str(path.parent.parent)}}).execute()
  outputs = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                    for o in c.get("outputs", []))
  assert EXPECTED[path.name] in outputs
  errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
  assert not errors
