"""Execute mammolab's notebooks headless with real Jupyter (nbclient on the `mammolab` kernel)
and check them. Run through scripts/notebooks.sh, which installs the kernel and this venv.

For each notebook, in order: refuse it if the copy in git carries outputs; execute it (its
working directory is the output folder: notebooks must find the crate and the data from
anywhere). By default one kernel runs the whole suite: before each notebook after the first,
`:clear` (new user-code process, every variable and item gone) and `:load_config` (init.evcxr
and the prelude again) give the notebook a fresh kernel's state while evcxr keeps its compiled
dependencies and rust-analyzer's index; that saves ~55 s per notebook (kernels/README.md).
`--fresh-kernels` starts a new kernel per notebook instead. Then write the executed copy and an HTML page to OUT; then fail it on any error output,
any panic, a stderr line naming an error, fewer figures (image/png or image/svg+xml
outputs) than its metadata `mammolab.figures` promises, or an output that shows a patient
id, DICOM patient name, accession number or birth date of the cohort (from its
ground_truth.json; a cohort without one fails: its outputs cannot be checked). OUT/summary.json records the
timings (kernel start = evcxr loading mammolab, the first `:dep`; per-cell seconds).

Usage: python scripts/notebooks.py [--out DIR] [--only 03,05] [--fresh-kernels] [--check-stripped-only] NOTEBOOK...
Exit status 1 when any notebook failed a check, naming the notebook, cell and reason.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path


FIGURE_MIMES = ("image/png", "image/svg+xml")
PANIC_MARKERS = ("panicked at", "thread 'main' panicked", "Child process terminated")


def stored_outputs(nb):
    """Cells of a notebook in git that carry outputs or execution counts."""
    bad = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            bad.append(i)
    return bad


def scan(nb):
    """(figures, problems) of an executed notebook: at most one problem per cell and kind."""
    figures = 0
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell.get("source", ""))
        first = source.strip().splitlines()[0] if source.strip() else ""
        where = f"cell {i} ({first[:60]!r})"
        stderr = ""
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                msg = " ".join(out.get("evalue", "").split())[:300]
                problems.append(f"{where}: error output: {out.get('ename', '')} {msg}")
            elif kind == "stream" and out.get("name") == "stderr":
                stderr += "".join(out.get("text", ""))
            elif kind in ("display_data", "execute_result"):
                data = out.get("data", {})
                if any(m in data for m in FIGURE_MIMES):
                    figures += 1
                plain = "".join(data.get("text/plain", ""))
                if len(data) == 1 and plain.startswith(("Table {", "Figure")):
                    problems.append(f"{where}: a Table/Figure shown as Debug text, not rendered")
        lines = [l.strip() for l in stderr.splitlines() if l.strip()]
        panic = [l for l in lines if any(m in l for m in PANIC_MARKERS)]
        if panic:
            problems.append(f"{where}: panic: {panic[0][:300]}")
        elif lines:
            # evcxr prints the error of a cell that ends in `Err` (a `?`) on stderr and reports
            # the cell as fine: any stderr text fails the notebook.
            problems.append(f"{where}: stderr: {lines[0][:300]}")
    return figures, problems


def cohort_identifiers():
    """The identifiers of the cohort the notebooks read, from its ground_truth.json: patient
    ids, the DICOMs' patient names, accession numbers and birth dates (as DICOM writes them,
    20180101, and as a table shows them, 2018-01-01). No executed notebook may show one.
    Returns (path of the truth file, identifiers), with None for the identifiers when the
    file is missing: then the scan cannot run, and that is a failure, not a pass."""
    profile = os.environ.get("MAMMOLAB_PROFILE", "default")
    data = os.environ.get("MAMMOLAB_DATA") or Path(__file__).resolve().parent.parent / "data" / f"synthetic-{profile}"
    truth = Path(data) / "ground_truth.json"
    if not truth.is_file():
        return truth, None
    ids = set()
    for image in json.loads(truth.read_text(encoding="utf-8")).get("images", []):
        if image.get("patient_id"):
            ids.add(image["patient_id"])
        if image.get("pseudonym"):
            ids.add("SYNTHETIC^" + image["pseudonym"])
        if image.get("accession_number"):
            ids.add(image["accession_number"])
        birth = image.get("birth_date") or ""
        if len(birth) == 8 and birth.isdigit():
            ids.update({birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"})
    return truth, ids


def leaks(nb, identifiers):
    """One problem per cell whose outputs show a cohort identifier (masked in the message,
    so the CI log does not show it either). An identifier counts only as a whole token (not
    inside a longer run of letters or digits: 19550101 inside 0.8819550101 is no birth date).
    `identifiers` is cohort_identifiers()'s pair."""
    truth, ids = identifiers
    if ids is None:
        # Only a notebook that reads the cohort (`setup.cohort()`) needs its truth: 09-12 read
        # the twins alone and may run first (`--only 10` on a fresh clone).
        source = "".join("".join(c.get("source", "")) for c in nb["cells"] if c["cell_type"] == "code")
        if ".cohort(" not in source:
            return []
        return [f"no {truth}: the outputs cannot be checked for the cohort's patient identifiers"]
    if not ids:
        return []
    pattern = re.compile(
        r"(?<![0-9A-Za-z])(" + "|".join(re.escape(x) for x in sorted(ids, key=len, reverse=True)) + r")(?![0-9A-Za-z])"
    )
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        text = json.dumps(cell.get("outputs", []), ensure_ascii=False)
        found = sorted(set(pattern.findall(text)))
        if found:
            problems.append(f"cell {i}: shows {len(found)} patient identifier(s) of the cohort, e.g. {found[0][:3]}...")
    return problems


