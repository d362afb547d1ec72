//! An `.ods` whose `content.xml` is indented, read anyway.
//!
//! calamine 0.38 expects nothing but cells between a row's cells, and takes a string cell's
//! value as every piece of text inside the cell. A `content.xml` written with indentation
//! (KOffice's KSpread writes one; odfpy ships such a file as
//! `tests/examples/pythagoras-kspread.ods`) has line breaks and spaces between a row's cells
//! and around a cell's paragraphs, and calamine refuses the whole workbook ("Expecting
//! 'table-cell', found Text"), where odfpy and pandas read it. In ODF a cell's text is its
//! paragraphs (`text:p`): whitespace that stands directly inside a `table:` element is layout,
//! not content. Such whitespace is dropped from `content.xml`, in memory, and the workbook is
//! read from that copy; text inside a paragraph is kept byte for byte. The file itself is
//! never written.
//!
//! The copy costs what calamine already holds: calamine reads `content.xml` whole when it
//! opens an `.ods`, and the part's inflated size was checked against
//! [`Limits::max_bytes`](super::limits::Limits::max_bytes) before either runs.

use std::io::Cursor;
use std::path::Path;

use quick_xml::events::Event;

/// The workbook at `path` as a zip in memory whose `content.xml` has no whitespace-only text
/// directly inside a `table:` element (see the module docs); every other part is copied as
/// it is. The error is one line for the user.
pub(crate) fn without_layout_whitespace(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut zip =
        zip::ZipArchive::new(Cursor::new(&bytes)).map_err(|e| format!("not a zip: {e}"))?;
    super::zip_rewrite::replace_part(&mut zip, "content.xml", |xml| {
        strip(xml.as_bytes()).map_err(|e| format!("content.xml: {e}"))
    })
}

/// `xml` with every whitespace-only text event whose parent element is a `table:` element
/// left out; every other event written back as it was read.
fn strip(xml: &[u8]) -> Result<Vec<u8>, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = false;
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len()));
    // For each open element, whether it is a `table:` element (only the innermost matters).
    let mut open: Vec<bool> = vec![];
    let mut buf = vec![];
    loop {
        buf.clear();
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} at byte {}", reader.error_position()))?;
        match &event {
            Event::Eof => break,
            Event::Start(e) => open.push(e.name().as_ref().starts_with("table:")),
            Event::End(_) => {
                open.pop();
            }
            Event::Text(t)
                if open.last() == Some(&true) && t.chars().all(|c| c.is_ascii_whitespace()) =>
            {
                continue
            }
            _ => {}
        }
        writer.write_event(event).map_err(|e| e.to_string())?;
    }
    Ok(writer.into_inner())
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn layout_whitespace_goes_and_paragraph_text_stays() {
        let xml = "<table:table table:name=\"S\">\n <table:table-row>\n  \
                   <table:table-cell office:value-type=\"string\">\n   \
                   <text:p> two  spaces </text:p>\n  </table:table-cell>\n  \
                   <table:table-cell/>\n </table:table-row>\n</table:table>";
        let out = String::from_utf8(strip(xml.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            out,
            "<table:table table:name=\"S\"><table:table-row>\
             <table:table-cell office:value-type=\"string\"><text:p> two  spaces </text:p>\
             </table:table-cell><table:table-cell/></table:table-row></table:table>"
        );
    }
}
