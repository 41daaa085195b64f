"""examples/tutorial.ipynb is executed here, as a user would run it, so it never rots."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.notebook, pytest.mark.slow]

NOTEBOOK = Path(__file__).parent.parent / "examples" / "tutorial.ipynb"


def test_tutorial_notebook_runs(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code")  # kept clean
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises on error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert text.count("Model Accuracy:") == 5
    assert "['A', 'B', 'C'] -> D" in text  # the time-step window learns the alphabet
    assert "ABCDEFGHIJKLMNOPQRSTUVWXYZ" in text  # the stateful model generates it from A
    assert "forget gate f: (5, 1, 50)" in text
    shown = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 1 and shown[0].startswith("<iframe srcdoc=")
    assert "stateful · replica" in shown[0] and "one-char · replica" in shown[0]
