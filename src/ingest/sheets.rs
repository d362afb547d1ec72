//! Spreadsheets (.xlsx, .xlsm, .xls, .xlsb, .ods), CSV and whitespace-separated text files
//! into typed cells and polars DataFrames.
//!
//! A [`Sheet`] keeps every cell as the workbook stored it ([`Value`]), so the merge can tell
//! an Excel date from the text `"2014-12-25"`; [`Sheet::to_dataframe`] gives the typed
//! table a notebook wants.
//!
//! Rules (the same for every format):
//! - **Header**: the first row with any non-empty cell, unless
//!   [`SheetOptions::with_header_row`] names one. Rows above it are skipped.
//! - **Column names**: the header cell as text; an empty header becomes `column_<LETTER>`
//!   (e.g. `column_F`); a repeated name gets `_2`, `_3`, ... in order of appearance (pandas
//!   would write `.1`, `.2`; a dot is awkward in polars expressions). Renames are listed in
//!   [`Sheet::renamed`].
//! - **Empty rows and columns**: rows with no value are dropped (their spreadsheet row
//!   numbers are kept for the rest in [`Sheet::row_numbers`]); columns with neither header
//!   nor value are dropped.
//! - **Merged cells** (xlsx, xls): the value of a merged region's top-left cell fills the region.
//! - **Formulas**: the value the workbook cached when it was last saved.
//! - **Error cells** (`#N/A`, `#DIV/0!`, ...): null, counted per column in
//!   [`Sheet::error_cells`].
//! - **Dtypes**: a column whose values are all whole numbers is Int64; all numbers,
//!   Float64; all booleans, Boolean; all Excel dates, Date (Time when all are under one
//!   day, Datetime when some have both); anything mixed is String, each cell rendered as
//!   Excel's General format shows it (`92603`, `0.25`, `2014-12-25`, `11:26:03`).
//! - **Number cells that do not parse** (xlsx; `<v> 41</v>` with a space, which calamine
//!   refuses for the whole sheet): read as the number when trimming makes one, else as
//!   text, and listed in [`Sheet::warnings`] (cell, stored text, how it was read).
//! - **An indented `.ods`** (KSpread writes one): the whitespace between a row's cells,
//!   which calamine refuses, is dropped in memory and the workbook read from that copy
//!   (`ods_repair`); text inside a paragraph is kept.
//! - **A sheet that cannot be read**: [`read_workbook`] lists it with its reason and reads
//!   the others; [`read_sheet`] and [`read_all`] fail with the sheet's name.
//! - **CSV files** (the metadata of every public download) are a workbook of one sheet named
//!   by the file's stem (`mass_case_description_train_set`); each field is typed as
//!   [`csv_cell`] says, and the rules above apply to the grid (header, names, empty rows).
//!   **`.txt` files** are whitespace-separated tables read the same way (mini-MIAS's
//!   `Info.txt`: short lines end in empty cells; see `read_whitespace_sheet`).
//! - **A second read** with [`SheetOptions::with_cache`] comes from a cache folder, keyed by
//!   the sha256 of the workbook's bytes (`sheet_cache`): the same `Sheet`s, in a tenth of
//!   the time for seed 001's workbooks.
//! - **Dates**: a workbook in the 1904 date system (old Mac Excel) is read as such: its
//!   serials are moved to the 1900 system's, so `Value::Excel` always counts from 1899-12-30.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek};
use std::path::{Path, PathBuf};

use calamine::{Data, Ods, Reader, Sheets, Xls, Xlsb, Xlsx};

use crate::ingest::limits::Limits;
use crate::ingest::sheet_bounds::{self, RangeError};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use crate::calendar::{Date, Time};
use crate::error::{Error, Result};

/// One cell as the workbook stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Empty,
    /// A whole number (xls/ods may store these; xlsx stores all numbers as floats).
    Int(i64),
    /// A number.
    Float(f64),
    /// Text.
    Text(String),
    /// TRUE / FALSE.
    Bool(bool),
    /// A number with a date or time format: Excel's serial (days since 1899-12-30, the
    /// fraction is the time of day).
    Excel(f64),
    /// An error such as `#N/A`.
    Error(String),
}

impl Value {
    /// The cell as Excel's General format would show it (`None` for empty and errors).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Empty | Value::Error(_) => None,
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(number_text(*f)),
            Value::Text(s) => Some(s.clone()),
            Value::Bool(b) => Some(if *b { "TRUE" } else { "FALSE" }.into()),
            Value::Excel(s) => Some(excel_text(*s)),
        }
    }

    /// The value as a number, if it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) | Value::Excel(f) => Some(*f),
            _ => None,
        }
    }
}

/// `92603` for whole numbers, the shortest round-trip form otherwise.
pub(crate) fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Split an Excel serial into a date and a time of day (rounded to the second).
pub(crate) fn excel_parts(serial: f64) -> (Date, Time) {
    let secs = (serial * 86400.0).round() as i64;
    let (days, tod) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let date = Date::from_days(days - 25569);
    let time = Time {
        h: (tod / 3600) as u32,
        m: (tod / 60 % 60) as u32,
        s: (tod % 60) as u32,
    };
    (date, time)
}

fn excel_text(serial: f64) -> String {
    let (d, t) = excel_parts(serial);
    let date = format!("{:04}-{:02}-{:02}", d.y, d.m, d.d);
    if serial.abs() < 1.0 {
        t.colon()
    } else if (serial * 86400.0).round() as i64 % 86400 == 0 {
        date
    } else {
        format!("{date} {}", t.colon())
    }
}

