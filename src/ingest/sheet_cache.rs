//! A workbook read a second time from a cache: its sheets as they were read the first time,
//! keyed by the sha256 of the workbook's bytes.
//!
//! [`super::sheets::SheetOptions::with_cache`] names the folder. The key is the sha256 of the
//! workbook file, the sheet (or the whole workbook, for `read_all` and `read_workbook`), the
//! options and this format's version, so an edited workbook (any byte) is a new key and a
//! cache entry is never used for another file. One entry is one file, `<key>.sheets`:
//!
//! ```text
//! b"MLSHEETS" | u32 format version | u32 sheets | sheet... | u32 unreadable | (name, reason)...
//! | the CRC-32 of everything before it (u32)
//! sheet: name | u32 header row | u32 columns | name... | u32 renamed | (from, to)...
//!        | u32 rows | u32 row number... | u32 error columns | (name, u64 count)...
//!        | u32 warnings | text... | u32 byte length of each row's cells... | the cells, row by
//!        row: u8 kind + value
//! text: u32 length + UTF-8; kinds: 0 empty, 1 i64, 2 f64, 3 text, 4 bool (u8), 5 Excel serial
//! (f64), 6 error text; numbers little-endian
//! ```
//!
//! A file that is truncated, changed or not of this version is a miss: the workbook is read
//! again and the entry rewritten (under a temporary name, then renamed). The checksum is a
//! CRC-32 (a damaged or cut file, not a forged one: the key, not the checksum, ties an entry
//! to its workbook), and every count is checked against the bytes left before anything is
//! allocated for it. The rows are decoded in parallel (each row's length is stored).

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::sheets::{Sheet, Value, Workbook};
use crate::error::Result;

const MAGIC: &[u8; 8] = b"MLSHEETS";
const VERSION: u32 = 1;

/// The cache file of `what` (a sheet's name, or `None` for the whole workbook) of the
/// workbook whose bytes hash to `workbook_sha256`, read with `header_row`.
pub(crate) fn entry(
    dir: &Path,
    workbook_sha256: &str,
    what: Option<&str>,
    header_row: Option<u32>,
) -> PathBuf {
    let key = format!(
        "mammolab sheets v{VERSION}\n{workbook_sha256}\n{}\n{header_row:?}",
        what.map_or_else(|| "(workbook)".to_string(), |s| format!("sheet {s}"))
    );
    dir.join(format!(
        "{}.sheets",
        crate::hash::sha256_bytes(key.as_bytes())
    ))
}

/// The workbook stored at `file`, with `path` as each sheet's file; `None` when there is
/// none or it is not intact.
pub(crate) fn load(file: &Path, path: &Path) -> Option<Workbook> {
    let bytes = std::fs::read(file).ok()?;
    let (body, sum) = bytes.split_at(bytes.len().checked_sub(4)?);
    if crc32fast::hash(body).to_le_bytes() != *sum {
        return None;
    }
    let mut r = Bytes { at: body };
    if r.take(8)? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let n = r.count(1)?;
    let mut sheets = Vec::with_capacity(n);
    for _ in 0..n {
        sheets.push(r.sheet(path)?);
    }
    let unreadable = r.pairs()?;
    r.at.is_empty().then_some(Workbook { sheets, unreadable })
}

/// Store `book` at `file` (written whole under a temporary name, then renamed). A sheet
/// whose rows are not all as wide as its columns, or not one per row number (never made
/// by the readers), is not stored.
pub(crate) fn store(file: &Path, book: &Workbook) -> Result<()> {
    let ragged = |s: &Sheet| {
        s.rows.len() != s.row_numbers.len() || s.rows.iter().any(|r| r.len() != s.columns.len())
    };
    if book.sheets.iter().any(ragged) {
        return Ok(());
    }
    let cells: usize = book
        .sheets
        .iter()
        .map(|s| s.rows.len() * s.columns.len())
        .sum();
    let mut w = Vec::with_capacity(64 + cells * 9);
    w.extend_from_slice(MAGIC);
    put_u32(&mut w, VERSION);
    put_len(&mut w, book.sheets.len());
    for s in &book.sheets {
        put_sheet(&mut w, s);
    }
    put_pairs(&mut w, &book.unreadable);
    let sum = crc32fast::hash(&w);
    put_u32(&mut w, sum);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            let why = format!("cannot make the sheet cache folder: {e}");
            crate::error::Error::io(dir, std::io::Error::new(e.kind(), why))
        })?;
    }
    crate::outlock::write_atomic(file, &w)
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_len(w: &mut Vec<u8>, n: usize) {
    // Lengths here are of in-memory sheets: rows, columns and text all fit u32 (a sheet
    // has at most 1,048,576 rows; a cell at most 32,767 characters).
    put_u32(w, u32::try_from(n).unwrap_or(u32::MAX));
}

