//! A sheet's grid checked against the limits before calamine builds it.
//!
//! calamine turns a sheet's cells into a dense grid over their bounding box
//! (`Range::from_sparse`): two cells at A1 and XFD1048576 of a 1 KB workbook ask for 17
//! billion cells, and an 8 KB .xls whose cells sit at row 65535 and column 65535 for 137 GB
//! (found by `scripts/fuzz.sh`; the allocation aborts the process). So:
//! - .xlsx and .xlsb sheets are read through calamine's cell reader, and the box of the cells
//!   read is checked before the grid is made ([`range`]);
//! - an .xls workbook is parsed by calamine whole when it is opened, so its BIFF records are
//!   scanned first ([`check_xls`]): each sheet's DIMENSIONS record (which calamine reserves
//!   room for) and the positions of its cell records, which must make a grid within the
//!   limit, and a few record shapes on which calamine 0.38 panics (a sheet offset past the
//!   stream, a MULRK whose last column precedes its first) are refused in one line;
//! - an .ods workbook is parsed whole when it is opened too, and its `content.xml` repeats
//!   rows, cells and spaces by count, so it is scanned first ([`check_ods`]): the cells and
//!   text calamine would hold, counted as calamine reads them.
//!
//! A grid cell costs `size_of::<calamine::Data>()` bytes (32), so the default 256 MiB allows
//! 8.4 million cells: seed 001's default cohort's
//! `Non-Cancer` sheet has 2.8 million.

use std::io::Read;
use std::path::Path;

use calamine::{Cell, Data, DataRef, Range, Reader, Sheets, Xlsb, Xlsx};

use crate::ingest::limits::Limits;

/// Why a sheet's range could not be had: calamine's error, or the limits'.
pub(crate) enum RangeError {
    Calamine(calamine::Error),
    Limit(String),
}

/// `None` when a grid of `rows` x `cols` cells fits the limits, else why not.
pub(crate) fn check_grid(what: &str, rows: u64, cols: u64, limits: &Limits) -> Option<String> {
    let cells = rows.saturating_mul(cols);
    let bytes = cells.saturating_mul(std::mem::size_of::<Data>() as u64);
    limits.check_bytes(&format!("{what}: {rows} x {cols} cells as a grid"), bytes)
}

/// The sheet `name` as calamine's grid, its box checked first where the format lets the
/// cells be read one by one (.xlsx, .xlsb); .xls and .ods as calamine reads them.
pub(crate) fn range<RS: std::io::Read + std::io::Seek>(
    wb: &mut Sheets<RS>,
    name: &str,
    limits: &Limits,
) -> Result<Range<Data>, RangeError> {
    match wb {
        Sheets::Xlsx(x) => xlsx_range(x, name, limits),
        Sheets::Xlsb(x) => xlsb_range(x, name, limits),
        _ => wb.worksheet_range(name).map_err(RangeError::Calamine),
    }
}

/// [`range`] of an .xlsx workbook (also the repaired copy of `xlsx_repair`).
pub(crate) fn xlsx_range<RS: std::io::Read + std::io::Seek>(
    x: &mut Xlsx<RS>,
    name: &str,
    limits: &Limits,
) -> Result<Range<Data>, RangeError> {
    let mut cells = vec![];
    xlsx_cells(x, name, |pos, v| cells.push(Cell::new(pos, Data::from(v))))?;
    grid(cells, name, limits)
}

