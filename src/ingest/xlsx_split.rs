//! A large `.xlsx` worksheet read by several calamine readers at once.
//!
//! calamine reads a worksheet's XML with one thread; seed 001's `Non-Cancer` sheet is 90 MB of
//! XML (2.8 M cells) and its parse is almost all of `pandas.read_excel`'s rival time (issue 41,
//! P1). Here the sheet part is inflated once, its `<sheetData>` cut at `<row ` tags into one
//! piece per thread, and each piece, wrapped in the part's own head and tail, is handed to
//! calamine as the same workbook in memory with that part replaced (stored). The cells of the
//! pieces, concatenated in order, are exactly the cells of one reader over the whole part:
//!
//! - a piece begins with a `<row>` whose start tag has an `r` attribute (calamine counts a row
//!   without `r` from the reader's own start, and a cell without `r` from its row's start);
//! - the sheet has no comment, CDATA section or processing instruction between `<sheetData>`
//!   and `</sheetData>` (where `<row ` might not be a tag), and the tags have no namespace
//!   prefix;
//! - shared strings, styles and the 1904 flag are per workbook: each piece's workbook has them
//!   all.
//!
//! Any other sheet (small, prefixed, odd) is read by the one reader as before ([`read`]
//! answers `None`). The part's inflated size was checked against the limits when the
//! workbook was opened; the pieces together take that size once more.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

use calamine::{Data, Dimensions, Reader, Xlsx};
use memchr::memmem;
use rayon::prelude::*;

use super::sheet_bounds::{self, RangeError};
use super::sheets::{from_calamine_owned, Dense, Value};
use crate::ingest::limits::Limits;

/// A sheet part smaller than this (inflated) is read by one reader: the pieces' set-up
/// (a workbook each) would cost more than the parse saves.
pub(crate) const MIN_SPLIT_BYTES: u64 = 1 << 20;

/// The smallest piece worth a reader of its own.
const MIN_PIECE_BYTES: usize = 512 << 10;

