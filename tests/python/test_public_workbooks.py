"""`mammolab sheets --json --cells` against openpyxl (.xlsx), xlrd (.xls) and pandas' odf reader
(.ods, odfpy) on workbooks nobody here wrote: the example workbooks readxl ships (`extdata/`,
from Debian's r-cran-readxl 1.4.2-1 .deb, unpacked by scripts/check.sh into $MAMMOLAB_READXL)
and the example spreadsheets odfpy ships (`tests/examples/*.ods` of its 1.4.1 source
distribution, one of them written by KSpread, unpacked into $MAMMOLAB_ODS_EXAMPLES); nothing
is fetched here.

For every sheet, with mammolab's documented rules applied to the reference's raw grid
(merged regions filled from their top-left cell, error cells empty, empty rows and columns
dropped, the first non-empty row the header): the sheet names in order, the header row, the
data rows' spreadsheet row numbers, and every cell (numbers to 1e-12 relative, text and
booleans exactly, dates as Excel's General format `YYYY-MM-DD[ HH:MM:SS]`).
"""

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import openpyxl
import openpyxl.worksheet.cell_range
import pandas as pd
import pytest
import xlrd

BIN = os.environ.get("MAMMOLAB_BIN")
READXL = os.environ.get("MAMMOLAB_READXL")
ODS = os.environ.get("MAMMOLAB_ODS_EXAMPLES")
EXCEL_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"}


def books():
    if not READXL or not Path(READXL).is_dir():
        pytest.fail("MAMMOLAB_READXL must name readxl's extdata folder (scripts/check.sh sets it)")
    found = sorted(p for p in Path(READXL).iterdir() if p.suffix in (".xlsx", ".xls"))
    assert len(found) == 10, found
    return found


def ods_books():
    if not ODS or not Path(ODS).is_dir():
        pytest.fail("MAMMOLAB_ODS_EXAMPLES must name odfpy's tests/examples folder (scripts/check.sh sets it)")
    found = sorted(Path(ODS).glob("*.ods"))
    assert len(found) == 4, found
    return found


def text_of_date(v):
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if v.time() == dt.time() else v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, dt.time):
        return v.strftime("%H:%M:%S")
    return v


def openpyxl_grids(path):
    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except KeyError:
        # datasets.xlsx names a drawing part it does not contain: openpyxl's full reader
        # stops there, its read-only reader (cells only, no merged regions) does not.
        wb = openpyxl.load_workbook(path, data_only=True, read_only=True)
    out = []
    for ws in wb.worksheets:
        if getattr(ws, "merged_cells", None) is None:  # read-only: rows as stored, from row 1
            ws.reset_dimensions()
            rows = [list(r) for r in ws.iter_rows(values_only=True)]
            width = max((len(r) for r in rows), default=0)
            grid = [r + [None] * (width - len(r)) for r in rows]
        else:
            grid = [[c.value for c in row] for row in ws.iter_rows(min_row=1, min_col=1, max_row=ws.max_row, max_col=ws.max_column)]
        for m in getattr(ws, "merged_cells", openpyxl.worksheet.cell_range.MultiCellRange()).ranges:
            top = grid[m.min_row - 1][m.min_col - 1]
            for r in range(m.min_row - 1, m.max_row):
                for c in range(m.min_col - 1, m.max_col):
                    if grid[r][c] is None:
                        grid[r][c] = top
        out.append((ws.title, grid))
    return out


def xlrd_grids(path):
    wb = xlrd.open_workbook(str(path), formatting_info=True)
    out = []
    for sh in wb.sheets():
        grid = []
        for r in range(sh.nrows):
            row = []
            for c in range(sh.ncols):
                cell = sh.cell(r, c)
                if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                    row.append(None)
                elif cell.ctype == xlrd.XL_CELL_DATE:
                    row.append(xlrd.xldate.xldate_as_datetime(cell.value, wb.datemode))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    row.append(bool(cell.value))
                else:
                    row.append(cell.value)
            grid.append(row)
        for r0, r1, c0, c1 in sh.merged_cells:
            top = grid[r0][c0]
            for r in range(r0, r1):
                for c in range(c0, c1):
                    if grid[r][c] is None:
                        grid[r][c] = top
        out.append((sh.name, grid))
    return out