fn put_text(w: &mut Vec<u8>, s: &str) {
    put_len(w, s.len());
    w.extend_from_slice(s.as_bytes());
}

fn put_pairs(w: &mut Vec<u8>, pairs: &[(String, String)]) {
    put_len(w, pairs.len());
    for (a, b) in pairs {
        put_text(w, a);
        put_text(w, b);
    }
}

fn put_sheet(w: &mut Vec<u8>, s: &Sheet) {
    put_text(w, &s.name);
    put_u32(w, s.header_row);
    put_len(w, s.columns.len());
    for c in &s.columns {
        put_text(w, c);
    }
    put_pairs(w, &s.renamed);
    put_len(w, s.row_numbers.len());
    for n in &s.row_numbers {
        put_u32(w, *n);
    }
    put_len(w, s.error_cells.len());
    for (c, n) in &s.error_cells {
        put_text(w, c);
        w.extend_from_slice(&(*n as u64).to_le_bytes());
    }
    put_len(w, s.warnings.len());
    for t in &s.warnings {
        put_text(w, t);
    }
    let mut cells = Vec::with_capacity(s.rows.len() * s.columns.len() * 9);
    for row in &s.rows {
        let start = cells.len();
        for v in row {
            put_value(&mut cells, v);
        }
        put_len(w, cells.len() - start);
    }
    w.extend_from_slice(&cells);
}

fn put_value(w: &mut Vec<u8>, v: &Value) {
    let mut tagged = |kind: u8, bytes: &[u8]| {
        w.push(kind);
        w.extend_from_slice(bytes);
    };
    match v {
        Value::Empty => tagged(0, &[]),
        Value::Int(i) => tagged(1, &i.to_le_bytes()),
        Value::Float(f) => tagged(2, &f.to_le_bytes()),
        Value::Text(t) => {
            w.push(3);
            put_text(w, t);
        }
        Value::Bool(b) => tagged(4, &[u8::from(*b)]),
        Value::Excel(f) => tagged(5, &f.to_le_bytes()),
        Value::Error(e) => {
            w.push(6);
            put_text(w, e);
        }
    }
}