/// Days between the 1904 date system's day 0 (1904-01-01) and the 1900 system's.
const DAYS_1900_TO_1904: f64 = 1462.0;

/// An Excel date as a serial of the 1900 date system, whichever system the workbook uses
/// (old Mac workbooks count days from 1904-01-01; calamine keeps the flag private, so it
/// is read back by comparing with the same value in the 1900 system).
fn serial_1900(x: &calamine::ExcelDateTime) -> f64 {
    let kind = if x.is_duration() {
        calamine::ExcelDateTimeType::TimeDelta
    } else {
        calamine::ExcelDateTimeType::DateTime
    };
    let is_1904 = *x != calamine::ExcelDateTime::new(x.as_f64(), kind, false);
    if is_1904 && !x.is_duration() {
        x.as_f64() + DAYS_1900_TO_1904
    } else {
        x.as_f64()
    }
}

fn from_calamine(d: &Data) -> Value {
    from_calamine_owned(d.clone())
}

/// [`from_calamine`] without copying the text.
pub(crate) fn from_calamine_owned(d: Data) -> Value {
    match d {
        Data::Empty => Value::Empty,
        Data::Int(i) => Value::Int(i),
        Data::Float(f) => Value::Float(f),
        Data::String(s) if s.is_empty() => Value::Empty,
        Data::String(s) => Value::Text(s),
        Data::Bool(b) => Value::Bool(b),
        Data::DateTime(x) => Value::Excel(serial_1900(&x)),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Value::Text(s),
        Data::Error(e) => Value::Error(e.to_string()),
    }
}

/// A sheet's cells as rows of [`Value`]s over their bounding box: row `i`, column `j` of
/// `rows` is the sheet's cell `(origin.0 + i, origin.1 + j)` (0-based); every row is
/// `width` long.
#[derive(Debug, Default)]
pub(crate) struct Dense {
    pub origin: (u32, u32),
    pub width: usize,
    pub rows: Vec<Vec<Value>>,
}

impl Dense {
    pub(crate) fn from_range(range: &calamine::Range<Data>) -> Dense {
        let (_, width) = range.get_size();
        Dense {
            origin: range.start().unwrap_or((0, 0)),
            width,
            rows: range
                .rows()
                .map(|r| r.iter().map(from_calamine).collect())
                .collect(),
        }
    }
}

/// How to read a sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetOptions {
    header_row: Option<u32>,
    cache: Option<PathBuf>,
}

impl SheetOptions {
    /// Keep what is read in the folder `dir` (created when needed) and read it from there
    /// the next time the same workbook is read with the same options: the key is the sha256
    /// of the workbook's bytes, so a changed workbook is read again. Seed 001's 22 MB
    /// workbook reads in about a tenth of a second from the cache (about one second
    /// without); see `ingest::sheet_cache` for the format. A cache entry that is damaged is
    /// ignored and rewritten; a folder that cannot be written is an error.
    pub fn with_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = Some(dir.into());
        self
    }

    /// Read the header from this row (1-based, as the spreadsheet shows it) instead of
    /// the first non-empty row.
    pub fn with_header_row(mut self, row: u32) -> Self {
        self.header_row = Some(row);
        self
    }
}

/// One worksheet: unique column names and the cells of every data row.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    /// The workbook.
    pub file: PathBuf,
    /// The worksheet's name.
    pub name: String,
    /// Row of the header, 1-based.
    pub header_row: u32,
    /// Unique column names, in sheet order.
    pub columns: Vec<String>,
    /// `(name in the sheet, name given)` for each empty or repeated header.
    pub renamed: Vec<(String, String)>,
    /// Data rows (cells in column order), empty rows removed.
    pub rows: Vec<Vec<Value>>,
    /// Spreadsheet row number (1-based) of each data row.
    pub row_numbers: Vec<u32>,
    /// Error cells (read as null) per column, only columns that have any.
    pub error_cells: Vec<(String, usize)>,
    /// Cells read other than the workbook typed them, one line each (a number cell whose
    /// text is `" 41"` read as 41, or `"n/a"` read as text; see the module rules).
    pub warnings: Vec<String>,
}

/// Every sheet of a workbook that could be read, and why each other one could not.
#[derive(Debug, Clone, PartialEq)]
pub struct Workbook {
    /// The readable sheets, in workbook order.
    pub sheets: Vec<Sheet>,
    /// `(sheet, reason)` for each sheet that could not be read.
    pub unreadable: Vec<(String, String)>,
}

/// Shape of one worksheet, as `mammolab sheets` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SheetSummary {
    /// Worksheet name.
    pub name: String,
    /// Data rows (the header excluded).
    pub rows: usize,
    /// Column names and polars dtypes.
    pub columns: Vec<ColumnSummary>,
}

/// A column's name and dtype.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// polars dtype, e.g. `i64`, `str`, `date`.
    pub dtype: String,
}

fn workbook_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Data {
        file: path.to_path_buf(),
        message: message.into(),
    }
}

/// What calamine reads a workbook from: its file, or a copy repaired in memory
/// ([`super::ods_repair`]).
pub(crate) enum Source {
    /// The file.
    File(BufReader<File>),
    /// The repaired copy.
    Memory(Cursor<Vec<u8>>),
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::File(f) => f.read(buf),
            Self::Memory(m) => m.read(buf),
        }
    }
}

impl Seek for Source {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        match self {
            Self::File(f) => f.seek(pos),
            Self::Memory(m) => m.seek(pos),
        }
    }
}

