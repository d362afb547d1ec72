//! Study keys like seed 001's `UniqueKey` (`FILE0004-20141225-112603-DIT439120108`), exact
//! and normalised.
//!
//! The exact key joins each cell as the spreadsheet shows it, which is what
//! `df[cols].astype(str).agg('-'.join)` does in pandas: a time typed as `092603` in one
//! workbook and stored as the number 92603 in the other never matches. The normalised key
//! parses each part by its [`PartKind`] into one canonical form first.

use serde::Serialize;

use super::sheets::{excel_parts, number_text, Value};
use crate::calendar::{Date, Time};

/// How a key part is normalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PartKind {
    /// A date: `20141225`, `2014-12-25`, `2014/12/25`, `25.12.2014`, `25/12/2014`, an Excel
    /// date cell or serial number -> `20141225`.
    Date,
    /// A time of day: `112603`, `92603`, `092603`, `11:26:03`, `11:26`, an Excel time cell
    /// or fraction of a day -> `112603`.
    Time,
    /// An identifier: trimmed, upper case.
    Id,
    /// A file name: trimmed, upper case, folders and an image extension
    /// (`.dcm`, `.dicom`, `.jpg`, `.jpeg`, `.png`) removed.
    FileName,
}

impl PartKind {
    /// The kind a column name suggests: `*date*` -> Date, `*time*` -> Time, `*file*` or
    /// `*path*` -> FileName, anything else Id.
    pub fn guess(column: &str) -> Self {
        let c = column.to_lowercase();
        if c.contains("date") {
            PartKind::Date
        } else if c.contains("time") {
            PartKind::Time
        } else if c.contains("file") || c.contains("path") {
            PartKind::FileName
        } else {
            PartKind::Id
        }
    }

    /// The canonical form of `v`, or why it cannot be read as this kind.
    pub fn normalise(self, v: &Value) -> Result<String, String> {
        match self {
            PartKind::Date => date(v).map(|d| d.compact()),
            PartKind::Time => time(v).map(|t| t.compact()),
            PartKind::Id => text(v).map(|s| s.trim().to_uppercase()),
            PartKind::FileName => text(v).map(|s| file_stem(&s)),
        }
    }
}

fn text(v: &Value) -> Result<String, String> {
    v.to_text()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| "empty".to_string())
}