def pandas_ods_grids(path):
    """Every sheet's raw grid as pandas reads it with odfpy (`engine="odf"`, no header row),
    empty cells None."""
    frames = pd.read_excel(path, engine="odf", sheet_name=None, header=None)
    return [(name, [[None if pd.isna(v) else v for v in row] for row in df.itertuples(index=False)])
            for name, df in frames.items()]


def column_letter(i):
    """0 -> A, 25 -> Z, 26 -> AA."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def header_names(grid):
    """The column names by mammolab's documented rules, from the raw grid: the header cell as
    Excel's General format shows it, `column_<LETTER>` for an empty one, `_2`, `_3`, ... for a
    repeated one; columns with neither header nor value dropped."""
    clean = [[None if v is None or v == "" else v for v in row] for row in grid]
    rows = [r for r in clean if any(v is not None for v in r)]
    if not rows:
        return []
    header, data = rows[0], rows[1:]
    seen, names = {}, []
    for c, v in enumerate(header):
        if v is None and all(r[c] is None for r in data):
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        name = f"column_{column_letter(c)}" if v is None else str(v)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return names


def as_mammolab_reads(grid):
    """(header row, [(row number, [cells])]) by mammolab's rules, from a raw 0-based grid."""
    def empty(v):
        return v is None or v == "" or (isinstance(v, str) and v in EXCEL_ERRORS)
    clean = [[None if empty(v) else text_of_date(v) for v in row] for row in grid]
    rows = [(i + 1, r) for i, r in enumerate(clean) if any(v is not None for v in r)]
    if not rows:
        return None, []
    (header_row, header), data = rows[0], rows[1:]
    keep = [c for c in range(len(header)) if header[c] is not None or any(r[c] is not None for _, r in data)]
    return header_row, [(n, [r[c] for c in keep]) for n, r in data]


def same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == pytest.approx(b, rel=1e-12, abs=0)
    return a == b