/// Each non-empty cell of an .xlsx worksheet, in the order of its XML, with its (row,
/// column); none for a chart sheet or a dialog (as calamine's worksheet_range gives an empty
/// grid).
pub(crate) fn xlsx_cells<RS: std::io::Read + std::io::Seek>(
    x: &mut Xlsx<RS>,
    name: &str,
    mut keep: impl FnMut((u32, u32), DataRef<'_>),
) -> Result<(), RangeError> {
    let err = |e: calamine::XlsxError| RangeError::Calamine(e.into());
    let mut reader = match x.worksheet_cells_reader(name) {
        Ok(r) => r,
        Err(calamine::XlsxError::NotAWorksheet(_)) => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    while let Some(c) = reader.next_cell().map_err(err)? {
        if !matches!(c.get_value(), DataRef::Empty) {
            keep(c.get_position(), c.get_value().clone());
        }
    }
    Ok(())
}

fn xlsb_range<RS: std::io::Read + std::io::Seek>(
    x: &mut Xlsb<RS>,
    name: &str,
    limits: &Limits,
) -> Result<Range<Data>, RangeError> {
    let err = |e: calamine::XlsbError| RangeError::Calamine(e.into());
    let mut reader = x.worksheet_cells_reader(name).map_err(err)?;
    let mut cells = vec![];
    while let Some(c) = reader.next_cell().map_err(err)? {
        keep(&mut cells, c);
    }
    grid(cells, name, limits)
}

/// A non-empty cell, owned (calamine's worksheet_range keeps the same ones).
fn keep(cells: &mut Vec<Cell<Data>>, c: Cell<DataRef<'_>>) {
    if !matches!(c.get_value(), DataRef::Empty) {
        let pos = c.get_position();
        cells.push(Cell::new(pos, Data::from(c.get_value().clone())));
    }
}

/// The cells' grid, once their box is known to fit.
fn grid(cells: Vec<Cell<Data>>, name: &str, limits: &Limits) -> Result<Range<Data>, RangeError> {
    check_box(name, bounds(cells.iter().map(|c| c.get_position())), limits)?;
    Ok(Range::from_sparse(cells))
}

/// The bounding box of a sheet's cells ([`bounds`]) fits the limits as a grid.
pub(crate) fn check_box(
    name: &str,
    bounds: Option<(u32, u32, u32, u32)>,
    limits: &Limits,
) -> Result<(), RangeError> {
    if let Some((r0, r1, c0, c1)) = bounds {
        let what = format!("sheet `{name}` (cells {} to {})", a1(r0, c0), a1(r1, c1));
        let (rows, cols) = (u64::from(r1 - r0) + 1, u64::from(c1 - c0) + 1);
        if let Some(m) = check_grid(&what, rows, cols, limits) {
            return Err(RangeError::Limit(m));
        }
    }
    Ok(())
}

/// (first row, last row, first column, last column) of `positions`.
pub(crate) fn bounds(positions: impl Iterator<Item = (u32, u32)>) -> Option<(u32, u32, u32, u32)> {
    positions.fold(None, |b, (r, c)| {
        Some(match b {
            None => (r, r, c, c),
            Some((r0, r1, c0, c1)) => (r0.min(r), r1.max(r), c0.min(c), c1.max(c)),
        })
    })
}

/// A 0-based (row, column) as Excel names it: (0, 0) -> A1.
fn a1(row: u32, col: u32) -> String {
    let mut letters = vec![];
    let mut c = col as u64 + 1;
    while c > 0 {
        letters.push(b'A' + ((c - 1) % 26) as u8);
        c = (c - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row as u64 + 1)
}

/// An .ods workbook (`zip`, opened from `path`) whose sheets would make calamine hold more
/// than the limits allow, as the one-line reason; `Ok` for a zip with no `content.xml` or
/// another workbook's extension (calamine says what it is) and where this scan stops at a
/// shape calamine rejects too.
///
/// calamine 0.38 parses `content.xml` whole when the workbook is opened, and three of its
/// steps multiply what the file says: a cell with `table:number-columns-repeated="N"` is
/// held N times (up to 16,384 a row) with its text cloned each time, `<text:s text:c="N"/>`
/// is N spaces, and each sheet's grid spans its rows repeated by
/// `table:number-rows-repeated` (up to 100 million cells before calamine gives up). So a
/// 10 KB file can ask for gigabytes. This scan follows calamine's reading of rows and cells
/// and adds up the cells (raw and as the grid, each with its formula slot) and the text
/// they hold, for every sheet, since all are kept.
pub(crate) fn check_ods<R: std::io::Read + std::io::Seek>(
    path: &Path,
    zip: &mut zip::ZipArchive<R>,
    limits: &Limits,
) -> Result<(), String> {
    let ext = path.extension().and_then(|e| e.to_str());
    // calamine picks the reader by the extension, and tries every reader for another one.
    if matches!(ext, Some("xls" | "xla" | "xlsx" | "xlsm" | "xlam" | "xlsb")) {
        return Ok(());
    }
    let Ok(content) = zip.by_name("content.xml") else {
        return Ok(());
    };
    let mut scan = ods::Scan::default();
    // An error is a shape calamine's reader rejects as well: what was read up to it is
    // what calamine would have built before failing.
    let _ = scan.read(std::io::BufReader::new(content));
    scan.check(limits)
}

mod ods {
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::Reader;

    use crate::ingest::limits::Limits;

    /// calamine's caps (ods.rs): rows of a sheet, cells of a row, cells of a grid.
    const MAX_ROWS: u64 = 1_048_576;
    const MAX_COLUMNS: u64 = 16_384;
    const MAX_CELLS: u64 = 100_000_000;

    /// The scan stopped: the XML or an attribute is one calamine would refuse too.
    pub(super) struct Stop;

    impl From<quick_xml::Error> for Stop {
        fn from(_: quick_xml::Error) -> Self {
            Stop
        }
    }

    /// What calamine would hold for the sheets read so far.
    #[derive(Default)]
    pub(super) struct Scan {
        /// Cells of every row element as read (each with its formula slot).
        raw: u64,
        /// Cells of every sheet's grid.
        grid: u64,
        /// Bytes of text and formulas in the cells, counted once per repeat.
        text: u64,
        /// The sheet with the most, for the message.
        largest: Option<(u64, String)>,
    }

    /// One sheet's rows as calamine's `get_range` sees them.
    #[derive(Default)]
    struct Sheet {
        /// Row elements so far, and their rows (repeats) so far.
        elements: u64,
        rows: u64,
        /// First and last row element with a non-empty cell, and the rows before the first
        /// and through the last.
        first: Option<(u64, u64)>,
        last: (u64, u64),
        /// Leftmost and rightmost non-empty cell.
        col_min: u64,
        col_max: u64,
        raw: u64,
        text: u64,
    }

    impl Sheet {
        /// calamine's grid: the box of non-empty cells, the rows in between repeated, its
        /// room reserved for the row elements first (both stop at 100 million cells).
        fn grid(&self) -> u64 {
            let Some((first, before)) = self.first else {
                return 0;
            };
            let width = self.col_max + 1 - self.col_min;
            let reserved = (self.last.0 + 1 - first).saturating_mul(width);
            let cells = (self.last.1 - before).saturating_mul(width);
            reserved.max(cells).min(MAX_CELLS)
        }
    }

    fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
        let mut attrs = e.attributes();
        attrs.with_checks(false);
        attrs
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .map(|a| a.value.into_owned())
    }

    fn repeats(e: &BytesStart<'_>, name: &str) -> Result<u64, Stop> {
        match attr(e, name) {
            None => Ok(1),
            Some(v) => v.parse::<u64>().map_err(|_| Stop),
        }
    }

    impl Scan {
        pub(super) fn read(&mut self, src: impl std::io::BufRead) -> Result<(), Stop> {
            let mut reader = Reader::from_reader(src);
            let config = reader.config_mut();
            config.check_end_names = false;
            config.trim_text(false);
            config.check_comments = false;
            config.expand_empty_elements = true;
            let mut buf = vec![];
            loop {
                buf.clear();
                match reader.read_event_into(&mut buf)? {
                    Event::Start(e) if e.name().as_ref() == "table:table" => {
                        let Some(name) = attr(&e, "table:name") else {
                            continue;
                        };
                        let mut sheet = Sheet::default();
                        let done = read_sheet(&mut reader, &mut sheet);
                        self.add(sheet, name);
                        done?;
                    }
                    Event::Eof => return Ok(()),
                    _ => (),
                }
            }
        }

        fn add(&mut self, sheet: Sheet, name: String) {
            let grid = sheet.grid();
            let total = sheet.raw.saturating_add(grid);
            self.raw = self.raw.saturating_add(sheet.raw);
            self.grid = self.grid.saturating_add(grid);
            self.text = self.text.saturating_add(sheet.text);
            if self.largest.as_ref().is_none_or(|(n, _)| total > *n) {
                self.largest = Some((total, name));
            }
        }

        pub(super) fn check(&self, limits: &Limits) -> Result<(), String> {
            // A cell is a calamine::Data and its formula a String, in the row as read and
            // in the grid.
            let cell =
                (std::mem::size_of::<calamine::Data>() + std::mem::size_of::<String>()) as u64;
            let bytes = self
                .raw
                .saturating_add(self.grid)
                .saturating_mul(cell)
                .saturating_add(self.text);
            let sheet = self
                .largest
                .as_ref()
                .map_or(String::new(), |(_, n)| format!(", most in sheet `{n}`"));
            let what = format!(
                "content.xml's repeated rows and cells: {} cells as read, {} as grids, {} bytes of text{sheet}",
                self.raw, self.grid, self.text
            );
            match limits.check_bytes(&what, bytes) {
                Some(m) => Err(m),
                None => Ok(()),
            }
        }
    }

    fn read_sheet<R: std::io::BufRead>(
        reader: &mut Reader<R>,
        sheet: &mut Sheet,
    ) -> Result<(), Stop> {
        let mut buf = vec![];
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf)? {
                Event::Start(e) if e.name().as_ref() == "table:table-row" => {
                    let r = repeats(&e, "table:number-rows-repeated")?;
                    let r = r.min(MAX_ROWS.saturating_sub(sheet.rows));
                    let row = read_row(reader)?;
                    let element = sheet.elements;
                    sheet.elements += 1;
                    sheet.raw = sheet.raw.saturating_add(row.cells);
                    if let Some((c0, c1)) = row.non_empty {
                        if sheet.first.is_none() {
                            sheet.first = Some((element, sheet.rows));
                            sheet.col_min = c0;
                        }
                        sheet.col_min = sheet.col_min.min(c0);
                        sheet.col_max = sheet.col_max.max(c1);
                        sheet.last = (element, sheet.rows + r);
                    }
                    sheet.rows += r;
                    sheet.text = sheet.text.saturating_add(row.text);
                }
                Event::End(e) if e.name().as_ref() == "table:table" => return Ok(()),
                Event::Eof => return Err(Stop),
                _ => (),
            }
        }
    }

    /// One row element as calamine's `read_row` holds it.
    struct Row {
        /// Cells pushed (empty ones only before a later non-empty one).
        cells: u64,
        /// Columns of the first and last non-empty cell.
        non_empty: Option<(u64, u64)>,
        /// Bytes of text and formulas, times their repeats.
        text: u64,
    }

    fn read_row<R: std::io::BufRead>(reader: &mut Reader<R>) -> Result<Row, Stop> {
        let mut row = Row {
            cells: 0,
            non_empty: None,
            text: 0,
        };
        let mut pending_empty = 0u64;
        let mut buf = vec![];
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf)? {
                Event::Start(e)
                    if matches!(
                        e.name().as_ref(),
                        "table:table-cell" | "table:covered-table-cell"
                    ) =>
                {
                    let n = repeats(&e, "table:number-columns-repeated")?;
                    let (empty, bytes) = read_cell(reader, &e)?;
                    row.cells += pending_empty.min(MAX_COLUMNS - row.cells);
                    pending_empty = 0;
                    let n = n.min(MAX_COLUMNS - row.cells);
                    if empty {
                        pending_empty = n;
                    } else if n > 0 {
                        let first = row.non_empty.map_or(row.cells, |(c0, _)| c0);
                        row.cells += n;
                        row.non_empty = Some((first, row.cells - 1));
                        row.text = row.text.saturating_add(bytes.saturating_mul(n));
                    }
                }
                Event::End(e) if e.name().as_ref() == "table:table-row" => return Ok(row),
                _ => return Err(Stop),
            }
        }
    }

    /// Whether a cell is empty to calamine (no value, no formula), and the bytes of its
    /// text and formula; reads to the cell's end.
    fn read_cell<R: std::io::BufRead>(
        reader: &mut Reader<R>,
        e: &BytesStart<'_>,
    ) -> Result<(bool, u64), Stop> {
        // The value attribute's text length (0 for a number or a boolean), whether it is an
        // empty office:string-value, and the two value types that send calamine to the
        // cell's content.
        let (mut value, mut empty_string) = (None::<u64>, false);
        let (mut string_type, mut error_type) = (false, false);
        let mut formula = 0u64;
        let mut attrs = e.attributes();
        attrs.with_checks(false);
        for a in attrs {
            let a = a.map_err(|_| Stop)?;
            let v = a.value.len() as u64;
            match a.key.as_ref() {
                "office:value" | "office:boolean-value" if value.is_none() => value = Some(0),
                "office:string-value" | "office:date-value" | "office:time-value"
                    if value.is_none() =>
                {
                    value = Some(v);
                    empty_string = a.key.as_ref() == "office:string-value" && v == 0;
                }
                "office:value-type" if value.is_none() => string_type = a.value == "string",
                "calcext:value-type" => error_type = a.value == "error",
                "table:formula" => formula = v,
                _ => (),
            }
        }
        let reads_content = (value.is_none() && string_type) || (error_type && empty_string);
        let end = e.name().as_ref().to_string();
        let mut text = 0u64;
        let mut depth = 0usize;
        let mut annotation = 0usize;
        let mut buf = vec![];
        loop {
            buf.clear();
            match reader.read_event_into(&mut buf)? {
                Event::End(x) if depth == 0 && x.name().as_ref() == end => break,
                Event::Start(x) => {
                    depth += 1;
                    match x.name().as_ref() {
                        "office:annotation" => annotation += 1,
                        _ if annotation > 0 => (),
                        "text:p" | "text:tab" | "text:line-break" => text += 1,
                        "text:s" => text = text.saturating_add(repeats(&x, "text:c")?),
                        _ => (),
                    }
                }
                Event::End(x) => {
                    depth = depth.saturating_sub(1);
                    if x.name().as_ref() == "office:annotation" {
                        annotation = annotation.saturating_sub(1);
                    }
                }
                Event::Text(t) if annotation == 0 => text += t.len() as u64,
                Event::GeneralRef(_) if annotation == 0 => text += 4,
                Event::Eof => return Err(Stop),
                _ => (),
            }
        }
        let bytes = formula.saturating_add(if reads_content {
            text
        } else {
            value.unwrap_or(0)
        });
        let empty = value.is_none() && !reads_content && formula == 0;
        Ok((empty, bytes))
    }
}

