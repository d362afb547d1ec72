//! A minimal Excel 97-2003 workbook writer (BIFF8 in a Compound File), for twins of downloads
//! that ship `.xls` (INbreast's `INbreast.xls`). No crate on the registries writes BIFF8, and
//! a twin must be the format the download is.
//!
//! What it writes, following [MS-XLS] and [MS-CFB]: one worksheet; a globals substream (BOF,
//! CODEPAGE 1200, WINDOW1, four fonts, 15 style XFs and one cell XF with the General format,
//! BOUNDSHEET8, SST, EOF) and the sheet substream (BOF, DIMENSIONS, one NUMBER or LABELSST
//! record per non-empty cell, WINDOW2, EOF), in a version-3 compound file (512-byte sectors)
//! whose one stream is `Workbook`. Strings are stored 8-bit when every character is Latin-1,
//! else UTF-16. The shared-string table must fit one record (8,224 bytes): the twins hold a
//! small vocabulary, and a larger one is refused rather than written wrong.
//!
//! xlrd, olefile and calamine read what it writes (tests/python/test_inbreast_twin.py and the
//! unit test below).

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum XlsCell {
    /// Nothing (no record).
    Empty,
    /// A number.
    Number(f64),
    /// Text.
    Text(String),
}

const SECTOR: usize = 512;
const END_OF_CHAIN: u32 = 0xFFFF_FFFE;
const FREE: u32 = 0xFFFF_FFFF;
const FAT_SECTOR: u32 = 0xFFFF_FFFD;
const NO_STREAM: u32 = 0xFFFF_FFFF;
/// The largest record body BIFF8 allows.
const MAX_RECORD: usize = 8224;
/// The cell XF: after the 15 style XFs.
const CELL_XF: u16 = 15;

fn record(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(body);
}

fn bof(kind: u16) -> Vec<u8> {
    let mut b = vec![];
    for v in [0x0600u16, kind, 0x0DBB, 0x07CC] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&6u32.to_le_bytes());
    b
}

/// The characters of a string with its flag byte: 8-bit when all are Latin-1, else UTF-16.
fn chars(s: &str) -> (u8, Vec<u8>) {
    if s.chars().all(|c| (c as u32) < 0x100) {
        (0, s.chars().map(|c| c as u8).collect())
    } else {
        (1, s.encode_utf16().flat_map(u16::to_le_bytes).collect())
    }
}

/// A string with a 16-bit length (XLUnicodeString, as SST entries hold them).
fn long_string(s: &str) -> Vec<u8> {
    let (flag, bytes) = chars(s);
    let mut b = (s.encode_utf16().count() as u16).to_le_bytes().to_vec();
    b.push(flag);
    b.extend_from_slice(&bytes);
    b
}

/// A string with an 8-bit length (ShortXLUnicodeString: font and sheet names).
fn short_string(s: &str) -> Vec<u8> {
    let (flag, bytes) = chars(s);
    let mut b = vec![s.encode_utf16().count() as u8, flag];
    b.extend_from_slice(&bytes);
    b
}