/// calamine's `open_workbook_auto` (the reader chosen by the extension; each tried in turn
/// for another one) over a [`Source`], and an `.ods` that calamine refuses for its
/// indentation read again without it ([`super::ods_repair`]).
fn open_auto(path: &Path) -> std::result::Result<Sheets<Source>, calamine::Error> {
    let file =
        || -> std::io::Result<Source> { Ok(Source::File(BufReader::new(File::open(path)?))) };
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some("xls" | "xla") => Sheets::Xls(Xls::new(file()?)?),
        Some("xlsx" | "xlsm" | "xlam") => Sheets::Xlsx(Xlsx::new(file()?)?),
        Some("xlsb") => Sheets::Xlsb(Xlsb::new(file()?)?),
        Some("ods") => Sheets::Ods(open_ods(path, file()?)?),
        _ => {
            if let Ok(wb) = Xls::new(file()?) {
                Sheets::Xls(wb)
            } else if let Ok(wb) = Xlsx::new(file()?) {
                Sheets::Xlsx(wb)
            } else if let Ok(wb) = Xlsb::new(file()?) {
                Sheets::Xlsb(wb)
            } else if let Ok(wb) = Ods::new(file()?) {
                Sheets::Ods(wb)
            } else {
                return Err(calamine::Error::Msg("Cannot detect file format"));
            }
        }
    })
}

/// An `.ods`, read again without its layout whitespace when calamine expected a cell and
/// found text ([`super::ods_repair`]); calamine's first error when the copy fails too.
fn open_ods(path: &Path, file: Source) -> std::result::Result<Ods<Source>, calamine::OdsError> {
    match Ods::new(file) {
        Err(calamine::OdsError::Mismatch { expected, found }) if found.starts_with("Text") => {
            let first = calamine::OdsError::Mismatch { expected, found };
            match super::ods_repair::without_layout_whitespace(path) {
                Ok(copy) => Ods::new(Source::Memory(Cursor::new(copy))).map_err(|_| first),
                Err(_) => Err(first),
            }
        }
        opened => opened,
    }
}

/// Open a workbook, with errors a spreadsheet user understands.
pub(crate) fn open(path: &Path) -> Result<Sheets<Source>> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let limits = Limits::current();
    check_zip_parts(path, &limits)?;
    sheet_bounds::check_xls(path, &limits).map_err(|m| workbook_err(path, m))?;
    guarded(path, || Ok(open_auto(path)))?.map_err(|e| {
        let text = e.to_string();
        let message = if text.contains("password protected") {
            "workbook is password-protected; save an unprotected copy".to_string()
        } else if text.contains("Unsupported") || text.contains("extension") {
            "not a workbook (expected .xlsx, .xlsm, .xls, .xlsb or .ods)".to_string()
        } else {
            format!("not a readable workbook ({})", text.replace('\n', " "))
        };
        workbook_err(path, message)
    })
}

/// Every part of a zipped workbook (.xlsx, .xlsm, .xlsb, .ods) fits [`Limits::max_bytes`]
/// inflated, by the sizes its central directory declares, and an .ods's `content.xml` asks
/// for no more than that ([`sheet_bounds::check_ods`]). The zip reader stops a part that
/// inflates past its declared size, so these sizes bound what calamine reads. The zip is
/// found by its central directory, as calamine finds it, so bytes put before the first
/// part do not hide it. A file that is not a zip (.xls) passes.
fn check_zip_parts(path: &Path, limits: &Limits) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let Ok(mut archive) = ::zip::ZipArchive::new(BufReader::new(file)) else {
        // Not readable as a zip: calamine's own error says so.
        return Ok(());
    };
    for i in 0..archive.len() {
        let Ok(part) = archive.by_index_raw(i) else {
            continue;
        };
        let name = part
            .name()
            .map_or_else(|_| format!("#{i}"), |n| n.into_owned());
        if let Some(m) = limits.check_bytes(&format!("part {name} inflated"), part.size()) {
            return Err(workbook_err(path, m));
        }
    }
    sheet_bounds::check_ods(path, &mut archive, limits).map_err(|m| workbook_err(path, m))
}

/// Names of the worksheets of a workbook, in order (a CSV file has one, its file stem).
pub fn sheet_names(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    if is_text_table(path) {
        return Ok(vec![text_sheet_name(path)]);
    }
    Ok(open(path)?.sheet_names())
}

/// Read one worksheet (of a CSV file: the one named by its stem).
pub fn read_sheet(path: impl AsRef<Path>, sheet: &str, options: &SheetOptions) -> Result<Sheet> {
    let path = path.as_ref();
    let mut book = cached(path, Some(sheet), options, || {
        Ok(Workbook {
            sheets: vec![read_sheet_now(path, sheet, options)?],
            unreadable: vec![],
        })
    })?;
    Ok(book.sheets.remove(0))
}

fn read_sheet_now(path: &Path, sheet: &str, options: &SheetOptions) -> Result<Sheet> {
    if is_text_table(path) {
        let name = text_sheet_name(path);
        if sheet != name {
            return Err(workbook_err(
                path,
                format!("no sheet `{sheet}` (a text table has one sheet, `{name}`)"),
            ));
        }
        return read_text_table(path, options);
    }
    let mut wb = open(path)?;
    read_from(&mut wb, path, sheet, options)
}

/// Read every worksheet of a workbook.
pub fn read_all(path: impl AsRef<Path>, options: &SheetOptions) -> Result<Vec<Sheet>> {
    let path = path.as_ref();
    if options.cache.is_none() {
        // Stops at the first sheet that cannot be read.
        return read_all_now(path, options);
    }
    let book = cached(path, None, options, || read_workbook_now(path, options))?;
    if !book.unreadable.is_empty() {
        // The first unreadable sheet's own error, as a read without the cache gives it.
        return read_all_now(path, options);
    }
    Ok(book.sheets)
}

