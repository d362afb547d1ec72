"""`mammolab sheets` and `mammolab merge` on files made by other tools: openpyxl writes the
workbooks, msoffcrypto-tool encrypts one, pandas reads mammolab's outputs back."""

import json
import os
import subprocess

import msoffcrypto.format.ooxml
import openpyxl
import pandas as pd

BIN = os.environ.get("MAMMOLAB_BIN")


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def test_sheets_json_contract_on_an_openpyxl_workbook(tmp_path):
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Cancer"
    ws.append(["InputFileName", "StudyDate", "Score", "Score"])
    ws.append(["FILE0001", 20141225, 0.5, 1])
    ws.append(["FILE0002", "2014-12-26", 0.25, 2])
    wb.create_sheet("Empty")
    wb.save(path)
    p = run("sheets", path, "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got == {
        "file": str(path),
        "sheets": [
            {"name": "Cancer", "rows": 2, "columns": [
                {"name": "InputFileName", "dtype": "str"},
                {"name": "StudyDate", "dtype": "str"},
                {"name": "Score", "dtype": "f64"},
                {"name": "Score_2", "dtype": "i64"},
            ]},
            {"name": "Empty", "rows": 0, "columns": []},
        ],
        "unreadable": [],
        "warnings": [],
    }


def test_password_protected_workbook_is_one_clear_line(tmp_path):
    plain, secret = tmp_path / "plain.xlsx", tmp_path / "secret.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "PatientID"
    wb.save(plain)
    with open(plain, "rb") as f, open(secret, "wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(f).encrypt("hospital", out)
    p = run("sheets", secret)
    assert p.returncode == 1
    assert p.stderr == f"error: {secret}: workbook is password-protected; save an unprotected copy\n"


def test_merge_json_contract_and_outputs_read_by_pandas(cohort, tmp_path):
    out, truth = cohort
    p = run("merge", "--manifest", out / "manifest.toml", "--out", tmp_path / "m", "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert set(got) == {"sheets", "unmatched", "images"}
    c = truth["counts"]
    assert got["sheets"]["Cancer"]["rows"] == c["cancer_rows"]
    assert got["sheets"]["Cancer"]["matched"] == c["normalised_key_matches"]
    for s in got["sheets"].values():
        assert s["matched"] + s["unmatched"] == s["rows"]
    assert set(got["images"]) == {"resolved", "missing", "duplicates"}
    for u in got["unmatched"]:
        assert set(u) == {"sheet", "row", "key", "reason"} and u["row"] >= 2 and u["reason"]
    audit = pd.read_csv(tmp_path / "m" / "audit.csv")
    assert (audit["status"] == "exact").sum() == 2 * c["exact_key_matches"]  # Cancer rows + their listing rows
    assert len(pd.read_excel(tmp_path / "m" / "audit.xlsx")) == len(audit)
    assert len(pd.read_parquet(tmp_path / "m" / "merged.parquet")) == c["normalised_key_matches"]


def test_one_unreadable_sheet_is_reported_and_the_others_read(tmp_path):
    """openpyxl writes three sheets; the middle one's XML is then given a cell type that does
    not exist (`t="q"`). openpyxl's reader refuses the file; mammolab reads the two others
    and names the sheet it could not read, with calamine's reason."""
    import zipfile
    good = tmp_path / "good.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Cancer"
    wb.active.append(["PatientID", "Age"])
    wb.active.append(["DIT000000001", 61])
    wb.create_sheet("Broken").append([5])
    wb.create_sheet("Normal").append(["PatientID"])
    wb.save(good)
    bad = tmp_path / "bad.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet2.xml":
                assert b'<c r="A1" t="n"><v>5</v>' in data
                data = data.replace(b'<c r="A1" t="n">', b'<c r="A1" t="q">', 1)
            dst.writestr(item, data)
    p = run("sheets", bad, "--json")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert [s["name"] for s in got["sheets"]] == ["Cancer", "Normal"]
    assert got["sheets"][0]["rows"] == 1
    assert [u["name"] for u in got["unreadable"]] == ["Broken"]
    assert "q" in got["unreadable"][0]["error"]
    text = run("sheets", bad)
    assert text.returncode == 0 and "  Broken: not readable: " in text.stdout