/// A reader over a cache file's bytes; every method is `None` past the end.
struct Bytes<'a> {
    at: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.at.len() {
            return None;
        }
        let (head, rest) = self.at.split_at(n);
        self.at = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A count of items of at least `each` bytes, no more than the bytes left can hold.
    fn count(&mut self, each: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(each)? <= self.at.len()).then_some(n)
    }

    fn text(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }

    fn texts(&mut self) -> Option<Vec<String>> {
        let n = self.count(4)?;
        (0..n).map(|_| self.text()).collect()
    }

    fn pairs(&mut self) -> Option<Vec<(String, String)>> {
        let n = self.count(8)?;
        (0..n).map(|_| Some((self.text()?, self.text()?))).collect()
    }

    fn value(&mut self) -> Option<Value> {
        let [kind] = self.array()?;
        Some(match kind {
            0 => Value::Empty,
            1 => Value::Int(i64::from_le_bytes(self.array()?)),
            2 => Value::Float(f64::from_le_bytes(self.array()?)),
            3 => Value::Text(self.text()?),
            4 => Value::Bool(self.array::<1>()?[0] != 0),
            5 => Value::Excel(f64::from_le_bytes(self.array()?)),
            6 => Value::Error(self.text()?),
            _ => return None,
        })
    }

    fn sheet(&mut self, path: &Path) -> Option<Sheet> {
        let name = self.text()?;
        let header_row = self.u32()?;
        let columns = self.texts()?;
        let renamed = self.pairs()?;
        // Each row: its number and its cells' length.
        let n = self.count(8)?;
        let row_numbers = (0..n).map(|_| self.u32()).collect::<Option<Vec<_>>>()?;
        let n = self.count(12)?;
        let error_cells = (0..n)
            .map(|_| Some((self.text()?, usize::try_from(self.u64()?).ok()?)))
            .collect::<Option<_>>()?;
        let warnings = self.texts()?;
        let lengths = (0..row_numbers.len())
            .map(|_| Some(self.u32()? as usize))
            .collect::<Option<Vec<_>>>()?;
        let mut slices = Vec::with_capacity(lengths.len());
        for n in lengths {
            slices.push(self.take(n)?);
        }
        // A row's cells take at least one byte each, so `width` is bounded by its bytes.
        let width = columns.len();
        let rows = slices
            .into_par_iter()
            .map(|at| {
                let mut row = Bytes { at };
                if width > at.len() {
                    return None;
                }
                let cells = (0..width)
                    .map(|_| row.value())
                    .collect::<Option<Vec<_>>>()?;
                row.at.is_empty().then_some(cells)
            })
            .collect::<Option<Vec<Vec<Value>>>>()?;
        Some(Sheet {
            file: path.to_path_buf(),
            name,
            header_row,
            columns,
            renamed,
            rows,
            row_numbers,
            error_cells,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Workbook {
        let sheet = Sheet {
            file: "a.xlsx".into(),
            name: "Cancer ünd more".into(),
            header_row: 3,
            columns: vec!["id".into(), "when".into(), "column_C".into()],
            renamed: vec![(String::new(), "column_C".into())],
            rows: vec![
                vec![
                    Value::Text("P1".into()),
                    Value::Excel(41_998.5),
                    Value::Bool(true),
                ],
                vec![Value::Int(-7), Value::Empty, Value::Error("#N/A".into())],
                vec![
                    Value::Float(0.1),
                    Value::Float(f64::NAN),
                    Value::Text(String::new()),
                ],
            ],
            row_numbers: vec![4, 5, 9],
            error_cells: vec![("column_C".into(), 1)],
            warnings: vec!["B5: number stored as \" 41\", read as 41".into()],
        };
        Workbook {
            sheets: vec![sheet],
            unreadable: vec![("Chart1".into(), "not a worksheet".into())],
        }
    }

    fn same(a: &Workbook, b: &Workbook) -> bool {
        // NaN != NaN: compare the bytes each stores as.
        let mut x = vec![];
        let mut y = vec![];
        a.sheets.iter().for_each(|s| put_sheet(&mut x, s));
        b.sheets.iter().for_each(|s| put_sheet(&mut y, s));
        x == y && a.unreadable == b.unreadable
    }

    #[test]
    fn a_workbook_comes_back_as_stored_and_a_damaged_entry_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let file = entry(dir.path(), "ab12", None, None);
        assert_ne!(file, entry(dir.path(), "ab12", Some("Cancer"), None));
        assert_ne!(file, entry(dir.path(), "ab12", None, Some(2)));
        assert_ne!(file, entry(dir.path(), "ab13", None, None));
        assert!(
            load(&file, Path::new("b.xlsx")).is_none(),
            "nothing stored yet"
        );
        let stored = book();
        store(&file, &stored).unwrap();
        let back = load(&file, Path::new("b.xlsx")).expect("a hit");
        assert!(same(&back, &stored));
        assert_eq!(back.sheets[0].file, Path::new("b.xlsx"));
        let bytes = std::fs::read(&file).unwrap();
        for cut in [0, 8, bytes.len() / 2, bytes.len() - 1] {
            std::fs::write(&file, &bytes[..cut]).unwrap();
            assert!(load(&file, Path::new("b.xlsx")).is_none(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        std::fs::write(&file, &flipped).unwrap();
        assert!(load(&file, Path::new("b.xlsx")).is_none(), "a changed byte");
    }

    #[test]
    fn counts_beyond_the_bytes_are_refused_before_allocating() {
        let mut w = MAGIC.to_vec();
        put_u32(&mut w, VERSION);
        put_u32(&mut w, u32::MAX); // sheets
        let sum = crc32fast::hash(&w);
        put_u32(&mut w, sum);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.sheets");
        std::fs::write(&file, &w).unwrap();
        assert!(load(&file, Path::new("b.xlsx")).is_none());
    }
}