fn read_all_now(path: &Path, options: &SheetOptions) -> Result<Vec<Sheet>> {
    if is_text_table(path) {
        return Ok(vec![read_text_table(path, options)?]);
    }
    let mut wb = open(path)?;
    wb.sheet_names()
        .iter()
        .map(|name| read_from(&mut wb, path, name, options))
        .collect()
}

/// Read every worksheet of a workbook, going on past a sheet that cannot be read (a chart
/// sheet, a damaged part): it is listed with its reason in [`Workbook::unreadable`]. A file
/// that is not a readable workbook at all is still an error.
pub fn read_workbook(path: impl AsRef<Path>, options: &SheetOptions) -> Result<Workbook> {
    let path = path.as_ref();
    cached(path, None, options, || read_workbook_now(path, options))
}

/// `read()`, or what it gave for the same workbook, sheet and options before, when
/// `options` name a cache ([`SheetOptions::with_cache`]).
fn cached(
    path: &Path,
    sheet: Option<&str>,
    options: &SheetOptions,
    read: impl FnOnce() -> Result<Workbook>,
) -> Result<Workbook> {
    let Some(dir) = options.cache.as_ref().filter(|_| path.is_file()) else {
        return read(); // and a missing file gets the reader's own error
    };
    let sha = crate::hash::sha256_file(path)?;
    let entry = super::sheet_cache::entry(dir, &sha, sheet, options.header_row);
    if let Some(book) = super::sheet_cache::load(&entry, path) {
        if sheet.is_none() || book.sheets.len() == 1 {
            return Ok(book);
        }
    }
    let book = read()?;
    super::sheet_cache::store(&entry, &book)?;
    Ok(book)
}

fn read_workbook_now(path: &Path, options: &SheetOptions) -> Result<Workbook> {
    if is_text_table(path) {
        return Ok(Workbook {
            sheets: vec![read_text_table(path, options)?],
            unreadable: vec![],
        });
    }
    let mut wb = open(path)?;
    let mut book = Workbook {
        sheets: vec![],
        unreadable: vec![],
    };
    for name in wb.sheet_names() {
        match read_from(&mut wb, path, &name, options) {
            Ok(sheet) => book.sheets.push(sheet),
            Err(e) => {
                let why = match &e {
                    Error::Data { message, .. } => message
                        .strip_prefix(&format!("sheet `{name}`: "))
                        .unwrap_or(message)
                        .to_string(),
                    other => other.to_string(),
                };
                book.unreadable.push((name, why));
            }
        }
    }
    Ok(book)
}

/// Column letter(s) of a 0-based index: 0 -> A, 26 -> AA.
pub(crate) fn column_letter(mut i: usize) -> String {
    let mut s = vec![];
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).expect("ASCII")
}

/// Run `f`, a call into calamine; a panic there becomes `path`'s one-line error. calamine
/// 0.38 indexes slices and subtracts by what a file says in places (a sector cut short, a
/// record shorter than its kind, a MULRK spanning all 65536 columns: found by the sheet
/// fuzzer), and a malformed file must not take a notebook's kernel down.
fn guarded<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::error::catch_panic(f).unwrap_or_else(|why| {
        Err(workbook_err(
            path,
            format!("not a readable workbook: its reader (calamine) failed on it ({why})"),
        ))
    })
}

fn read_from(
    wb: &mut Sheets<Source>,
    path: &Path,
    sheet: &str,
    options: &SheetOptions,
) -> Result<Sheet> {
    guarded(path, || read_guarded(wb, path, sheet, options))
}