/// Upper-case file name without folders (either slash) or an image extension.
pub fn file_stem(s: &str) -> String {
    let name = s.trim().rsplit(['/', '\\']).next().unwrap_or("").trim();
    let upper = name.to_uppercase();
    for ext in [".DCM", ".DICOM", ".JPG", ".JPEG", ".PNG", ".PGM"] {
        if let Some(stem) = upper.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    upper
}

fn valid_date(y: i64, m: i64, d: i64) -> Option<Date> {
    let date = Date {
        y: y as i32,
        m: m as u32,
        d: d as u32,
    };
    ((1900..=2100).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
        && Date::from_days(date.to_days()) == date)
        .then_some(date)
}

fn date(v: &Value) -> Result<Date, String> {
    let bad = |s: &str| format!("`{s}` is not a date");
    match v {
        Value::Excel(s) => Ok(excel_parts(*s).0),
        Value::Int(_) | Value::Float(_) => {
            let f = v.as_f64().expect("number");
            if f.fract() != 0.0 {
                return Err(bad(&number_text(f)));
            }
            let n = f as i64;
            if (1..=80_000).contains(&n) {
                // An Excel serial that lost its date format.
                return Ok(excel_parts(f).0);
            }
            valid_date(n / 10000, n / 100 % 100, n % 100).ok_or_else(|| bad(&n.to_string()))
        }
        Value::Text(s) => {
            let t = s.trim();
            let parts: Vec<&str> = t.split(['-', '/', '.']).collect();
            let num = |p: &str| p.parse::<i64>().ok();
            let d = match parts.as_slice() {
                [one] if one.len() == 8 => {
                    num(one).and_then(|n| valid_date(n / 10000, n / 100 % 100, n % 100))
                }
                [a, b, c] if a.len() == 4 => valid_date(
                    num(a).unwrap_or(0),
                    num(b).unwrap_or(0),
                    num(c).unwrap_or(0),
                ),
                // Day first (European and Turkish exports write 25.12.2014 and 25/12/2014).
                [a, b, c] if c.len() == 4 => valid_date(
                    num(c).unwrap_or(0),
                    num(b).unwrap_or(0),
                    num(a).unwrap_or(0),
                ),
                _ => None,
            };
            d.ok_or_else(|| bad(t))
        }
        Value::Empty | Value::Error(_) => Err("empty".into()),
        Value::Bool(_) => Err("a boolean, not a date".into()),
    }
}

fn valid_time(h: i64, m: i64, s: i64) -> Option<Time> {
    ((0..24).contains(&h) && (0..60).contains(&m) && (0..60).contains(&s)).then_some(Time {
        h: h as u32,
        m: m as u32,
        s: s as u32,
    })
}

fn time(v: &Value) -> Result<Time, String> {
    let bad = |s: &str| format!("`{s}` is not a time of day");
    match v {
        Value::Excel(s) => Ok(excel_parts(*s).1),
        Value::Int(_) | Value::Float(_) => {
            let f = v.as_f64().expect("number");
            if (0.0..1.0).contains(&f) && f.fract() != 0.0 {
                return Ok(excel_parts(f).1);
            }
            // DICOM TM may carry fractional seconds: 112603.25.
            let n = f.trunc() as i64;
            valid_time(n / 10000, n / 100 % 100, n % 100).ok_or_else(|| bad(&number_text(f)))
        }
        Value::Text(s) => {
            let t = s.trim();
            let main = t.split('.').next().unwrap_or("");
            let parts: Vec<&str> = main.split(':').collect();
            let num = |p: &str| {
                p.parse::<i64>()
                    .ok()
                    .filter(|_| p.chars().all(|c| c.is_ascii_digit()))
            };
            let r = match parts.as_slice() {
                [one] if (1..=6).contains(&one.len()) => {
                    num(one).and_then(|n| valid_time(n / 10000, n / 100 % 100, n % 100))
                }
                [h, m] => valid_time(num(h).unwrap_or(-1), num(m).unwrap_or(-1), 0),
                [h, m, s] => valid_time(
                    num(h).unwrap_or(-1),
                    num(m).unwrap_or(-1),
                    num(s).unwrap_or(-1),
                ),
                _ => None,
            };
            r.ok_or_else(|| bad(t))
        }
        Value::Empty | Value::Error(_) => Err("empty".into()),
        Value::Bool(_) => Err("a boolean, not a time".into()),
    }
}

/// The exact key of a row: each part as the spreadsheet shows it, joined by `sep`
/// (an empty cell contributes `nan`, as in pandas).
pub fn exact_key(parts: &[&Value], sep: &str) -> String {
    parts
        .iter()
        .map(|v| v.to_text().unwrap_or_else(|| "nan".into()))
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn dates_in_every_form_agree() {
        let want = Ok("20141225".to_string());
        for v in [
            Value::Float(20141225.0),
            Value::Excel(41998.0),
            Value::Float(41998.0),
            t("2014-12-25"),
            t("2014/12/25"),
            t(" 25.12.2014 "),
            t("25/12/2014"),
            t("20141225"),
        ] {
            assert_eq!(PartKind::Date.normalise(&v), want, "{v:?}");
        }
        assert!(PartKind::Date.normalise(&t("2014-02-30")).is_err());
        assert!(PartKind::Date.normalise(&Value::Empty).is_err());
    }

    #[test]
    fn times_in_every_form_agree() {
        for (v, want) in [
            (Value::Float(112603.0), "112603"),
            (Value::Float(92603.0), "092603"),
            (t("092603"), "092603"),
            (t("9:26:03"), "092603"),
            (t("11:26"), "112600"),
            (t("112603.250"), "112603"),
            (Value::Excel(0.5), "120000"),
            (Value::Float(0.5), "120000"),
        ] {
            assert_eq!(PartKind::Time.normalise(&v), Ok(want.to_string()), "{v:?}");
        }
        assert!(PartKind::Time.normalise(&t("25:00:00")).is_err());
    }

    #[test]
    fn ids_and_file_names() {
        assert_eq!(
            PartKind::Id.normalise(&t("  dit439120108 ")),
            Ok("DIT439120108".into())
        );
        assert_eq!(
            PartKind::FileName.normalise(&t(r"C:\Users\x\Cancer\file0004.JPG")),
            Ok("FILE0004".into())
        );
        assert_eq!(PartKind::guess("StudyDate"), PartKind::Date);
        assert_eq!(PartKind::guess("PatientID.x"), PartKind::Id);
        assert_eq!(PartKind::guess("InputFileName"), PartKind::FileName);
        assert_eq!(
            exact_key(
                &[&t("FILE0004"), &Value::Float(20141225.0), &Value::Empty],
                "-"
            ),
            "FILE0004-20141225-nan"
        );
    }
}