/// An .xls (BIFF) workbook whose sheets would make calamine allocate past the limits, or
/// whose records calamine 0.38 panics on, as the one-line reason; `Ok` for a file that is not
/// a compound file (calamine says what it is) and for one this scan cannot follow (calamine's
/// own error follows).
pub(crate) fn check_xls(path: &Path, limits: &Limits) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut magic = [0u8; 8];
    if file.read_exact(&mut magic).is_err() || magic != CFB_MAGIC {
        return Ok(());
    }
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    if let Some(m) = limits.check_bytes("compound file", size) {
        return Err(m);
    }
    let mut bytes = magic.to_vec();
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let Some(stream) = cfb::workbook_stream(&bytes)? else {
        return Ok(());
    };
    biff::check(&stream, limits)
}

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// The little-endian u16 at `at` in `b`, if `b` holds it.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The little-endian u32 at `at` in `b`, if `b` holds it.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Just enough of the compound file format ([MS-CFB]) to find the workbook stream, walking
/// every sector chain calamine 0.38 walks when it opens the file (directory, mini stream,
/// mini FAT, the workbook stream). calamine follows a chain until its end marker with no
/// guard against loops (a directory chain that loops grew without bound: 24 GB from a 26 KB
/// file, found by the fuzzer) and indexes its FAT by whatever a sector says (a panic past
/// the FAT's end): both are refused here.
mod cfb {
    use super::{u16_at, u32_at};