/// The BIFF8 `Workbook` stream of one sheet.
fn workbook_stream(sheet: &str, rows: &[Vec<XlsCell>]) -> Result<Vec<u8>> {
    let mut strings: Vec<&str> = vec![];
    let mut index: HashMap<&str, u32> = HashMap::new();
    let mut refs = 0u32;
    for cell in rows.iter().flatten() {
        if let XlsCell::Text(t) = cell {
            refs += 1;
            index.entry(t.as_str()).or_insert_with(|| {
                strings.push(t.as_str());
                strings.len() as u32 - 1
            });
        }
    }
    let mut sst = vec![];
    sst.extend_from_slice(&refs.to_le_bytes());
    sst.extend_from_slice(&(strings.len() as u32).to_le_bytes());
    for s in &strings {
        sst.extend_from_slice(&long_string(s));
    }
    if sst.len() > MAX_RECORD {
        return Err(Error::Param {
            name: "xls",
            message: format!(
                "{} distinct strings take {} bytes; this writer keeps them in one SST record ({MAX_RECORD})",
                strings.len(),
                sst.len()
            ),
        });
    }

    let mut globals = vec![];
    record(&mut globals, 0x0809, &bof(0x0005));
    record(&mut globals, 0x0042, &1200u16.to_le_bytes());
    let mut window1 = vec![];
    for v in [0u16, 0, 0x4000, 0x2000, 0x0038, 0, 0, 1, 0x0258] {
        window1.extend_from_slice(&v.to_le_bytes());
    }
    record(&mut globals, 0x003D, &window1);
    for _ in 0..4 {
        let mut font = vec![];
        for v in [200u16, 0, 0x7FFF, 400, 0] {
            font.extend_from_slice(&v.to_le_bytes());
        }
        font.extend_from_slice(&[0, 0, 0, 0]);
        font.extend_from_slice(&short_string("Arial"));
        record(&mut globals, 0x0031, &font);
    }
    for i in 0..=CELL_XF {
        // Style XFs (parent 0xFFF, the style bit) and the one cell XF; font 0, format 0
        // (General), bottom-aligned.
        let flags: u16 = if i < CELL_XF { 0xFFF5 } else { 0x0001 };
        let used: u8 = if i < CELL_XF { 0xF4 } else { 0 };
        let mut xf = vec![];
        xf.extend_from_slice(&0u16.to_le_bytes());
        xf.extend_from_slice(&0u16.to_le_bytes());
        xf.extend_from_slice(&flags.to_le_bytes());
        xf.extend_from_slice(&[0x20, 0, 0, used]);
        xf.extend_from_slice(&0u32.to_le_bytes());
        xf.extend_from_slice(&0u32.to_le_bytes());
        xf.extend_from_slice(&0x20C0u16.to_le_bytes());
        record(&mut globals, 0x00E0, &xf);
    }
    // BOUNDSHEET8 names where the sheet's BOF starts: known once the globals are laid out.
    let mut boundsheet = 0u32.to_le_bytes().to_vec();
    boundsheet.extend_from_slice(&[0, 0]);
    boundsheet.extend_from_slice(&short_string(sheet));
    let offset_at = globals.len() + 4;
    record(&mut globals, 0x0085, &boundsheet);
    record(&mut globals, 0x00FC, &sst);
    record(&mut globals, 0x000A, &[]);
    let sheet_start = globals.len() as u32;
    globals[offset_at..offset_at + 4].copy_from_slice(&sheet_start.to_le_bytes());

    let mut ws = vec![];
    record(&mut ws, 0x0809, &bof(0x0010));
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut dims = vec![];
    dims.extend_from_slice(&0u32.to_le_bytes());
    dims.extend_from_slice(&(rows.len() as u32).to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    dims.extend_from_slice(&(width as u16).to_le_bytes());
    dims.extend_from_slice(&0u16.to_le_bytes());
    record(&mut ws, 0x0200, &dims);
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let mut b = vec![];
            b.extend_from_slice(&(r as u16).to_le_bytes());
            b.extend_from_slice(&(c as u16).to_le_bytes());
            b.extend_from_slice(&CELL_XF.to_le_bytes());
            match cell {
                XlsCell::Empty => continue,
                XlsCell::Number(v) => {
                    b.extend_from_slice(&v.to_le_bytes());
                    record(&mut ws, 0x0203, &b);
                }
                XlsCell::Text(t) => {
                    b.extend_from_slice(&index[t.as_str()].to_le_bytes());
                    record(&mut ws, 0x00FD, &b);
                }
            }
        }
    }
    let mut window2 = vec![];
    for v in [0x06B6u16, 0, 0, 0x40, 0, 0, 0] {
        window2.extend_from_slice(&v.to_le_bytes());
    }
    window2.extend_from_slice(&0u32.to_le_bytes());
    record(&mut ws, 0x023E, &window2);
    record(&mut ws, 0x000A, &[]);
    globals.extend_from_slice(&ws);
    Ok(globals)
}

/// One 128-byte directory entry.
fn dir_entry(name: &str, kind: u8, child: u32, start: u32, size: u64) -> Vec<u8> {
    let mut e = vec![0u8; 128];
    let utf16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    e[..utf16.len()].copy_from_slice(&utf16);
    e[64..66].copy_from_slice(&((utf16.len() + 2) as u16).to_le_bytes());
    e[66] = kind;
    e[67] = 1; // black
    e[68..72].copy_from_slice(&NO_STREAM.to_le_bytes());
    e[72..76].copy_from_slice(&NO_STREAM.to_le_bytes());
    e[76..80].copy_from_slice(&child.to_le_bytes());
    e[116..120].copy_from_slice(&start.to_le_bytes());
    e[120..128].copy_from_slice(&size.to_le_bytes());
    e
}