def cell_seconds(nb):
    """Seconds per executed code cell from nbclient's timing metadata."""
    from datetime import datetime

    out = []
    for cell in nb.cells:
        t = cell.get("metadata", {}).get("execution", {})
        a, b = t.get("iopub.execute_input"), t.get("shell.execute_reply")
        if cell.cell_type == "code" and a and b:
            fa = datetime.fromisoformat(a.replace("Z", "+00:00"))
            fb = datetime.fromisoformat(b.replace("Z", "+00:00"))
            out.append(round((fb - fa).total_seconds(), 3))
    return out


def write_html(nb, path):
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    path.write_text(body, encoding="utf-8")


class SharedKernel:
    """One kernel (and one client: evcxr answers one client reliably) for the suite, reset to
    a fresh kernel's state between notebooks."""

    def __init__(self, kernel, cwd, startup_timeout):
        self.kernel, self.cwd, self.startup_timeout = kernel, cwd, startup_timeout
        self.km = self.kc = None
        self.used = False

    def ready(self):
        """(kernel manager, client, seconds): started, or reset when a notebook used it."""
        from jupyter_client.manager import KernelManager

        t0 = time.monotonic()
        if self.km is None or not self.km.is_alive():
            self.shutdown()
            self.km = KernelManager(kernel_name=self.kernel)
            self.km.start_kernel(cwd=str(self.cwd))
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=self.startup_timeout)
            self.used = False
        elif self.used:
            for command in (":clear", ":load_config"):
                reply = self.kc.execute_interactive(
                    command, timeout=self.startup_timeout, output_hook=lambda m: None
                )
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"{command} failed: {reply['content'].get('evalue', '')}")
        self.used = True
        return self.km, self.kc, round(time.monotonic() - t0, 2)

    def shutdown(self):
        """Stop the kernel; the next `ready` starts a new one."""
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None and self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        self.km = self.kc = None