@pytest.mark.parametrize("book", books(), ids=lambda p: p.name)
def test_readxl_workbook_matches_the_reference_reader(book):
    p = subprocess.run([BIN, "sheets", book, "--json", "--cells"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["unreadable"] == [], got["unreadable"]
    reference = openpyxl_grids(book) if book.suffix == ".xlsx" else xlrd_grids(book)
    assert [s["name"] for s in got["sheets"]] == [name for name, _ in reference]
    for sheet, (name, grid) in zip(got["sheets"], reference):
        header_row, data = as_mammolab_reads(grid)
        assert sheet["rows"] == len(data), name
        assert sheet["row_numbers"] == [n for n, _ in data], name
        for (n, want), cells in zip(data, sheet["cells"]):
            assert len(cells) == len(want), f"{book.name} {name} row {n}: {cells} vs {want}"
            bad = [(c, w) for c, w in zip(cells, want) if not same(c, w)]
            assert not bad, f"{book.name} {name} row {n}: {bad}"


@pytest.mark.parametrize("book", ods_books(), ids=lambda p: p.name)
def test_odfpy_spreadsheet_matches_pandas(book):
    """Sheet names in order, column names, row numbers and every cell, as for readxl's books.
    `pythagoras-kspread.ods` is written by KSpread with its XML indented: calamine 0.38 refuses
    it ("Expecting 'table-cell', found Text"); mammolab drops the layout whitespace and reads
    it as pandas does, the same cells as LibreOffice's `pythagoras.ods`."""
    p = subprocess.run([BIN, "sheets", book, "--json", "--cells"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    assert got["unreadable"] == [] and got["warnings"] == [], got
    reference = pandas_ods_grids(book)
    assert [s["name"] for s in got["sheets"]] == [name for name, _ in reference]
    for sheet, (name, grid) in zip(got["sheets"], reference):
        assert [c["name"] for c in sheet["columns"]] == header_names(grid), name
        _, data = as_mammolab_reads(grid)
        assert sheet["row_numbers"] == [n for n, _ in data], name
        for (n, want), cells in zip(data, sheet["cells"]):
            assert len(cells) == len(want) and all(same(c, w) for c, w in zip(cells, want)), \
                f"{book.name} {name} row {n}: {cells} vs {want}"


def test_number_cells_stored_with_spaces_are_read_and_reported():
    """readxl's datasets.xlsx stores 1233 of quakes' numbers as `<v> 41</v>`: calamine refuses
    the sheet; mammolab reads them as openpyxl does and says which cells."""
    book = Path(READXL) / "datasets.xlsx"
    got = json.loads(subprocess.run([BIN, "sheets", book, "--json"], capture_output=True, text=True, check=True).stdout)
    warnings = [w for w in got["warnings"] if w["sheet"] == "quakes"]
    assert len(warnings) == 1233
    assert warnings[0]["warning"] == 'E2: number stored as " 41", read as 41'
    quakes = [s for s in got["sheets"] if s["name"] == "quakes"][0]
    assert quakes["rows"] == 1000 and [c["dtype"] for c in quakes["columns"]] == ["f64", "f64", "i64", "f64", "i64"]


def test_a_large_sheet_read_in_parallel_pieces_matches_openpyxl(tmp_path):
    """A worksheet whose XML passes 1 MiB is cut at its rows and parsed by one calamine reader
    per thread (mammolab's ingest::xlsx_split). A workbook written by openpyxl (15,000 rows of
    text, numbers, datetimes, booleans and blanks, an empty stretch, merged regions in the
    middle and at the end) reads cell for cell as openpyxl reads it, with 3 threads and with
    1 (one reader), and both give the same JSON."""
    import random
    import zipfile

    rng = random.Random(7)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Big"
    ws.append(["id", "score", "count", "seen", "flag", "note", "side", "size"])
    for r in range(2, 15_002):
        if 6_000 <= r < 6_030:
            continue
        ws.cell(r, 1, f"P{r % 4001:05d}")
        ws.cell(r, 2, rng.random() * 1e3)
        if r % 3:
            ws.cell(r, 3, rng.randrange(500))
        ws.cell(r, 4, dt.datetime(2014, 1, 1) + dt.timedelta(seconds=rng.randrange(10 ** 8)))
        ws.cell(r, 5, r % 2 == 0)
        if r % 13 == 0:
            ws.cell(r, 6, 'dense tissue <row r="1"> & more')
        ws.cell(r, 7, rng.choice(["L", "R"]))
        ws.cell(r, 8, rng.randrange(-5, 5) / 4)
    ws.merge_cells("F8000:G8003")
    ws["F8000"] = "merged"
    ws.merge_cells("A15001:B15002")
    ws["A15001"] = "last"
    book = tmp_path / "large.xlsx"
    wb.save(book)
    with zipfile.ZipFile(book) as z:
        assert z.getinfo("xl/worksheets/sheet1.xml").file_size > 1 << 20, "large enough to be cut"

    def read(threads):
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
        p = subprocess.run([BIN, "sheets", book, "--json", "--cells"], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
        return p.stdout

    pieces, one = read(3), read(1)
    assert pieces == one
    (sheet,) = json.loads(pieces)["sheets"]
    ((_, grid),) = openpyxl_grids(book)
    _, data = as_mammolab_reads(grid)
    assert sheet["rows"] == len(data) == 15_000 - 30 + 1  # the merged region ends a row below
    assert sheet["row_numbers"] == [n for n, _ in data]
    for (n, want), cells in zip(data, sheet["cells"]):
        assert len(cells) == len(want) and all(same(c, w) for c, w in zip(cells, want)), \
            f"row {n}: {cells} vs {want}"


@pytest.mark.parametrize("book", books() + ods_books(), ids=lambda p: p.name)
def test_a_second_read_from_the_cache_is_the_first(book, tmp_path):
    """`mammolab sheets --cache DIR`: the first read fills DIR, the second comes from it
    (keyed by the workbook's sha256), and both print exactly what a read without the cache
    prints, for every public workbook above (whose cells the tests above check)."""
    def read(*extra):
        p = subprocess.run([BIN, "sheets", book, "--json", "--cells", *extra], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        return p.stdout

    plain = read()
    assert read("--cache", tmp_path) == plain
    (entry,) = tmp_path.glob("*.sheets")
    stored = entry.stat()
    assert read("--cache", tmp_path) == plain
    assert entry.stat().st_ino == stored.st_ino and entry.stat().st_mtime_ns == stored.st_mtime_ns, \
        "the second read used the entry and did not write it again"