    const END_OF_CHAIN: u32 = 0xFFFF_FFFE;

    /// Why a chain walk stopped early.
    enum Stop {
        /// Refuse the file: calamine would loop or panic.
        Refuse(String),
        /// Not a layout this reader follows: calamine's own error will say.
        Unknown,
    }

    struct File<'a> {
        bytes: &'a [u8],
        shift: u32,
        fat: Vec<u32>,
    }

    impl File<'_> {
        /// Sector `id`, cut short where the file ends (as calamine reads it: a chain through
        /// a last, partial sector goes on).
        fn sector(&self, id: u32) -> Result<&[u8], Stop> {
            let size = 1usize << self.shift;
            if id as usize > self.bytes.len() / size {
                return Err(Stop::Unknown);
            }
            let at = (id as usize + 1) * size;
            let end = (at + size).min(self.bytes.len());
            self.bytes.get(at..end).ok_or(Stop::Unknown)
        }

        /// The sectors of the chain starting at `start`, joined.
        fn chain(&self, what: &str, start: u32) -> Result<Vec<u8>, Stop> {
            let mut out = vec![];
            let mut id = start;
            let mut steps = 0;
            while id != END_OF_CHAIN {
                steps += 1;
                if steps > self.fat.len() {
                    return Err(Stop::Refuse(format!(
                        "compound file: the {what} chain from sector {start} loops"
                    )));
                }
                out.extend_from_slice(self.sector(id)?);
                id = *self.fat.get(id as usize).ok_or_else(|| {
                    Stop::Refuse(format!(
                        "compound file: the {what} chain reaches sector {id}, past the {} sectors its FAT maps",
                        self.fat.len()
                    ))
                })?;
            }
            Ok(out)
        }
    }

    /// The `Workbook` (BIFF8) or `Book` (BIFF5) stream; `Ok(None)` where the container is
    /// not one this reader follows, `Err` where calamine would loop or panic on it.
    pub(super) fn workbook_stream(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match stream(bytes) {
            Ok(s) => Ok(Some(s)),
            Err(Stop::Refuse(m)) => Err(m),
            Err(Stop::Unknown) => Ok(None),
        }
    }

    fn stream(bytes: &[u8]) -> Result<Vec<u8>, Stop> {
        let header = |at: usize| u32_at(bytes, at).ok_or(Stop::Unknown);
        let shift = u32::from(u16_at(bytes, 0x1E).ok_or(Stop::Unknown)?);
        let mini_shift = u32::from(u16_at(bytes, 0x20).ok_or(Stop::Unknown)?);
        if !(7..=16).contains(&shift) || mini_shift >= shift {
            return Err(Stop::Unknown);
        }
        let size = 1usize << shift;
        let per_sector = size / 4;
        // The FAT's sectors: 109 in the header, then the DIFAT chain (which calamine bounds).
        let mut fat_sectors: Vec<u32> = (0..109)
            .filter_map(|i| u32_at(bytes, 0x4C + 4 * i))
            .collect();
        let mut file = File {
            bytes,
            shift,
            fat: vec![],
        };
        let mut difat = header(0x44)?;
        let mut guard = 0;
        while difat < END_OF_CHAIN {
            guard += 1;
            if guard > bytes.len() / size {
                return Err(Stop::Unknown);
            }
            let s = file.sector(difat)?;
            fat_sectors.extend((0..per_sector - 1).filter_map(|i| u32_at(s, 4 * i)));
            difat = u32_at(s, size - 4).ok_or(Stop::Unknown)?;
        }
        for id in fat_sectors.into_iter().filter(|&id| id < 0xFFFF_FFFA) {
            let s = file.sector(id)?.to_vec();
            file.fat
                .extend((0..per_sector).filter_map(|i| u32_at(&s, 4 * i)));
        }
        let dir = file.chain("directory", header(0x30)?)?;
        let entry = |i: usize| dir.get(128 * i..128 * (i + 1));
        let name = |e: &[u8]| -> String {
            let n = (u16_at(e, 0x40).unwrap_or(0) as usize).min(64) / 2;
            let units: Vec<u16> = (0..n).filter_map(|k| u16_at(e, 2 * k)).collect();
            String::from_utf16_lossy(&units)
                .trim_end_matches('\0')
                .to_string()
        };
        let root = entry(0).ok_or(Stop::Unknown)?;
        let root_start = u32_at(root, 0x74).ok_or(Stop::Unknown)?;
        // calamine loads the mini stream and the mini FAT whenever the header counts one.
        let mini = if header(0x40)? > 0 {
            let mini_fat = file.chain("mini FAT", header(0x3C)?)?;
            Some((file.chain("mini stream", root_start)?, mini_fat))
        } else {
            None
        };
        let book = (1..dir.len() / 128)
            .filter_map(entry)
            .find(|e| {
                e.get(0x42) == Some(&2) && {
                    let n = name(e);
                    n.eq_ignore_ascii_case("Workbook") || n.eq_ignore_ascii_case("Book")
                }
            })
            .ok_or(Stop::Unknown)?;
        let start = u32_at(book, 0x74).ok_or(Stop::Unknown)?;
        let len = u32_at(book, 0x78).ok_or(Stop::Unknown)? as usize;
        let mut stream = if len < 4096 {
            // In the mini stream, cut in mini sectors by the mini FAT (calamine stops this
            // walk at the stream's declared length, under 4096 bytes).
            let (mini, mini_fat) = mini.ok_or(Stop::Unknown)?;
            let msize = 1usize << mini_shift;
            let mut out = vec![];
            let mut id = start;
            while id != END_OF_CHAIN && out.len() < len {
                let at = id as usize * msize;
                let chunk = mini.get(at..at + msize).ok_or_else(|| {
                    Stop::Refuse(format!(
                        "compound file: the workbook stream's mini sector {id} lies past the {}-byte mini stream",
                        mini.len()
                    ))
                })?;
                out.extend_from_slice(chunk);
                id = u32_at(&mini_fat, 4 * id as usize).ok_or_else(|| {
                    Stop::Refuse(format!(
                        "compound file: the workbook stream reaches mini sector {id}, past the {} its mini FAT maps",
                        mini_fat.len() / 4
                    ))
                })?;
            }
            out
        } else {
            file.chain("workbook stream", start)?
        };
        stream.truncate(len);
        Ok(stream)
    }
}