fn read_guarded(
    wb: &mut Sheets<Source>,
    path: &Path,
    sheet: &str,
    options: &SheetOptions,
) -> Result<Sheet> {
    let names = wb.sheet_names();
    if !names.iter().any(|n| n == sheet) {
        return Err(workbook_err(
            path,
            format!("no sheet `{sheet}` (sheets: {})", names.join(", ")),
        ));
    }
    let limits = Limits::current();
    // A large .xlsx sheet is parsed by several readers at once (ingest::xlsx_split).
    let split = match wb {
        Sheets::Xlsx(_) => super::xlsx_split::read(path, sheet, &limits),
        _ => None,
    };
    let read = split.unwrap_or_else(|| {
        sheet_bounds::range(wb, sheet, &limits).map(|range| {
            let merged = match wb {
                Sheets::Xlsx(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
                Sheets::Xls(x) => x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
                _ => vec![],
            };
            (Dense::from_range(&range), merged)
        })
    });
    let (dense, merged, warnings) = match read {
        Ok((dense, merged)) => (dense, merged, vec![]),
        // One number cell calamine cannot parse: read the sheet again, repaired.
        Err(RangeError::Calamine(calamine::Error::Xlsx(calamine::XlsxError::ParseFloat(_)))) => {
            let r = super::xlsx_repair::read(path, sheet)?;
            (Dense::from_range(&r.range), r.merged, r.notes)
        }
        Err(RangeError::Limit(m)) => return Err(workbook_err(path, m)),
        Err(RangeError::Calamine(e)) => {
            return Err(workbook_err(path, format!("sheet `{sheet}`: {e}")))
        }
    };
    let Dense {
        origin: (r0, c0),
        width: used_w,
        rows: mut grid,
    } = dense;
    // A merged region may reach past the used range (its other cells are empty).
    let height = merged
        .iter()
        .map(|m| (m.end.0 + 1).saturating_sub(r0) as usize)
        .fold(grid.len(), usize::max);
    let width = merged
        .iter()
        .map(|m| (m.end.1 + 1).saturating_sub(c0) as usize)
        .fold(used_w, usize::max);
    // Merged regions widen the grid: checked as calamine's own box is.
    let what = format!("sheet `{sheet}` with its merged cells");
    if let Some(m) = sheet_bounds::check_grid(&what, height as u64, width as u64, &limits) {
        return Err(workbook_err(path, m));
    }
    if width > used_w {
        for row in &mut grid {
            row.resize(width, Value::Empty);
        }
    }
    grid.resize(height, vec![Value::Empty; width]);
    for m in merged {
        let (top, left) = (
            m.start.0.saturating_sub(r0) as usize,
            m.start.1.saturating_sub(c0) as usize,
        );
        let Some(v) = grid.get(top).and_then(|r| r.get(left)).cloned() else {
            continue;
        };
        let bottom = (m.end.0.saturating_sub(r0) as usize).min(height.saturating_sub(1));
        let right = (m.end.1.saturating_sub(c0) as usize).min(width.saturating_sub(1));
        for row in grid.iter_mut().take(bottom + 1).skip(top) {
            for cell in row.iter_mut().take(right + 1).skip(left) {
                if *cell == Value::Empty {
                    *cell = v.clone();
                }
            }
        }
    }
    sheet_from_grid(path, sheet, grid, (r0, c0), options, warnings)
}

/// The header, unique column names and data rows of a grid of cells whose top-left cell is
/// at `(r0, c0)` (0-based) of the sheet (see the module rules).
fn sheet_from_grid(
    path: &Path,
    sheet: &str,
    grid: Vec<Vec<Value>>,
    (r0, c0): (u32, u32),
    options: &SheetOptions,
    warnings: Vec<String>,
) -> Result<Sheet> {
    let height = grid.len();
    let width = grid.first().map_or(0, Vec::len);
    let is_empty_row = |r: &[Value]| r.iter().all(|v| *v == Value::Empty);
    let header_idx = match options.header_row {
        Some(row) => {
            let i = (row as i64 - 1 - r0 as i64).max(-1);
            if i < 0 || i as usize >= height {
                return Err(workbook_err(
                    path,
                    format!("sheet `{sheet}`: header row {row} is outside the used rows"),
                ));
            }
            i as usize
        }
        None => match grid.iter().position(|r| !is_empty_row(r)) {
            Some(i) => i,
            None => {
                return Ok(Sheet {
                    file: path.to_path_buf(),
                    name: sheet.to_string(),
                    header_row: 1,
                    columns: vec![],
                    renamed: vec![],
                    rows: vec![],
                    row_numbers: vec![],
                    error_cells: vec![],
                    warnings,
                })
            }
        },
    };
    // Keep columns with a header or any value.
    let keep: Vec<usize> = (0..width)
        .filter(|&c| grid.iter().skip(header_idx).any(|r| r[c] != Value::Empty))
        .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut columns = vec![];
    let mut renamed = vec![];
    for &c in &keep {
        let raw = grid[header_idx][c].to_text().unwrap_or_default();
        let base = if raw.trim().is_empty() {
            format!("column_{}", column_letter(c0 as usize + c))
        } else {
            raw.clone()
        };
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let name = if *n == 1 { base } else { format!("{base}_{n}") };
        if name != raw {
            renamed.push((raw, name.clone()));
        }
        columns.push(name);
    }
    let mut rows = vec![];
    let mut row_numbers = vec![];
    let mut errors = vec![0usize; keep.len()];
    for (i, r) in grid.into_iter().enumerate().skip(header_idx + 1) {
        if is_empty_row(&r) {
            continue;
        }
        let cells: Vec<Value> = keep.iter().map(|&c| r[c].clone()).collect();
        for (k, v) in cells.iter().enumerate() {
            if matches!(v, Value::Error(_)) {
                errors[k] += 1;
            }
        }
        rows.push(cells);
        row_numbers.push(r0 + i as u32 + 1);
    }
    Ok(Sheet {
        file: path.to_path_buf(),
        name: sheet.to_string(),
        header_row: r0 + header_idx as u32 + 1,
        error_cells: columns
            .iter()
            .zip(&errors)
            .filter(|(_, &n)| n > 0)
            .map(|(c, &n)| (c.clone(), n))
            .collect(),
        columns,
        renamed,
        rows,
        row_numbers,
        warnings,
    })
}

/// Whether `path` names a text table read as one sheet (by its extension, in any case):
/// `.csv` (comma-separated) or `.txt` (whitespace-separated, mini-MIAS's `Info.txt`).
pub fn is_text_table(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv") || e.eq_ignore_ascii_case("txt"))
}

/// The one sheet of a text table is named by the file's stem.
fn text_sheet_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A text table as one sheet: `.txt` whitespace-separated, else CSV.
fn read_text_table(path: &Path, options: &SheetOptions) -> Result<Sheet> {
    let is_txt = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"));
    match is_txt {
        true => read_whitespace_sheet(path, options),
        false => read_csv_sheet(path, options),
    }
}

/// A text file's contents, or a one-line error naming the first line that is not UTF-8.
fn read_utf8(path: &Path) -> Result<String> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        workbook_err(
            path,
            format!("line {line} is not UTF-8 text; save the file as UTF-8 (CSV UTF-8 in Excel)"),
        )
    })
}

