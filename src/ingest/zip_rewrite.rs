//! A zipped workbook copied in memory with one part rewritten: how [`super::xlsx_repair`]
//! and [`super::ods_repair`] hand calamine a workbook it can read, and how
//! [`super::xlsx_split`] hands each reader its piece of a sheet. The file itself is never
//! written.

use std::io::{Cursor, Read, Seek, Write};

/// The parts of `zip` as a new zip in memory: `part` replaced by what `fix` makes of its
/// text (stored, not deflated), every other part copied as it is. Errors are one line
/// (a read failure names the part).
pub(crate) fn replace_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    part: &str,
    fix: impl FnOnce(String) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let mut text = String::new();
    zip.by_name(part)
        .map_err(|e| e.to_string())?
        .read_to_string(&mut text)
        .map_err(|e| format!("{part}: {e}"))?;
    with_part(zip, part, &fix(text)?, |_| true)
}

/// The parts of `zip` as a new zip in memory: `part` holding `bytes` (stored, not
/// deflated), every other part for which `keep` says so copied as it is (still deflated).
pub(crate) fn with_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    part: &str,
    bytes: &[u8],
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, String> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() + (1 << 20))));
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| e.to_string())?;
        let name = f.name().map_err(|e| e.to_string())?.to_string();
        if name == part {
            drop(f);
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
                .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
            out.start_file(name, options)
                .and_then(|_| out.write_all(bytes).map_err(Into::into))
                .map_err(|e| e.to_string())?;
        } else if keep(&name) {
            out.raw_copy_file(f).map_err(|e| e.to_string())?;
        }
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}
