//! A worksheet calamine refuses because of one cell, read anyway.
//!
//! calamine 0.38 fails a whole `.xlsx` sheet when a cell typed as a number (`t="n"`) holds
//! text it cannot parse as one: readxl's own `datasets.xlsx` stores the `quakes` sheet's
//! numbers as `<v> 41</v>`, with a space, which openpyxl and Excel read as 41. Such a
//! workbook is repaired in memory, cell by cell, and read again: a number with blanks
//! around it becomes that number; any other text in a number cell is read as text. Every
//! changed cell is returned (cell, stored text, what it was read as) so that the reader
//! can say so ([`super::sheets::Sheet::warnings`]). The file itself is never written.

use std::io::{Cursor, Read};
use std::path::Path;

use calamine::{Data, Dimensions, Range, Reader, Xlsx};

use crate::error::{Error, Result};

/// A sheet's cells after the repair, its merged regions, and one note per changed cell.
pub(crate) struct Repaired {
    pub range: Range<Data>,
    pub merged: Vec<Dimensions>,
    pub notes: Vec<String>,
}

/// Read `sheet` of the workbook at `path` with its unparseable number cells repaired.
pub(crate) fn read(path: &Path, sheet: &str) -> Result<Repaired> {
    let err = |m: String| Error::data(path, format!("sheet `{sheet}`: {m}"));
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let mut zip =
        zip::ZipArchive::new(Cursor::new(&bytes)).map_err(|e| err(format!("not a zip: {e}")))?;
    let part = sheet_part(&mut zip, sheet).map_err(err)?;
    let mut notes = vec![];
    let repaired = super::zip_rewrite::replace_part(&mut zip, &part, |xml| {
        let (fixed, changed) = repair_numbers(&xml);
        notes = changed;
        Ok(fixed.into_bytes())
    })
    .map_err(err)?;
    let mut wb = Xlsx::new(Cursor::new(repaired)).map_err(|e| err(e.to_string()))?;
    let limits = crate::ingest::limits::Limits::current();
    let range = match crate::ingest::sheet_bounds::xlsx_range(&mut wb, sheet, &limits) {
        Ok(range) => range,
        Err(crate::ingest::sheet_bounds::RangeError::Calamine(e)) => {
            return Err(err(e.to_string()))
        }
        Err(crate::ingest::sheet_bounds::RangeError::Limit(m)) => return Err(Error::data(path, m)),
    };
    let merged = wb.merge_cells_by_sheet_name(sheet).unwrap_or_default();
    Ok(Repaired {
        range,
        merged,
        notes,
    })
}

/// The zip part (`xl/worksheets/sheet4.xml`) of the sheet named `sheet`, from
/// `xl/workbook.xml` (name -> relationship id) and its relationships (id -> target).
pub(crate) fn sheet_part<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    sheet: &str,
) -> std::result::Result<String, String> {
    let mut text = |name: &str| -> std::result::Result<String, String> {
        let mut s = String::new();
        zip.by_name(name)
            .map_err(|e| format!("{name}: {e}"))?
            .read_to_string(&mut s)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(s)
    };
    let workbook = text("xl/workbook.xml")?;
    let rels = text("xl/_rels/workbook.xml.rels")?;
    let id = tags(&workbook, "sheet")
        .find(|t| attr(t, "name").is_some_and(|n| unescape(&n) == sheet))
        .and_then(|t| attr(t, "r:id"))
        .ok_or("not listed in xl/workbook.xml")?;
    let target = tags(&rels, "Relationship")
        .find(|t| attr(t, "Id").as_deref() == Some(&id))
        .and_then(|t| attr(t, "Target"))
        .ok_or_else(|| format!("relationship {id} not in xl/_rels/workbook.xml.rels"))?;
    Ok(match target.strip_prefix('/') {
        Some(absolute) => absolute.to_string(),
        None => format!("xl/{target}"),
    })
}

/// The start tags `<name ...>` in `xml` (their text between `<` and `>`).
fn tags<'a>(xml: &'a str, name: &str) -> impl Iterator<Item = &'a str> {
    let open = format!("<{name} ");
    let found: Vec<&'a str> = xml
        .match_indices(&open)
        .filter_map(|(i, _)| Some(&xml[i + 1..i + xml[i..].find('>')?]))
        .collect();
    found.into_iter()
}

/// The value of attribute `name` in a start tag's text.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(tag[start..start + len].to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `xml` with every number cell (`<c ... t="n">`) whose `<v>` does not parse as a number
/// made readable: trimmed when the trimmed text is a number, else typed as a string
/// (`t="str"`); and a note for each (`E2: number stored as " 41", read as 41`).
fn repair_numbers(xml: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(xml.len());
    let mut notes = vec![];
    let mut rest = xml;
    while let Some(i) = rest.find("<c ") {
        let Some(tag_len) = rest[i..].find('>') else {
            break;
        };
        let tag = &rest[i..i + tag_len + 1];
        let body_end = if tag.ends_with("/>") {
            None
        } else {
            rest[i..].find("</c>").map(|e| i + e)
        };
        let (Some(end), Some("n")) = (body_end, attr(tag, "t").as_deref()) else {
            out.push_str(&rest[..i + tag.len()]);
            rest = &rest[i + tag.len()..];
            continue;
        };
        let body = &rest[i + tag.len()..end];
        let value = body
            .find("<v>")
            .and_then(|a| body[a + 3..].find("</v>").map(|b| (a + 3, a + 3 + b)));
        out.push_str(&rest[..i]);
        match value {
            Some((a, b)) if body[a..b].parse::<f64>().is_err() => {
                let stored = &body[a..b];
                let cell = attr(tag, "r").unwrap_or_else(|| "?".into());
                let trimmed = stored.trim();
                if trimmed.parse::<f64>().is_ok() {
                    notes.push(format!(
                        "{cell}: number stored as \"{stored}\", read as {trimmed}"
                    ));
                    out.push_str(tag);
                    out.push_str(&body[..a]);
                    out.push_str(trimmed);
                    out.push_str(&body[b..]);
                } else {
                    notes.push(format!(
                        "{cell}: number cell holds \"{}\", read as text",
                        unescape(stored)
                    ));
                    out.push_str(&tag.replacen(" t=\"n\"", " t=\"str\"", 1));
                    out.push_str(body);
                }
            }
            _ => {
                out.push_str(tag);
                out.push_str(body);
            }
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::repair_numbers;

    #[test]
    fn number_cells_are_trimmed_or_read_as_text() {
        let xml = r#"<row><c r="A1" t="n"><v> 41</v></c><c r="B1" t="n"><v>4.5</v></c><c r="C1" t="n"><v>n/a</v></c><c r="D1" t="s"><v>0</v></c><c r="E1" s="1"/><c r="F1" t="n"><v>7 </v></c></row>"#;
        let (fixed, notes) = repair_numbers(xml);
        assert_eq!(
            fixed,
            r#"<row><c r="A1" t="n"><v>41</v></c><c r="B1" t="n"><v>4.5</v></c><c r="C1" t="str"><v>n/a</v></c><c r="D1" t="s"><v>0</v></c><c r="E1" s="1"/><c r="F1" t="n"><v>7</v></c></row>"#
        );
        assert_eq!(
            notes,
            [
                r#"A1: number stored as " 41", read as 41"#,
                r#"C1: number cell holds "n/a", read as text"#,
                r#"F1: number stored as "7 ", read as 7"#,
            ]
        );
        let clean = r#"<c r="A1" t="n"><v>1</v></c>"#;
        assert_eq!(repair_numbers(clean), (clean.to_string(), vec![]));
    }
}