def run_one(path, out, kernel, timeout, startup_timeout, shared=None):
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    rec = {"notebook": path.name, "problems": []}
    expected = nb.metadata.get("mammolab", {}).get("figures", 0)
    t0 = time.monotonic()
    km = kc = None
    if shared is not None:
        try:
            km, kc, rec["kernel_start_s"] = shared.ready()
        except Exception as e:
            rec["problems"].append(f"kernel: {type(e).__name__}: {str(e).strip()[:400]}")
            rec["seconds"], rec["figures"], rec["expected_figures"], rec["cell_seconds"] = 0, 0, expected, []
            return rec
    client = NotebookClient(
        nb,
        km=km,
        kernel_name=kernel,
        timeout=timeout,
        startup_timeout=startup_timeout,
        record_timing=True,
        resources={"metadata": {"path": str(out)}},
    )
    client.kc = kc
    try:
        with client.setup_kernel():
            rec.setdefault("kernel_start_s", round(time.monotonic() - t0, 2))
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    except CellExecutionError as e:
        first = str(e).strip().splitlines()
        rec["problems"].append("cell failed: " + " | ".join(l for l in first[-3:] if l.strip())[:400])
    except (CellTimeoutError, DeadKernelError, RuntimeError, TimeoutError) as e:
        rec["problems"].append(f"{type(e).__name__}: {str(e).strip()[:400]}")
    rec["seconds"] = round(time.monotonic() - t0, 2)
    figures, problems = scan(nb)
    rec["figures"] = figures
    rec["expected_figures"] = expected
    rec["problems"] += problems
    rec["problems"] += leaks(nb, cohort_identifiers())
    if figures < expected:
        rec["problems"].append(f"{figures} figures, expected at least {expected}")
    secs = cell_seconds(nb)
    rec["cell_seconds"] = secs
    nbformat.write(nb, out / path.name)
    try:
        write_html(nb, out / (path.stem + ".html"))
    except Exception as e:  # an HTML failure must not hide the notebook's own result
        rec["problems"].append(f"HTML export failed: {e}")
    return rec


def run_all(a, out, only, shared, summary, failed):
    """Execute the notebooks one after the other, recording into `summary` and `failed`."""
    for p in a.notebooks:
        if only and not any(p.name.startswith(o) for o in only):
            continue
        print(f"== {p.name}", flush=True)
        rec = run_one(p.resolve(), out, a.kernel, a.timeout, a.startup_timeout, shared)
        if shared is not None and rec["problems"]:
            # A failed notebook may leave the kernel broken (a panic aborts evcxr's child
            # process): the next notebook gets a new kernel.
            shared.shutdown()
        summary["notebooks"].append(rec)
        secs = rec["cell_seconds"]
        print(
            f"   {rec['seconds']:.0f} s (kernel start or reset {rec.get('kernel_start_s', float('nan')):.1f} s, "
            f"{len(secs)} cells, median {sorted(secs)[len(secs) // 2] if secs else 0:.2f} s), "
            f"{rec['figures']} figures",
            flush=True,
        )
        for prob in rec["problems"]:
            failed.append(f"{p.name}: {prob}")
            print(f"   FAIL {prob}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("out/notebooks"))
    ap.add_argument("--only", default="", help="comma-separated name prefixes, e.g. 01,05")
    ap.add_argument("--kernel", default="mammolab")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    ap.add_argument(
        "--startup-timeout",
        type=int,
        default=3600,
        help="seconds for a kernel to start (a cold start compiles mammolab's dependencies)",
    )
    ap.add_argument("--check-stripped-only", action="store_true")
    ap.add_argument("--fresh-kernels", action="store_true", help="a new kernel per notebook")
    a = ap.parse_args()
    import nbformat

    failed = []
    for p in a.notebooks:
        bad = stored_outputs(nbformat.read(p, as_version=4))
        if bad:
            failed.append(f"{p}: cells {bad} carry outputs in git (clear them before committing)")
    if a.check_stripped_only:
        for f in failed:
            print("FAIL", f, file=sys.stderr)
        return 1 if failed else 0

    a.out.mkdir(parents=True, exist_ok=True)
    out = a.out.resolve()
    only = [s for s in a.only.split(",") if s]
    summary = {"profile": os.environ.get("MAMMOLAB_PROFILE", "default"), "notebooks": []}
    summary["kernel"] = "fresh per notebook" if a.fresh_kernels else "shared, reset between notebooks"
    shared = None if a.fresh_kernels else SharedKernel(a.kernel, out, a.startup_timeout)
    t_all = time.monotonic()
    try:
        run_all(a, out, only, shared, summary, failed)
    finally:
        if shared is not None:
            shared.shutdown()
    summary["seconds"] = round(time.monotonic() - t_all, 2)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"== {len(summary['notebooks'])} notebooks in {summary['seconds']:.0f} s; executed copies and HTML in {out}")
    for f in failed:
        print("FAIL", f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