/// A version-3 compound file holding one stream, `Workbook`, in regular sectors: the
/// stream's sectors, then one directory sector, then the FAT.
fn compound_file(stream: &[u8]) -> Vec<u8> {
    // Streams under 4,096 bytes belong in the mini stream: pad to keep to regular sectors
    // (BIFF readers stop at the sheet's EOF record).
    let mut data = stream.to_vec();
    data.resize(data.len().max(4096).next_multiple_of(SECTOR), 0);
    let data_sectors = data.len() / SECTOR;
    let mut fat_sectors = 1;
    while (data_sectors + 1 + fat_sectors).div_ceil(SECTOR / 4) > fat_sectors {
        fat_sectors += 1;
    }
    let dir_sector = data_sectors as u32;
    let first_fat = dir_sector + 1;
    let mut fat: Vec<u32> = (1..=data_sectors as u32).collect();
    fat[data_sectors - 1] = END_OF_CHAIN;
    fat.push(END_OF_CHAIN);
    fat.extend(std::iter::repeat_n(FAT_SECTOR, fat_sectors));
    fat.resize(fat_sectors * SECTOR / 4, FREE);

    let mut header = vec![0u8; SECTOR];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    header[24..26].copy_from_slice(&0x003Eu16.to_le_bytes());
    header[26..28].copy_from_slice(&3u16.to_le_bytes());
    header[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
    header[30..32].copy_from_slice(&9u16.to_le_bytes());
    header[32..34].copy_from_slice(&6u16.to_le_bytes());
    header[44..48].copy_from_slice(&(fat_sectors as u32).to_le_bytes());
    header[48..52].copy_from_slice(&dir_sector.to_le_bytes());
    header[56..60].copy_from_slice(&4096u32.to_le_bytes());
    header[60..64].copy_from_slice(&END_OF_CHAIN.to_le_bytes());
    header[68..72].copy_from_slice(&END_OF_CHAIN.to_le_bytes());
    for i in 0..109 {
        let v = if i < fat_sectors {
            first_fat + i as u32
        } else {
            FREE
        };
        header[76 + 4 * i..80 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    let mut out = header;
    out.extend_from_slice(&data);
    out.extend(dir_entry("Root Entry", 5, 1, END_OF_CHAIN, 0));
    out.extend(dir_entry(
        "Workbook",
        2,
        NO_STREAM,
        0,
        stream.len().max(4096) as u64,
    ));
    for _ in 0..2 {
        let mut empty = vec![0u8; 128];
        empty[68..80].fill(0xFF);
        out.extend(empty);
    }
    out.extend(fat.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// Write one sheet as an Excel 97-2003 workbook (`.xls`), whole, then renamed into place.
pub fn write_xls(path: &Path, sheet: &str, rows: &[Vec<XlsCell>]) -> Result<()> {
    let stream = workbook_stream(sheet, rows)?;
    crate::outlock::write_atomic(path, &compound_file(&stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sheets::{read_sheet, SheetOptions, Value};

    #[test]
    fn calamine_reads_what_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.xls");
        let mut rows = vec![vec![
            XlsCell::Text("Patient ID".into()),
            XlsCell::Text("File Name".into()),
            XlsCell::Text("Bi-Rads".into()),
            XlsCell::Text("Findings Notes (in Portuguese)".into()),
        ]];
        for i in 0..300 {
            rows.push(vec![
                XlsCell::Text("removed".into()),
                XlsCell::Number(22_678_622.0 + i as f64),
                if i % 3 == 0 {
                    XlsCell::Text("4a".into())
                } else {
                    XlsCell::Number(2.0)
                },
                if i % 2 == 0 {
                    XlsCell::Text("nódulo espiculado".into())
                } else {
                    XlsCell::Empty
                },
            ]);
        }
        write_xls(&p, "Sheet1", &rows).unwrap();
        let s = read_sheet(&p, "Sheet1", &SheetOptions::default()).unwrap();
        assert_eq!(
            s.columns,
            [
                "Patient ID",
                "File Name",
                "Bi-Rads",
                "Findings Notes (in Portuguese)"
            ]
        );
        assert_eq!(s.rows.len(), 300);
        assert_eq!(s.rows[0][0], Value::Text("removed".into()));
        assert_eq!(s.rows[0][1].to_text().as_deref(), Some("22678622"));
        assert_eq!(s.rows[0][2], Value::Text("4a".into()));
        assert_eq!(s.rows[1][2].to_text().as_deref(), Some("2"));
        assert_eq!(s.rows[0][3], Value::Text("nódulo espiculado".into()));
        assert_eq!(s.rows[1][3], Value::Empty);
        // A small sheet still lands in regular sectors.
        write_xls(&p, "Sheet1", &rows[..2]).unwrap();
        let s = read_sheet(&p, "Sheet1", &SheetOptions::default()).unwrap();
        assert_eq!(s.rows.len(), 1);
    }
}
