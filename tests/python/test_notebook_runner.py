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


def test_outputs_showing_an_identifier_of_the_cohort_fail(tmp_path, monkeypatch):
    truth = {"images": [{"patient_id": "DIT439120108", "pseudonym": "P-0a1b2c3d4e",
                         "accession_number": "A20141234567", "birth_date": "19550101"}]}
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth))
    monkeypatch.setenv("MAMMOLAB_DATA", str(tmp_path))
    ids = runner.cohort_identifiers()
    out = lambda text: {"output_type": "stream", "name": "stdout", "text": text}
    shown = {
        "accession": "study A20141234567 read\n",
        "birth date as DICOM writes it": "PatientBirthDate 19550101\n",
        "birth date as a table shows it": "| 1955-01-01 | cancer |\n",
        "patient name": "SYNTHETIC^P-0a1b2c3d4e\n",
        "patient id": "DIT439120108\n",
    }
    for what, text in shown.items():
        problems = runner.leaks(notebook([out(text)]), ids)
        assert len(problems) == 1 and "1 patient identifier" in problems[0], what
        assert "19550101" not in problems[0] and "A20141234567" not in problems[0]
    # Only whole tokens: the digits of a birth date inside a longer number are no leak.
    assert runner.leaks(notebook([out("auc 0.8819550101 and 1195501012\n")]), ids) == []
    assert runner.leaks(notebook([out("pseudonym P-0a1b2c3d4e\n")]), ids) == []


def test_a_cohort_without_ground_truth_fails_the_scan(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMOLAB_DATA", str(tmp_path))
    reads_cohort = notebook([])
    reads_cohort["cells"].append({"cell_type": "code", "source": "let manifest = setup.cohort()?;", "outputs": []})
    problems = runner.leaks(reads_cohort, runner.cohort_identifiers())
    assert len(problems) == 1 and "ground_truth.json" in problems[0] and "cannot be checked" in problems[0]
    # A notebook that reads only a twin (09-12) does not need the seed-001 cohort's truth.
    assert runner.leaks(notebook([]), runner.cohort_identifiers()) == []