/// The cells of `sheet` read in parallel pieces and its merged regions, or `None` when the
/// sheet is read by one reader (see the module docs for when).
pub(crate) fn read(
    path: &Path,
    sheet: &str,
    limits: &Limits,
) -> Option<Result<(Dense, Vec<Dimensions>), RangeError>> {
    let threads = rayon::current_num_threads();
    if threads < 2 {
        return None;
    }
    let open = || -> Option<zip::ZipArchive<BufReader<File>>> {
        zip::ZipArchive::new(BufReader::new(File::open(path).ok()?)).ok()
    };
    let mut zip = open()?;
    let part = super::xlsx_repair::sheet_part(&mut zip, sheet).ok()?;
    let xml = {
        let mut entry = zip.by_name(&part).ok()?;
        if entry.size() < MIN_SPLIT_BYTES {
            return None;
        }
        let mut xml = Vec::with_capacity(usize::try_from(entry.size()).ok()?);
        entry.read_to_end(&mut xml).ok()?;
        xml
    };
    let cut = Cut::find(&xml, threads)?;
    let workbook = |i: usize| -> Result<Xlsx<Cursor<Vec<u8>>>, RangeError> {
        let io = |m: String| RangeError::Calamine(calamine::Error::Io(std::io::Error::other(m)));
        let mut zip = open().ok_or_else(|| io("the workbook could not be opened again".into()))?;
        let piece = cut.piece(&xml, i);
        // The other worksheets are left out: calamine opens a workbook without its sheets.
        let bytes =
            super::zip_rewrite::with_part(&mut zip, &part, &piece, |name| !is_other_sheet(name))
                .map_err(io)?;
        Xlsx::new(Cursor::new(bytes)).map_err(|e| RangeError::Calamine(calamine::Error::Xlsx(e)))
    };
    // One task per piece, and one more for the merged regions (the part without its rows:
    // calamine's merge_cells_by_sheet_name reads a whole part to find them).
    let read: Vec<Result<Piece, RangeError>> = (0..=cut.pieces())
        .into_par_iter()
        .map(|i| {
            if !cut.is_plain(&xml, i) {
                return Ok(Piece::NotPlain);
            }
            let mut x = workbook(i)?;
            if i == cut.pieces() {
                return Ok(Piece::Merged(
                    x.merge_cells_by_sheet_name(sheet).unwrap_or_default(),
                ));
            }
            let mut cells = vec![];
            sheet_bounds::xlsx_cells(&mut x, sheet, |pos, v| {
                cells.push((pos, from_calamine_owned(Data::from(v))));
            })?;
            Ok(Piece::Cells(cells))
        })
        .collect();
    if read.iter().any(|p| matches!(p, Ok(Piece::NotPlain))) {
        return None;
    }
    let (mut pieces, mut merged) = (vec![], vec![]);
    for piece in read {
        match piece {
            Ok(Piece::Cells(c)) => pieces.push(c),
            Ok(Piece::Merged(m)) => merged = m,
            Ok(Piece::NotPlain) => unreachable!("handled above"),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(dense(pieces, sheet, limits).map(|d| (d, merged)))
}

/// What one parallel task read.
enum Piece {
    Cells(Vec<Cell>),
    Merged(Vec<Dimensions>),
    /// Rows where `<row ` may not be a tag: the sheet goes to one reader.
    NotPlain,
}

/// A cell read: its (row, column) and value.
type Cell = ((u32, u32), Value);

/// The pieces' cells as one grid, their box checked against the limits first. Where the
/// pieces hold increasing, separate row ranges (always, for rows cut in XML order with
/// increasing `r`), each piece fills its own rows in parallel; otherwise the cells are placed
/// one by one in XML order. A cell given twice keeps its last value, as calamine's
/// `Range::from_sparse` does.
fn dense(pieces: Vec<Vec<Cell>>, sheet: &str, limits: &Limits) -> Result<Dense, RangeError> {
    let boxes: Vec<_> = pieces
        .iter()
        .map(|p| sheet_bounds::bounds(p.iter().map(|(pos, _)| *pos)))
        .collect();
    let all = sheet_bounds::bounds(
        boxes
            .iter()
            .flatten()
            .flat_map(|&(r0, r1, c0, c1)| [(r0, c0), (r1, c1)]),
    );
    sheet_bounds::check_box(sheet, all, limits)?;
    let Some((r0, r1, c0, c1)) = all else {
        return Ok(Dense::default());
    };
    let width = (c1 - c0 + 1) as usize;
    let rows_of = |(first, last): (u32, u32)| -> Vec<Vec<Value>> {
        vec![vec![Value::Empty; width]; (last - first + 1) as usize]
    };
    let spans: Vec<(u32, u32)> = boxes.iter().flatten().map(|b| (b.0, b.1)).collect();
    let separate = spans.windows(2).all(|w| w[0].1 < w[1].0);
    let rows = if separate {
        let blocks: Vec<(u32, Vec<Vec<Value>>)> = pieces
            .into_par_iter()
            .zip(boxes)
            .filter_map(|(cells, b)| {
                let (first, last, _, _) = b?;
                let mut block = rows_of((first, last));
                for ((r, c), v) in cells {
                    block[(r - first) as usize][(c - c0) as usize] = v;
                }
                Some((first, block))
            })
            .collect();
        let mut rows = Vec::with_capacity((r1 - r0 + 1) as usize);
        for (first, block) in blocks {
            rows.resize(first.saturating_sub(r0) as usize, vec![Value::Empty; width]);
            rows.extend(block);
        }
        rows
    } else {
        let mut rows = rows_of((r0, r1));
        for ((r, c), v) in pieces.into_iter().flatten() {
            rows[(r - r0) as usize][(c - c0) as usize] = v;
        }
        rows
    };
    Ok(Dense {
        origin: (r0, c0),
        width,
        rows,
    })
}

/// Where a sheet part's XML is cut: `head` ends after `<sheetData ...>`, `tail` starts at
/// `</sheetData>`, and `starts` are the byte offsets where the pieces of the rows begin.
#[derive(Debug, PartialEq)]
struct Cut {
    head: usize,
    tail: usize,
    starts: Vec<usize>,
}

impl Cut {
    /// Up to `n` pieces of about equal size, each (after the first) starting at a `<row `
    /// tag with an `r` attribute; `None` when the part cannot be cut (see the module docs).
    fn find(xml: &[u8], n: usize) -> Option<Cut> {
        let open = memmem::find(xml, b"<sheetData")?;
        let head = open + memchr::memchr(b'>', &xml[open..])? + 1;
        if xml[head - 2] == b'/' {
            return None; // <sheetData/>: no rows
        }
        let tail = memmem::rfind(xml, b"</sheetData>")?;
        if tail < head {
            return None;
        }
        // After the XML declaration, no comment, CDATA or processing instruction before the
        // rows (each piece checks its own rows: `plain`).
        let declaration = if xml.starts_with(b"<?xml") { 5 } else { 0 };
        if !plain(&xml[declaration..head]) {
            return None;
        }
        let rows = &xml[head..tail];
        let n = n.min(rows.len() / MIN_PIECE_BYTES).max(1);
        let mut starts = vec![head];
        for k in 1..n {
            let target = head + rows.len() * k / n;
            let Some(at) = next_row_with_r(xml, target, tail) else {
                break;
            };
            if at > *starts.last().expect("one start") {
                starts.push(at);
            }
        }
        (starts.len() > 1).then_some(Cut { head, tail, starts })
    }

    fn pieces(&self) -> usize {
        self.starts.len()
    }

    /// Piece `i`'s rows; none for piece `pieces()`.
    fn rows<'a>(&self, xml: &'a [u8], i: usize) -> &'a [u8] {
        match self.starts.get(i) {
            Some(&start) => &xml[start..self.starts.get(i + 1).copied().unwrap_or(self.tail)],
            None => &[],
        }
    }

    /// Piece `i`'s rows hold no comment, CDATA section or processing instruction.
    fn is_plain(&self, xml: &[u8], i: usize) -> bool {
        plain(self.rows(xml, i))
    }

    /// Piece `i` as a whole sheet part: the head, its rows, the tail.
    /// Piece `pieces()` is the part without rows.
    fn piece(&self, xml: &[u8], i: usize) -> Vec<u8> {
        let rows = self.rows(xml, i);
        let mut part = Vec::with_capacity(self.head + rows.len() + xml.len() - self.tail);
        part.extend_from_slice(&xml[..self.head]);
        part.extend_from_slice(rows);
        part.extend_from_slice(&xml[self.tail..]);
        part
    }
}

