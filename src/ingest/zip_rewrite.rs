//! A zipped workbook copied in memory with one part rewritten: how [`super::xlsx_repair`]
//! and [`super::ods_repair`] hand calamine a workbook it can read. The file itself is never
//! written.

use std::io::{Cursor, Read, Seek, Write};

/// The parts of `zip` as a new zip in memory: `part` replaced by what `fix` makes of its
/// text (stored, not deflated), every other part copied as it is. Errors are one line
/// (a read failure names the part).
pub(crate) fn replace_part<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    part: &str,
    mut fix: impl FnMut(String) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = f.name().map_err(|e| e.to_string())?.to_string();
        if name != part {
            out.raw_copy_file(f).map_err(|e| e.to_string())?;
            continue;
        }
        let mut text = String::new();
        f.read_to_string(&mut text)
            .map_err(|e| format!("{name}: {e}"))?;
        let fixed = fix(text)?;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        out.start_file(name, options)
            .and_then(|_| out.write_all(&fixed).map_err(Into::into))
            .map_err(|e| e.to_string())?;
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}