/// Read a CSV file as one sheet (polars' CSV reader: RFC 4180 quoting, line breaks inside
/// quotes, UTF-8). Every field is read as text and typed as [`csv_cell`] says; the sheet's
/// row numbers count records, the header's being 1.
fn read_csv_sheet(path: &Path, options: &SheetOptions) -> Result<Sheet> {
    let text = read_utf8(path)?;
    if text.bytes().all(|b| b.is_ascii_whitespace()) {
        return sheet_from_grid(
            path,
            &text_sheet_name(path),
            vec![],
            (0, 0),
            options,
            vec![],
        );
    }
    let df = CsvReadOptions::default()
        .with_has_header(false)
        .with_infer_schema_length(Some(0))
        .with_parse_options(CsvParseOptions::default().with_missing_is_null(true))
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))
        .and_then(|r| r.finish())
        .map_err(|e| workbook_err(path, csv_error(&e.to_string())))?;
    let columns: Vec<&StringChunked> = df
        .columns()
        .iter()
        .map(|c| c.str())
        .collect::<PolarsResult<_>>()
        .map_err(|e| workbook_err(path, e.to_string()))?;
    let grid: Vec<Vec<Value>> = (0..df.height())
        .map(|i| columns.iter().map(|c| csv_cell(c.get(i))).collect())
        .collect();
    sheet_from_grid(path, &text_sheet_name(path), grid, (0, 0), options, vec![])
}

/// Read a whitespace-separated text table as one sheet (mini-MIAS's `Info.txt`, what
/// pandas reads with `sep=r"\s+"`): fields are separated by runs of spaces or tabs,
/// spaces at the ends of a line are ignored (MIAS's header line ends in one, which
/// `sep=" "` turns into an `Unnamed: 7` column), and a line with fewer fields than the
/// header has empty cells at its end (MIAS's `NORM` lines: no severity, no position).
/// A line with more fields than the header is an error naming it. No quoting: a field
/// cannot hold a space. Fields are typed as [`csv_cell`] says; row numbers are line numbers.
fn read_whitespace_sheet(path: &Path, options: &SheetOptions) -> Result<Sheet> {
    let text = read_utf8(path)?;
    let mut grid: Vec<Vec<Value>> = text
        .lines()
        .map(|line| line.split_whitespace().map(|f| csv_cell(Some(f))).collect())
        .collect();
    let header = options
        .header_row
        .map(|r| (r as usize).saturating_sub(1))
        .or_else(|| grid.iter().position(|r| !r.is_empty()));
    if let Some(h) = header.filter(|&h| h < grid.len()) {
        let width = grid[h].len();
        let mut below = grid.iter().enumerate().skip(h + 1);
        if let Some((i, r)) = below.find(|(_, r)| r.len() > width) {
            return Err(workbook_err(
                path,
                format!(
                    "line {} has {} fields, the header line ({}) names {width} columns",
                    i + 1,
                    r.len(),
                    h + 1
                ),
            ));
        }
        for r in grid.iter_mut() {
            r.resize(width, Value::Empty);
        }
    }
    sheet_from_grid(path, &text_sheet_name(path), grid, (0, 0), options, vec![])
}

/// polars' CSV error in the words of someone who opened the file in a text editor.
fn csv_error(polars: &str) -> String {
    if polars.contains("more fields than") {
        "a record has more fields than the header line (a comma inside an unquoted cell?)".into()
    } else if polars.contains("not properly escaped") {
        "a quoted field is not closed, or a quote inside it is not doubled".into()
    } else {
        let first = polars.lines().next().unwrap_or(polars);
        format!("not a readable CSV file ({first})")
    }
}

/// The cell a CSV field is read as: no field or an empty one is empty; a whole number
/// without a leading zero (`-12`, `0`, not `007`) is an integer; other text that is a
/// decimal number (`1.5`, `-2e3`, ` 41 `: spaces around are allowed, `inf` and `nan` are
/// not numbers) is a float; `True`/`TRUE`/`true` and `False`/`FALSE`/`false` are booleans
/// (pandas' defaults); everything else is text, as written. Unlike pandas' defaults, `NA`,
/// `N/A` or `null` stay text, and `007` keeps its zeros (an identifier, not the number 7).
pub fn csv_cell(field: Option<&str>) -> Value {
    let Some(text) = field.filter(|t| !t.is_empty()) else {
        return Value::Empty;
    };
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if !t.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && !leading_zero {
        if let Ok(i) = t.parse::<i64>() {
            return Value::Int(i);
        }
    }
    let numeric = t.bytes().any(|b| b.is_ascii_digit())
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    if numeric && !leading_zero {
        if let Ok(f) = t.parse::<f64>() {
            return Value::Float(f);
        }
    }
    match t {
        "True" | "TRUE" | "true" => Value::Bool(true),
        "False" | "FALSE" | "false" => Value::Bool(false),
        _ => Value::Text(text.to_string()),
    }
}

/// The dtype a column gets (see the module rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Bool,
    Date,
    Time,
    Datetime,
    Text,
}