/// No `<!` (comment, CDATA, DOCTYPE) or `<?` (processing instruction) in `xml`: every `<row `
/// in it is a tag.
fn plain(xml: &[u8]) -> bool {
    memmem::find(xml, b"<!").is_none() && memmem::find(xml, b"<?").is_none()
}

/// The first `<row ` tag at or after `from` (before `end`) whose start tag has an `r`
/// attribute.
fn next_row_with_r(xml: &[u8], from: usize, end: usize) -> Option<usize> {
    let finder = memmem::Finder::new(b"<row ");
    let mut at = from;
    while at < end {
        let found = at + finder.find(&xml[at..end])?;
        let close = found + memchr::memchr(b'>', &xml[found..end])?;
        let tag = &xml[found..close];
        if memmem::find(tag, b" r=\"").is_some() || memmem::find(tag, b" r='").is_some() {
            return Some(found);
        }
        at = close;
    }
    None
}

/// A worksheet's own part (`xl/worksheets/sheet2.xml`), not its relationships: a piece's
/// copy of the workbook leaves the others out (seed 001's `Non-Cancer` sheet is 20 MB
/// deflated).
fn is_other_sheet(name: &str) -> bool {
    name.strip_prefix("xl/worksheets/")
        .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".xml"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sheets::{read_sheet, SheetOptions};

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    /// 30,000 rows of text, numbers, dates, booleans and blanks, 40 empty rows in the middle,
    /// merged regions in the middle and at the end, and a small second sheet.
    fn large_workbook(path: &Path) {
        use rust_xlsxwriter::{Format, Workbook};
        let mut wb = Workbook::new();
        let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
        let ws = wb.add_worksheet().set_name("Big").unwrap();
        for (c, h) in ["id", "score", "count", "seen", "flag", "note"]
            .iter()
            .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        for r in 1..30_000u32 {
            if (12_000..12_040).contains(&r) {
                continue;
            }
            ws.write_string(r, 0, format!("P{:05}", r % 7919)).unwrap();
            ws.write_number(r, 1, f64::from(r) / 7.0).unwrap();
            if r % 3 != 0 {
                ws.write_number(r, 2, f64::from(r % 101)).unwrap();
            }
            ws.write_number_with_format(r, 3, 41_000.0 + f64::from(r) / 24.0, &date)
                .unwrap();
            ws.write_boolean(r, 4, r % 2 == 0).unwrap();
            if r % 11 == 0 {
                ws.write_string(r, 5, "dense tissue, <row r=\"1\"> & more")
                    .unwrap();
            }
        }
        ws.merge_range(15_000, 5, 15_003, 6, "merged", &Format::new())
            .unwrap();
        ws.merge_range(30_000, 0, 30_001, 1, "last", &Format::new())
            .unwrap();
        let small = wb.add_worksheet().set_name("Small").unwrap();
        small.write_string(0, 0, "only").unwrap();
        wb.save(path).unwrap();
    }

    #[test]
    fn a_large_sheet_in_parallel_pieces_reads_as_one_reader_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large.xlsx");
        large_workbook(&path);
        let limits = Limits::current();
        let (pieces, merged) = pool(3)
            .install(|| read(&path, "Big", &limits))
            .expect("the sheet is cut")
            .unwrap_or_else(|_| panic!("read"));
        let mut x: Xlsx<_> = calamine::open_workbook(&path).unwrap();
        let one = sheet_bounds::xlsx_range(&mut x, "Big", &limits).unwrap_or_else(|_| panic!());
        let one = Dense::from_range(&one);
        assert_eq!(
            (pieces.origin, pieces.width, pieces.rows.len()),
            (one.origin, one.width, one.rows.len())
        );
        assert!(pieces.rows == one.rows, "every cell as one reader reads it");
        assert_eq!(merged, x.merge_cells_by_sheet_name("Big").unwrap());
        assert_eq!(merged.len(), 2);
        assert!(pool(1).install(|| read(&path, "Big", &limits)).is_none());
        assert!(pool(3).install(|| read(&path, "Small", &limits)).is_none());
        // Through the public reader: the same Sheet with one thread and with three.
        let options = SheetOptions::default();
        let a = pool(1)
            .install(|| read_sheet(&path, "Big", &options))
            .unwrap();
        let b = pool(3)
            .install(|| read_sheet(&path, "Big", &options))
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.rows.len(), 30_000 - 40 + 1);
        assert_eq!(a.rows.last().unwrap()[0], Value::Text("last".into()));
    }

    #[test]
    fn pieces_with_overlapping_rows_are_placed_cell_by_cell() {
        let v = |x: f64| Value::Float(x);
        let limits = Limits::current();
        let pieces = vec![
            vec![((2, 1), v(1.0)), ((5, 3), v(2.0))],
            vec![((4, 2), v(3.0)), ((5, 3), v(4.0))],
        ];
        let d = dense(pieces, "S", &limits).unwrap_or_else(|_| panic!());
        assert_eq!((d.origin, d.width, d.rows.len()), ((2, 1), 3, 4));
        assert_eq!(d.rows[0][0], v(1.0));
        assert_eq!(d.rows[2][1], v(3.0));
        assert_eq!(d.rows[3][2], v(4.0), "the last value of a cell given twice");
        let apart = vec![vec![((0, 0), v(1.0))], vec![], vec![((3, 2), v(2.0))]];
        let d = dense(apart, "S", &limits).unwrap_or_else(|_| panic!());
        assert_eq!(
            (d.rows.len(), d.rows[1].clone()),
            (4, vec![Value::Empty; 3])
        );
        assert_eq!(d.rows[3][2], v(2.0));
        let huge = vec![vec![((0, 0), v(1.0))], vec![((1_000_000, 16_000), v(1.0))]];
        assert!(matches!(
            dense(huge, "S", &limits),
            Err(RangeError::Limit(_))
        ));
    }

    fn sheet(rows: &str) -> Vec<u8> {
        format!(
            "<?xml version=\"1.0\"?><worksheet><dimension ref=\"A1:B9\"/><sheetData>{rows}</sheetData><mergeCells count=\"0\"/></worksheet>"
        )
        .into_bytes()
    }

    #[test]
    fn cuts_fall_on_rows_with_r_and_the_pieces_rebuild_the_rows() {
        let row = |r: usize| format!("<row r=\"{r}\"><c r=\"A{r}\"><v>{r}</v></c></row>");
        let rows: String = (1..=200_000).map(row).collect();
        let xml = sheet(&rows);
        let cut = Cut::find(&xml, 3).expect("a cut");
        assert_eq!(cut.pieces(), 3);
        let mut joined = vec![];
        for i in 0..cut.pieces() {
            let p = cut.piece(&xml, i);
            assert!(p.starts_with(&xml[..cut.head]) && p.ends_with(&xml[cut.tail..]));
            joined.extend_from_slice(&p[cut.head..p.len() - (xml.len() - cut.tail)]);
            if i > 0 {
                assert!(xml[cut.starts[i]..].starts_with(b"<row r=\""));
            }
        }
        assert_eq!(joined, rows.as_bytes());
    }

    #[test]
    fn no_cut_where_a_row_tag_might_be_text_or_rows_lack_r() {
        let big = |row: &str| -> String { std::iter::repeat_n(row, 300_000).collect() };
        let plain = big("<row><c><v>1</v></c></row>");
        assert_eq!(Cut::find(&sheet(&plain), 2), None, "no row has r");
        let rows = big("<row r=\"1\"><c/></row>");
        let commented = sheet(&format!("<!-- <row r=\"9\"> -->{rows}"));
        let cut = Cut::find(&commented, 2).expect("cut: each piece checks its own rows");
        assert!(!cut.is_plain(&commented, 0) && cut.is_plain(&commented, 1));
        let in_head = format!(
            "<!-- <sheetData> -->{}",
            String::from_utf8(sheet(&rows)).unwrap()
        );
        assert_eq!(
            Cut::find(in_head.as_bytes(), 2),
            None,
            "a comment before the rows"
        );
        let prefixed = sheet(&big("<x:row r=\"1\"><x:c/></x:row>"));
        assert_eq!(Cut::find(&prefixed, 2), None);
        assert_eq!(Cut::find(b"<worksheet><sheetData/></worksheet>", 2), None);
        let small = sheet("<row r=\"1\"><c/></row><row r=\"2\"><c/></row>");
        assert_eq!(Cut::find(&small, 2), None, "under a piece's minimum");
    }
}