/// The BIFF records calamine 0.38's xls reader builds each sheet's grid from.
mod biff {
    use super::{a1, bounds, check_grid, u16_at, u32_at, Limits};

    /// (type, data, offset of the next record) of the record at `at`.
    fn record(stream: &[u8], at: usize) -> Option<(u16, &[u8], usize)> {
        let typ = u16_at(stream, at)?;
        let len = u16_at(stream, at + 2)? as usize;
        let data = stream.get(at + 4..at + 4 + len)?;
        Some((typ, data, at + 4 + len))
    }

    pub(super) fn check(stream: &[u8], limits: &Limits) -> Result<(), String> {
        // The globals: each sheet's name and the offset of its BOF.
        let mut sheets = vec![];
        let mut at = 0;
        while let Some((typ, data, next)) = record(stream, at) {
            match typ {
                0x0085 if data.len() >= 4 => {
                    let pos = u32_at(data, 0).unwrap_or(0) as usize;
                    if pos >= stream.len() {
                        return Err(format!(
                            "a sheet (BoundSheet8 record at byte {at}) starts at byte {pos}, past the {}-byte workbook stream",
                            stream.len()
                        ));
                    }
                    sheets.push(pos);
                }
                0x000A => break,
                _ => (),
            }
            at = next;
        }
        for (i, pos) in sheets.into_iter().enumerate() {
            sheet(stream, pos, i + 1, limits)?;
        }
        Ok(())
    }

