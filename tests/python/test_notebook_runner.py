"""The checks scripts/notebooks.py applies to executed notebooks (no kernel needed): what an
evcxr failure looks like in a notebook's outputs, and that each one fails the notebook.
The end-to-end run on the mammolab kernel is the last step of scripts/check.sh."""

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("notebooks", ROOT / "scripts" / "notebooks.py")
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)

PNG = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "Figure"}, "metadata": {}}


def notebook(*outputs_per_cell):
    return {
        "cells": [{"cell_type": "markdown", "source": "# title"}]
        + [
            {"cell_type": "code", "source": f"cell_{i}()", "outputs": list(outs), "execution_count": i}
            for i, outs in enumerate(outputs_per_cell)
        ]
    }


def test_clean_notebook_passes_and_counts_figures():
    ok = {"output_type": "stream", "name": "stdout", "text": "epoch 1 loss 0.1\n"}
    html = {"output_type": "execute_result", "data": {"text/html": "<table></table>"}, "metadata": {}}
    figures, problems = runner.scan(notebook([ok], [html, PNG], [PNG]))
    assert (figures, problems) == (2, [])


def test_error_output_fails():
    err = {"output_type": "error", "ename": "Error", "evalue": "cannot find value `pb` in this scope", "traceback": []}
    _, problems = runner.scan(notebook([err]))
    assert len(problems) == 1 and "cannot find value" in problems[0]


def test_error_returned_by_a_cell_fails():
    # evcxr reports a cell ending in Err as a success and prints the error on stderr.
    err = {"output_type": "stream", "name": "stderr", "text": 'feature column Age: not found: "Age" not found\n'}
    _, problems = runner.scan(notebook([err]))
    assert len(problems) == 1 and "stderr" in problems[0] and "Age" in problems[0]


def test_panic_fails():
    panic = {"output_type": "stream", "name": "stderr", "text": "thread '<unnamed>' panicked at src/lib.rs:3:5:\ndeliberate\n"}
    _, problems = runner.scan(notebook([panic]))
    assert len(problems) == 1 and "panic" in problems[0]


def test_table_shown_as_debug_text_fails():
    debug = {"output_type": "execute_result", "data": {"text/plain": "Table { frame: shape: (10, 2) }"}, "metadata": {}}
    _, problems = runner.scan(notebook([debug]))
    assert len(problems) == 1 and "Debug text" in problems[0]


def test_stored_outputs_are_found():
    assert runner.stored_outputs(notebook([], [PNG])) == [1, 2]
    clean = {"cells": [{"cell_type": "code", "source": "1", "outputs": [], "execution_count": None}]}
    assert runner.stored_outputs(clean) == []


def test_committed_notebooks_are_stripped_and_promise_figures():
    books = sorted((ROOT / "notebooks").glob("*.ipynb"))
    # The README's notebook table lists exactly the committed notebooks.
    import re

    listed = re.findall(r"^\| `(\d\d_[a-z0-9_]+)` \|", (ROOT / "README.md").read_text(encoding="utf-8"), re.M)
    assert sorted(listed) == [p.stem for p in books]
    for p in books:
        nb = json.loads(p.read_text(encoding="utf-8"))
        assert runner.stored_outputs(nb) == [], p.name
        assert nb["metadata"]["kernelspec"]["name"] == "mammolab", p.name
        assert nb["metadata"]["mammolab"]["figures"] >= 1, p.name