fn infer<'a>(values: impl Iterator<Item = &'a Value>) -> Kind {
    let (mut int, mut num, mut boolean, mut excel, mut date_only, mut time_only) =
        (true, true, true, true, true, true);
    let mut any = false;
    for v in values {
        match v {
            Value::Empty | Value::Error(_) => continue,
            Value::Int(_) => (boolean, excel) = (false, false),
            &Value::Float(f) => {
                int &= f.fract() == 0.0 && f.abs() < 9.0e15;
                (boolean, excel) = (false, false);
            }
            Value::Bool(_) => (int, num, excel) = (false, false, false),
            &Value::Excel(s) => {
                date_only &= (s * 86400.0).round() as i64 % 86400 == 0;
                time_only &= s.abs() < 1.0;
                (int, num, boolean) = (false, false, false);
            }
            Value::Text(_) => return Kind::Text,
        }
        any = true;
    }
    match () {
        _ if !any => Kind::Text,
        _ if excel && time_only => Kind::Time,
        _ if excel && date_only => Kind::Date,
        _ if excel => Kind::Datetime,
        _ if int && num => Kind::Int,
        _ if num => Kind::Float,
        _ if boolean => Kind::Bool,
        _ => Kind::Text,
    }
}

impl Sheet {
    /// Index of column `name`, or an error naming the sheet and listing similar columns.
    pub fn column_index(&self, name: &str) -> Result<usize> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            let lower = name.to_lowercase();
            let key: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
            let similar: Vec<&str> = self
                .columns
                .iter()
                .filter(|c| {
                    let cl = c.to_lowercase();
                    let ck: String = cl.chars().filter(|c| c.is_alphanumeric()).collect();
                    cl.contains(&lower)
                        || lower.contains(&cl)
                        || (!ck.is_empty() && (ck.contains(&key) || key.contains(&ck)))
                })
                .map(String::as_str)
                .take(8)
                .collect();
            let hint = if similar.is_empty() {
                let mut first: Vec<&str> =
                    self.columns.iter().map(String::as_str).take(8).collect();
                if self.columns.len() > 8 {
                    first.push("...");
                }
                format!("columns: {}", first.join(", "))
            } else {
                format!("similar: {}", similar.join(", "))
            };
            workbook_err(
                &self.file,
                format!("sheet `{}`: no column `{name}` ({hint})", self.name),
            )
        })
    }

    /// The cells of column `index`.
    pub fn column_values(&self, index: usize) -> impl Iterator<Item = &Value> + '_ {
        self.rows.iter().map(move |r| &r[index])
    }

    /// Empty cells per column (no value, or only spaces), in column order.
    pub fn empty_cells(&self) -> Vec<usize> {
        (0..self.columns.len())
            .map(|c| {
                self.column_values(c)
                    .filter(|v| v.to_text().is_none())
                    .count()
            })
            .collect()
    }

    /// Column `c` as a Series, from its cells `column` (one per data row).
    fn series(&self, c: usize, column: &[&Value]) -> Result<Series> {
        let name: PlSmallStr = self.columns[c].as_str().into();
        let kind = infer(column.iter().copied());
        let vals = column.iter().copied();
        let ctx = || {
            format!(
                "{}: sheet `{}`: column `{}`",
                self.file.display(),
                self.name,
                self.columns[c]
            )
        };
        let s = match kind {
            Kind::Int => match vals.clone().map(Value::as_f64).collect::<Option<Vec<_>>>() {
                // No empty cell: no validity mask to build.
                Some(all) => {
                    Series::new(name, all.into_iter().map(|f| f as i64).collect::<Vec<_>>())
                }
                None => Series::new(
                    name,
                    vals.map(|v| v.as_f64().map(|f| f as i64))
                        .collect::<Vec<_>>(),
                ),
            },
            Kind::Float => match vals.clone().map(Value::as_f64).collect::<Option<Vec<_>>>() {
                Some(all) => Series::new(name, all),
                None => Series::new(name, vals.map(Value::as_f64).collect::<Vec<_>>()),
            },
            Kind::Bool => Series::new(
                name,
                vals.map(|v| match v {
                    Value::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            ),
            Kind::Date => Series::new(
                name,
                vals.map(|v| v.as_f64().map(|s| (excel_parts(s).0.to_days()) as i32))
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)
            .map_err(|e| Error::table(ctx(), e))?,
            Kind::Time => Series::new(
                name,
                vals.map(|v| {
                    v.as_f64()
                        .map(|s| (s * 86400.0).round() as i64 * 1_000_000_000)
                })
                .collect::<Vec<_>>(),
            )
            .cast(&DataType::Time)
            .map_err(|e| Error::table(ctx(), e))?,
            Kind::Datetime => Series::new(
                name,
                vals.map(|v| {
                    v.as_f64()
                        .map(|s| ((s - 25569.0) * 86400.0 * 1000.0).round() as i64)
                })
                .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .map_err(|e| Error::table(ctx(), e))?,
            Kind::Text => Series::new(name, vals.map(Value::to_text).collect::<Vec<_>>()),
        };
        Ok(s)
    }

    /// The sheet as a typed DataFrame (dtypes per the module rules).
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        // Columns in parallel, a few neighbours at a time: gathered in one pass over the rows
        // (a row's cells lie side by side; one column's cells are a row's length apart).
        // Seed 001's `Non-Cancer` sheet has 561 columns.
        const NEIGHBOURS: usize = 8;
        let starts: Vec<usize> = (0..self.columns.len()).step_by(NEIGHBOURS).collect();
        let blocks: Vec<Vec<Column>> = starts
            .into_par_iter()
            .map(|c0| {
                let c1 = (c0 + NEIGHBOURS).min(self.columns.len());
                let mut columns: Vec<Vec<&Value>> = (c0..c1)
                    .map(|_| Vec::with_capacity(self.rows.len()))
                    .collect();
                for row in &self.rows {
                    for (column, v) in columns.iter_mut().zip(&row[c0..c1]) {
                        column.push(v);
                    }
                }
                columns
                    .iter()
                    .enumerate()
                    .map(|(k, column)| self.series(c0 + k, column).map(Column::from))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<_>>()?;
        let cols: Vec<Column> = blocks.into_iter().flatten().collect();
        DataFrame::new(self.rows.len(), cols)
            .map_err(|e| Error::table(format!("{}: sheet `{}`", self.file.display(), self.name), e))
    }

    /// Name, data rows, and column dtypes.
    pub fn summary(&self) -> SheetSummary {
        SheetSummary {
            name: self.name.clone(),
            rows: self.rows.len(),
            columns: (0..self.columns.len())
                .map(|c| ColumnSummary {
                    name: self.columns[c].clone(),
                    dtype: dtype_name(infer(self.column_values(c))).into(),
                })
                .collect(),
        }
    }
}

fn dtype_name(k: Kind) -> &'static str {
    match k {
        Kind::Int => "i64",
        Kind::Float => "f64",
        Kind::Bool => "bool",
        Kind::Date => "date",
        Kind::Time => "time",
        Kind::Datetime => "datetime[ms]",
        Kind::Text => "str",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_typed_without_losing_text() {
        assert_eq!(csv_cell(None), Value::Empty);
        assert_eq!(csv_cell(Some("")), Value::Empty);
        assert_eq!(csv_cell(Some("-12")), Value::Int(-12));
        assert_eq!(csv_cell(Some("0")), Value::Int(0));
        assert_eq!(csv_cell(Some(" 41 ")), Value::Int(41));
        assert_eq!(csv_cell(Some("007")), Value::Text("007".into()));
        assert_eq!(csv_cell(Some("0.25")), Value::Float(0.25));
        assert_eq!(csv_cell(Some("-2e3")), Value::Float(-2000.0));
        assert_eq!(csv_cell(Some("inf")), Value::Text("inf".into()));
        assert_eq!(csv_cell(Some("N/A")), Value::Text("N/A".into()));
        assert_eq!(csv_cell(Some("TRUE")), Value::Bool(true));
        assert_eq!(csv_cell(Some("a.dcm\n")), Value::Text("a.dcm\n".into()));
        assert_eq!(csv_cell(Some("1.2.3")), Value::Text("1.2.3".into()));
    }

    #[test]
    fn a_txt_file_is_a_whitespace_table_with_short_lines_padded() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Info.txt");
        // mini-MIAS: a header ending in a space, NORM lines with three fields, tabs, a
        // blank line and CRLF.
        let text = "REFNUM BG CLASS SEVERITY X Y RADIUS \nmdb001 G CIRC B 535 425 197\r\nmdb003 D NORM \n\nmdb005\tF  CALC M\n";
        std::fs::write(&p, text).unwrap();
        assert_eq!(sheet_names(&p).unwrap(), ["Info"]);
        let s = read_sheet(&p, "Info", &SheetOptions::default()).unwrap();
        assert_eq!(
            s.columns,
            ["REFNUM", "BG", "CLASS", "SEVERITY", "X", "Y", "RADIUS"]
        );
        assert_eq!(s.row_numbers, [2, 3, 5]);
        assert_eq!(s.rows[0][6], Value::Int(197));
        assert_eq!(s.rows[1][2], Value::Text("NORM".into()));
        assert_eq!(s.rows[1][3], Value::Empty);
        assert_eq!(s.rows[2][3], Value::Text("M".into()));
        assert_eq!(s.rows[2][4], Value::Empty);
        std::fs::write(&p, "A B\n1 2\n1 2 3\n").unwrap();
        let e = read_sheet(&p, "Info", &SheetOptions::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("line 3 has 3 fields, the header line (1) names 2 columns"),
            "{e}"
        );
    }

    #[test]
    fn a_csv_file_is_one_sheet_named_by_its_stem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cases.CSV");
        std::fs::write(&p, "id,,id,path\n007,1,x,\"a\nb\"\n\n,2.5,y,c\n").unwrap();
        assert_eq!(sheet_names(&p).unwrap(), ["cases"]);
        let s = read_sheet(&p, "cases", &SheetOptions::default()).unwrap();
        assert_eq!(s.columns, ["id", "column_B", "id_2", "path"]);
        assert_eq!(s.row_numbers, [2, 4]);
        assert_eq!(s.rows[0][0], Value::Text("007".into()));
        assert_eq!(s.rows[0][3], Value::Text("a\nb".into()));
        assert_eq!(s.rows[1][0], Value::Empty);
        assert_eq!(s.rows[1][1], Value::Float(2.5));
        let err = read_sheet(&p, "Sheet1", &SheetOptions::default()).unwrap_err();
        assert!(err.to_string().contains("one sheet, `cases`"), "{err}");
        std::fs::write(&p, "a,b\n1,2,3\n").unwrap();
        let err = read_workbook(&p, &SheetOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("more fields than the header"),
            "{err}"
        );
        std::fs::write(&p, b"a,b\n1,2\n\xff,3\n").unwrap();
        let err = read_all(&p, &SheetOptions::default()).unwrap_err();
        assert!(err.to_string().contains("line 3 is not UTF-8"), "{err}");
    }

    #[test]
    fn excel_serials_and_letters() {
        let (d, t) = excel_parts(41998.4764236111);
        assert_eq!(
            (d.compact(), t.compact()),
            ("20141225".into(), "112603".into())
        );
        assert_eq!(excel_text(41998.0), "2014-12-25");
        assert_eq!(excel_text(0.25), "06:00:00");
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27 * 26), "AAA");
        assert_eq!(number_text(92603.0), "92603");
        assert_eq!(number_text(0.25), "0.25");
    }
}