    /// One sheet's substream, from its BOF, skipping nested substreams as calamine does.
    fn sheet(stream: &[u8], mut at: usize, n: usize, limits: &Limits) -> Result<(), String> {
        let what = |s: String| format!("sheet {n}: {s}");
        let (mut seen_bof, mut depth) = (false, 0usize);
        let mut cells: Vec<(u32, u32)> = vec![];
        while let Some((typ, data, next)) = record(stream, at) {
            at = next;
            if depth > 0 {
                match typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => (),
                }
                continue;
            }
            let row_col = || Some((u32::from(u16_at(data, 0)?), u32::from(u16_at(data, 2)?)));
            match typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x000A => break,
                // DIMENSIONS: calamine reserves room for its box.
                0x0200 => {
                    let (rf, rl, cf, cl) = match data.len() {
                        10 => (
                            u32::from(u16_at(data, 0).unwrap_or(0)),
                            u32::from(u16_at(data, 2).unwrap_or(0)),
                            u32::from(u16_at(data, 4).unwrap_or(0)),
                            u32::from(u16_at(data, 6).unwrap_or(0)),
                        ),
                        14 | 16 => (
                            u32_at(data, 0).unwrap_or(0),
                            u32_at(data, 4).unwrap_or(0),
                            u32::from(u16_at(data, 8).unwrap_or(0)),
                            u32::from(u16_at(data, 10).unwrap_or(0)),
                        ),
                        _ => continue,
                    };
                    let cf = if cf > 0xFF || cl < cf { 0 } else { cf };
                    if rl >= 1 && cl >= 1 {
                        if rl - 1 < rf {
                            return Err(what(format!(
                                "its DIMENSIONS record ends at row {rl} before it starts at row {}",
                                u64::from(rf) + 1
                            )));
                        }
                        let (rows, cols) = (u64::from(rl - 1 - rf) + 1, u64::from(cl - 1 - cf) + 1);
                        if let Some(m) =
                            check_grid(&what("its DIMENSIONS record".into()), rows, cols, limits)
                        {
                            return Err(m);
                        }
                    }
                }
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD | 0x0006 => {
                    cells.extend(row_col());
                }
                // MULRK: one row, columns first..=last (the record's last two bytes).
                0x00BD if data.len() >= 6 => {
                    let row = u32::from(u16_at(data, 0).unwrap_or(0));
                    let first = u16_at(data, 2).unwrap_or(0);
                    let last = u16_at(data, data.len() - 2).unwrap_or(0);
                    if last < first {
                        return Err(what(format!(
                            "a MULRK record ends at column {} before it starts at column {}",
                            u32::from(last) + 1,
                            u32::from(first) + 1
                        )));
                    }
                    cells.extend([(row, u32::from(first)), (row, u32::from(last))]);
                }
                _ => (),
            }
        }
        if let Some((r0, r1, c0, c1)) = bounds(cells.into_iter()) {
            let w = what(format!("cells {} to {}", a1(r0, c0), a1(r1, c1)));
            let (rows, cols) = (u64::from(r1 - r0) + 1, u64::from(c1 - c0) + 1);
            if let Some(m) = check_grid(&w, rows, cols, limits) {
                return Err(m);
            }
        }
        Ok(())
    }
}
