//! seed 001's merge done right: labelled sheets matched to the image listing by study key,
//! every row and every image file accounted for in an audit.
//!
//! For the manifest's merge sheet (seed 001: `Cancer`) each row is matched to the listing
//! (`data_validation_x`) by its key: first exactly as pandas would, then after normalising
//! each key part ([`key`](super::key)). Rows that still have no counterpart are explained:
//! a near miss names the key part that differs, a duplicate key names the other row.
//! Listing rows are accounted for the same way. Rows of the other labelled sheets have no
//! listing; they are matched when their image file is found.
//!
//! Every row's images are then resolved in the [`ImageIndex`] (through the listing's
//! Windows path when there is one, else by file name), and each DICOM header is checked
//! against its row: patient id, study date and time, and (from the listing) laterality and
//! view. Image files that no row refers to are listed too.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::dicom::read_header;
use super::index::{ImageIndex, Lookup};
use super::key::{exact_key, PartKind};
use super::sheets::{read_sheet, Sheet, SheetOptions, Value};
use crate::manifest::{LabelRule, Manifest};
use crate::{Error, Result};

/// Status of an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The row's key equals its counterpart's exactly (seed 001's merge finds it).
    Exact,
    /// The keys agree after normalisation only (seed 001's merge lost it).
    Normalised,
    /// A row of a sheet without listing whose image file was found.
    ImageFound,
    /// No counterpart, or no image; `reason` says why.
    Unmatched,
    /// A DICOM header disagrees with its row (one entry per disagreeing tag).
    HeaderMismatch,
    /// An image file that no row refers to, or that cannot be read.
    File,
}

impl Status {
    /// The name the audit tables use (`exact`, `normalised`, `unmatched`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Exact => "exact",
            Status::Normalised => "normalised",
            Status::ImageFound => "image_found",
            Status::Unmatched => "unmatched",
            Status::HeaderMismatch => "header_mismatch",
            Status::File => "file",
        }
    }

    /// Whether a row with this status counts as matched.
    pub fn is_match(self) -> bool {
        matches!(
            self,
            Status::Exact | Status::Normalised | Status::ImageFound
        )
    }
}

/// One line of the audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Workbook file name (empty for file entries).
    pub workbook: String,
    /// Sheet name (empty for file entries).
    pub sheet: String,
    /// Row as the spreadsheet shows it (header = row 1); 0 for file entries.
    pub row: u32,
    /// The exact key (empty for file entries).
    pub key: String,
    /// What happened.
    pub status: Status,
    /// Why, in words (empty for exact matches).
    pub reason: String,
    /// Row of the counterpart in the other workbook, if any.
    pub counterpart_row: Option<u32>,
    /// The file concerned (resolved DICOM, or the file of a file entry).
    pub file: Option<String>,
}

/// Counts of one sheet (rows = matched + unmatched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SheetCounts {
    /// Data rows.
    pub rows: usize,
    /// Rows matched.
    pub matched: usize,
    /// Rows not matched.
    pub unmatched: usize,
}

/// Image resolution counts over all labelled rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImageCounts {
    /// Rows whose image was found exactly once.
    pub resolved: usize,
    /// Rows whose image was not found.
    pub missing: usize,
    /// Rows whose image name exists in more than one folder.
    pub duplicates: usize,
}

/// An unmatched row, as `mammolab merge --json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unmatched {
    /// Sheet.
    pub sheet: String,
    /// Row (header = 1).
    pub row: u32,
    /// Exact key.
    pub key: String,
    /// Why it has no counterpart.
    pub reason: String,
}

/// The JSON summary of a merge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeSummary {
    /// Per sheet (labelled sheets and the listing).
    pub sheets: BTreeMap<String, SheetCounts>,
    /// Every unmatched row.
    pub unmatched: Vec<Unmatched>,
    /// Image resolution.
    pub images: ImageCounts,
}

/// One labelled row with its class, key and images: the input of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Sheet.
    pub sheet: String,
    /// Row (header = 1).
    pub row: u32,
    /// Class from the sheet's label rule.
    pub label: String,
    /// Patient id (normalised), for patient-grouped splits.
    pub patient_id: String,
    /// Normalised key.
    pub key: String,
    /// Status of the row's match.
    pub status: Status,
    /// Row of the listing counterpart, if any.
    pub listing_row: Option<u32>,
    /// The DICOM file, relative to the manifest folder.
    pub dicom: Option<PathBuf>,
    /// The JPG export, relative to the manifest folder.
    pub jpg: Option<PathBuf>,
    /// Laterality from the listing, if matched.
    pub laterality: Option<String>,
    /// View from the listing, if matched.
    pub view: Option<String>,
}

/// Everything a merge produces.
#[derive(Debug, Clone)]
pub struct MergeResult {
    /// One record per labelled row.
    pub records: Vec<Record>,
    /// Every row of every input and every unreferenced or unreadable file.
    pub audit: Vec<AuditEntry>,
    /// The counts.
    pub summary: MergeSummary,
    /// Merge-sheet rows matched to the listing, all columns of both (listing columns that
    /// clash get the suffix `_listing`), plus `match` and `image_path`.
    pub merged: DataFrame,
}

struct Keyed {
    exact: Vec<String>,
    norm: Vec<Result<Vec<String>, String>>,
}

fn key_columns(sheet: &Sheet, columns: &[String]) -> Result<Vec<usize>> {
    columns.iter().map(|c| sheet.column_index(c)).collect()
}

fn keyed(sheet: &Sheet, cols: &[usize], kinds: &[PartKind], names: &[String], sep: &str) -> Keyed {
    let mut k = Keyed {
        exact: vec![],
        norm: vec![],
    };
    for r in &sheet.rows {
        let parts: Vec<&Value> = cols.iter().map(|&c| &r[c]).collect();
        k.exact.push(exact_key(&parts, sep));
        k.norm.push(
            parts
                .iter()
                .zip(kinds)
                .zip(names)
                .map(|((v, kind), name)| kind.normalise(v).map_err(|e| format!("{name} {e}")))
                .collect(),
        );
    }
    k
}

/// Rows (indices) per readable normalised key.
fn by_normalised_key(k: &Keyed) -> HashMap<&[String], Vec<usize>> {
    let mut m: HashMap<&[String], Vec<usize>> = HashMap::new();
    for (i, n) in k.norm.iter().enumerate() {
        if let Ok(n) = n {
            m.entry(n.as_slice()).or_default().push(i);
        }
    }
    m
}

fn workbook_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Merge a cohort described by a manifest.
pub fn merge(manifest: &Manifest) -> Result<MergeResult> {
    let merr = |m: String| Error::Manifest {
        manifest: manifest.source.clone(),
        message: m,
    };
    let key = manifest
        .key
        .as_ref()
        .ok_or_else(|| merr("no [key] section".into()))?;
    let names = &key.columns;
    let kinds: Vec<PartKind> = names.iter().map(|c| PartKind::guess(c)).collect();
    let sep = key.separator.as_str();
    let table_path = |id: &str| -> Result<PathBuf> {
        manifest
            .table(id)
            .map(|t| manifest.resolve(&t.path))
            .ok_or_else(|| merr(format!("no table `{id}`")))
    };
    // Read the labelled sheets and the listing in parallel (each is its own workbook parse).
    let read_listing = || -> Result<Option<(&crate::manifest::Merge, Sheet)>> {
        match &manifest.merge {
            Some(m) => {
                let path = table_path(&m.listing)?;
                Ok(Some((
                    m,
                    read_sheet(path, &m.listing_sheet, &SheetOptions::default())?,
                )))
            }
            None => Ok(None),
        }
    };
    let read_labelled = || -> Result<Vec<Sheet>> {
        manifest
            .sheets
            .par_iter()
            .map(|s| read_sheet(table_path(&s.table)?, &s.name, &SheetOptions::default()))
            .collect()
    };
    let (sheets, listing) = rayon::join(read_labelled, read_listing);
    let (sheets, listing) = (sheets?, listing?);

    // The image index over every root.
    let roots: Vec<PathBuf> = manifest
        .image_roots
        .iter()
        .map(|r| r.path.clone())
        .collect();
    let mut exts: Vec<String> = manifest
        .image_roots
        .iter()
        .flat_map(|r| r.formats.iter().map(|f| f.to_lowercase()))
        .collect();
    exts.sort();
    exts.dedup();
    let index = ImageIndex::build(&manifest.base_dir, &roots, &exts)?;

    let mut audit: Vec<AuditEntry> = vec![];
    let mut records: Vec<Record> = vec![];
    let mut counts: BTreeMap<String, SheetCounts> = BTreeMap::new();
    let mut img_counts = ImageCounts {
        resolved: 0,
        missing: 0,
        duplicates: 0,
    };

    // Listing keys, and the listing's key columns.
    let (listing_keys, lcols) = match &listing {
        Some((_, l)) => {
            let cols = key_columns(l, names)?;
            (Some(keyed(l, &cols, &kinds, names, sep)), cols)
        }
        None => (None, vec![]),
    };
    let listing_by_norm = listing_keys
        .as_ref()
        .map(by_normalised_key)
        .unwrap_or_default();
    let mut listing_matched: Vec<Option<(String, u32)>> = listing_keys
        .as_ref()
        .map(|lk| vec![None; lk.exact.len()])
        .unwrap_or_default();
    let mut merged_pairs: Vec<(usize, usize, Status)> = vec![]; // (sheet row idx, listing idx)
    let merge_sheet = manifest.merge.as_ref().map(|m| m.sheet.clone());
    let mut merge_sheet_idx = None;
    let mut merge_keys: Option<Keyed> = None;

    for (si, (spec, sheet)) in manifest.sheets.iter().zip(&sheets).enumerate() {
        let cols = key_columns(sheet, names)?;
        let k = keyed(sheet, &cols, &kinds, names, sep);
        let wb = workbook_name(&sheet.file);
        let is_merge = merge_sheet.as_deref() == Some(sheet.name.as_str()) && listing.is_some();
        if is_merge {
            merge_sheet_idx = Some(si);
        }
        // Duplicate keys within the sheet.
        let by_norm = by_normalised_key(&k);
        let root = spec
            .image_root
            .as_ref()
            .and_then(|id| manifest.image_roots.iter().find(|r| &r.id == id));
        let file_col = root
            .and_then(|r| r.file_column.as_ref())
            .map(|c| sheet.column_index(c))
            .transpose()?;
        let label_of = |r: usize| -> Result<String> {
            Ok(match &spec.label {
                None => String::new(),
                Some(LabelRule::Constant { class }) => class.clone(),
                Some(LabelRule::Column {
                    column,
                    positive,
                    positive_class,
                    negative_class,
                }) => {
                    let c = sheet.column_index(column)?;
                    let v = sheet.rows[r][c].to_text().unwrap_or_default();
                    if positive.iter().any(|p| p == v.trim()) {
                        positive_class.clone()
                    } else {
                        negative_class.clone()
                    }
                }
                Some(LabelRule::FileName { contains }) => {
                    let f = file_col
                        .map(|c| sheet.rows[r][c].to_text().unwrap_or_default())
                        .unwrap_or_default();
                    contains
                        .iter()
                        .find(|(s, _)| f.contains(s.as_str()))
                        .map(|(_, c)| c.clone())
                        .unwrap_or_default()
                }
            })
        };
        let patient_part = kinds
            .iter()
            .zip(names)
            .position(|(k, n)| *k == PartKind::Id && n.to_lowercase().contains("patient"));
        let mut c = SheetCounts {
            rows: sheet.rows.len(),
            matched: 0,
            unmatched: 0,
        };
        for r in 0..sheet.rows.len() {
            let row_no = sheet.row_numbers[r];
            let norm_key = k.norm[r].as_ref().map(|v| v.join(sep)).unwrap_or_default();
            let (mut status, mut reason, mut counterpart) =
                (Status::Unmatched, String::new(), None);
            let dup: Vec<u32> = k.norm[r]
                .as_ref()
                .ok()
                .and_then(|n| by_norm.get(n.as_slice()))
                .map(|v| {
                    v.iter()
                        .filter(|&&o| o != r)
                        .map(|&o| sheet.row_numbers[o])
                        .collect()
                })
                .unwrap_or_default();
            let mut listing_idx = None;
            if is_merge {
                let (_, l) = listing.as_ref().expect("merge has a listing");
                let lk = listing_keys.as_ref().expect("listing keys");
                match &k.norm[r] {
                    Err(e) => reason = format!("key unreadable: {e}"),
                    Ok(n) => match listing_by_norm.get(n.as_slice()) {
                        Some(ls) if dup.is_empty() => {
                            let li = ls[0];
                            listing_idx = Some(li);
                            counterpart = Some(l.row_numbers[li]);
                            if lk.exact[li] == k.exact[r] {
                                status = Status::Exact;
                            } else {
                                status = Status::Normalised;
                                let differ: Vec<String> = (0..names.len())
                                    .filter(|&p| sheet.rows[r][cols[p]].to_text() != l.rows[li][lcols[p]].to_text())
                                    .map(|p| format!("{} `{}` vs `{}`", names[p], sheet.rows[r][cols[p]].to_text().unwrap_or_default(), l.rows[li][lcols[p]].to_text().unwrap_or_default()))
                                    .collect();
                                reason = format!("formatting differs: {}", differ.join("; "));
                            }
                            if ls.len() > 1 {
                                reason = format!(
                                    "{}listing has this key {} times (rows {})",
                                    if reason.is_empty() { String::new() } else { format!("{reason}; ") },
                                    ls.len(),
                                    ls.iter().map(|&i| l.row_numbers[i].to_string()).collect::<Vec<_>>().join(", ")
                                );
                            }
                            for &li in ls {
                                listing_matched[li] = Some((sheet.name.clone(), row_no));
                            }
                            merged_pairs.push((r, li, status));
                        }
                        Some(_) => {
                            reason = format!(
                                "duplicate key: rows {} of `{}` share it, so the listing row cannot be assigned",
                                std::iter::once(row_no).chain(dup.iter().copied()).map(|x| x.to_string()).collect::<Vec<_>>().join(", "),
                                sheet.name
                            )
                        }
                        None => {
                            reason = near_miss(n, lk, l, names);
                            if !dup.is_empty() {
                                reason = format!("{reason}; duplicate key (also row {})", dup.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
                            }
                        }
                    },
                }
            }
            // Images: through the listing's path when matched, else by file name.
            let path_col = manifest.merge.as_ref().and_then(|m| m.path_column.clone());
            let lookup = |ext: &str| -> Lookup {
                if let (Some(li), Some(pc), Some((_, l))) = (listing_idx, &path_col, &listing) {
                    if let Ok(c) = l.column_index(pc) {
                        if let Some(p) = l.rows[li][c].to_text() {
                            let found = index.by_foreign_path(&p, ext);
                            if found != Lookup::Missing {
                                return found;
                            }
                        }
                    }
                }
                match file_col.and_then(|c| sheet.rows[r][c].to_text()) {
                    Some(name) => index.by_file_name(&name, ext),
                    None => Lookup::Missing,
                }
            };
            let dcm = lookup("dcm");
            let jpg = lookup("jpg");
            let image = if exts.iter().any(|e| e == "dcm") {
                &dcm
            } else {
                &jpg
            };
            match image {
                Lookup::Found(_) => img_counts.resolved += 1,
                Lookup::Missing => img_counts.missing += 1,
                Lookup::Ambiguous(_) => img_counts.duplicates += 1,
            }
            let earlier = dup.iter().copied().filter(|&o| o < row_no).min();
            if !is_merge && earlier.is_some() {
                // The same study twice: keep the first row, so one image is not counted
                // (or split) twice.
                reason = format!(
                    "duplicate key: same study as row {}, kept there",
                    earlier.unwrap_or(0)
                );
            } else if !is_merge {
                if !dup.is_empty() {
                    reason = format!(
                        "duplicate key: row {} repeats this study (this row is kept)",
                        dup.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                match image {
                    Lookup::Found(_) => status = Status::ImageFound,
                    Lookup::Missing => reason = "image file not found".into(),
                    Lookup::Ambiguous(v) => {
                        reason = format!(
                            "image name found {} times: {}",
                            v.len(),
                            v.iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                }
            }
            if status.is_match() {
                c.matched += 1;
            } else {
                c.unmatched += 1;
            }
            // The row's own column, else its listing counterpart's.
            let own_or_listing = |col: &str| -> Option<String> {
                if let Ok(ci) = sheet.column_index(col) {
                    return sheet.rows[r][ci].to_text();
                }
                let (_, l) = listing.as_ref()?;
                let li = listing_idx?;
                l.column_index(col)
                    .ok()
                    .and_then(|ci| l.rows[li][ci].to_text())
            };
            audit.push(AuditEntry {
                workbook: wb.clone(),
                sheet: sheet.name.clone(),
                row: row_no,
                key: k.exact[r].clone(),
                status,
                reason,
                counterpart_row: counterpart,
                file: image.found().map(|p| p.display().to_string()),
            });
            records.push(Record {
                sheet: sheet.name.clone(),
                row: row_no,
                label: label_of(r)?,
                patient_id: patient_part
                    .and_then(|p| k.norm[r].as_ref().ok().map(|n| n[p].clone()))
                    .unwrap_or_default(),
                key: norm_key,
                status,
                listing_row: counterpart,
                dicom: dcm.found().map(Path::to_path_buf),
                jpg: jpg.found().map(Path::to_path_buf),
                laterality: own_or_listing("Laterality"),
                view: own_or_listing("ViewPosition"),
            });
        }
        counts.insert(sheet.name.clone(), c);
        if is_merge {
            merge_keys = Some(k);
        }
    }

    // Listing rows.
    if let (Some((_, l)), Some(lk)) = (&listing, &listing_keys) {
        let wb = workbook_name(&l.file);
        // The merge sheet's keys, as computed while matching its rows.
        let merge_rows: Option<(&Sheet, Keyed)> = merge_sheet_idx
            .zip(merge_keys)
            .map(|(i, k)| (&sheets[i], k));
        let mut c = SheetCounts {
            rows: l.rows.len(),
            matched: 0,
            unmatched: 0,
        };
        for (i, matched) in listing_matched.iter().enumerate() {
            let (status, reason, counterpart) = match (matched, &lk.norm[i]) {
                (Some((_, row)), _) => (
                    if merged_pairs
                        .iter()
                        .any(|&(_, li, s)| li == i && s == Status::Exact)
                    {
                        Status::Exact
                    } else {
                        Status::Normalised
                    },
                    String::new(),
                    Some(*row),
                ),
                (None, Err(e)) => (Status::Unmatched, format!("key unreadable: {e}"), None),
                (None, Ok(n)) => {
                    let same = listing_by_norm
                        .get(n.as_slice())
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    let reason = match &merge_rows {
                        _ if same.len() > 1 => format!(
                            "duplicate key (rows {})",
                            same.iter()
                                .map(|&j| l.row_numbers[j].to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Some((s, mk)) => {
                            format!("no row in `{}`: {}", s.name, near_miss(n, mk, s, names))
                        }
                        None => "no labelled sheet to match".into(),
                    };
                    (Status::Unmatched, reason, None)
                }
            };
            if status.is_match() {
                c.matched += 1;
            } else {
                c.unmatched += 1;
            }
            audit.push(AuditEntry {
                workbook: wb.clone(),
                sheet: l.name.clone(),
                row: l.row_numbers[i],
                key: lk.exact[i].clone(),
                status,
                reason,
                counterpart_row: counterpart,
                file: None,
            });
        }
        counts.insert(l.name.clone(), c);
    }

    // DICOM headers against rows, in parallel.
    let checks: Vec<Vec<AuditEntry>> = records
        .par_iter()
        .map(|rec| header_check(manifest, rec, names, &kinds, sep))
        .collect();
    audit.extend(checks.into_iter().flatten());

    // Files nobody refers to (and duplicates of referenced ones).
    let mut referenced: std::collections::HashSet<&Path> = std::collections::HashSet::new();
    for r in &records {
        referenced.extend(r.dicom.as_deref());
        referenced.extend(r.jpg.as_deref());
    }
    for f in &index.files {
        if !referenced.contains(f.as_path()) {
            audit.push(AuditEntry {
                workbook: String::new(),
                sheet: String::new(),
                row: 0,
                key: String::new(),
                status: Status::File,
                reason: "no row refers to this file".into(),
                counterpart_row: None,
                file: Some(f.display().to_string()),
            });
        }
    }

    let unmatched = audit
        .iter()
        .filter(|a| a.status == Status::Unmatched)
        .map(|a| Unmatched {
            sheet: a.sheet.clone(),
            row: a.row,
            key: a.key.clone(),
            reason: a.reason.clone(),
        })
        .collect();
    let merged = merged_frame(
        &sheets,
        merge_sheet_idx,
        listing.as_ref().map(|(_, l)| l),
        &merged_pairs,
        &records,
    )?;
    Ok(MergeResult {
        records,
        audit,
        summary: MergeSummary {
            sheets: counts,
            unmatched,
            images: img_counts,
        },
        merged,
    })
}

/// Why a normalised key has no counterpart: the closest key on the other side that
/// differs in one part, or "no counterpart".
fn near_miss(key: &[String], other: &Keyed, sheet: &Sheet, names: &[String]) -> String {
    let mut best: Option<(usize, usize)> = None; // (parts differing, row index)
    for (i, o) in other.norm.iter().enumerate() {
        if let Ok(o) = o {
            let d = o.iter().zip(key).filter(|(a, b)| a != b).count();
            if d == 1 && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, i));
            }
        }
    }
    match best {
        Some((_, i)) => {
            let o = other.norm[i].as_ref().expect("ok key");
            let p = o
                .iter()
                .zip(key)
                .position(|(a, b)| a != b)
                .expect("one part differs");
            format!(
                "near miss: {} differs from row {} of `{}` (`{}` vs `{}`)",
                names[p], sheet.row_numbers[i], sheet.name, key[p], o[p]
            )
        }
        None => "no counterpart".into(),
    }
}

fn header_check(
    manifest: &Manifest,
    rec: &Record,
    names: &[String],
    kinds: &[PartKind],
    sep: &str,
) -> Vec<AuditEntry> {
    let Some(dcm) = &rec.dicom else { return vec![] };
    let entry = |status: Status, reason: String| AuditEntry {
        workbook: String::new(),
        sheet: rec.sheet.clone(),
        row: rec.row,
        key: rec.key.clone(),
        status,
        reason,
        counterpart_row: rec.listing_row,
        file: Some(dcm.display().to_string()),
    };
    let h = match read_header(manifest.resolve(dcm)) {
        Ok(h) => h,
        Err(e) => return vec![entry(Status::File, format!("unreadable DICOM: {e}"))],
    };
    let parts: Vec<&str> = rec.key.split(sep).collect();
    let mut out = vec![];
    if let Some(t) = &h.truncated {
        out.push(entry(Status::File, format!("unreadable DICOM: {t}")));
    }
    for (p, (name, kind)) in names.iter().zip(kinds).enumerate() {
        let (tag, value) = match kind {
            PartKind::Date => ("StudyDate (0008,0020)", &h.study_date),
            PartKind::Time => ("StudyTime (0008,0030)", &h.study_time),
            PartKind::Id if name.to_lowercase().contains("patient") => {
                ("PatientID (0010,0020)", &h.patient_id)
            }
            _ => continue,
        };
        let want = parts.get(p).copied().unwrap_or("");
        let got = value.as_ref().map(|v| {
            kind.normalise(&Value::Text(v.clone()))
                .unwrap_or_else(|_| v.clone())
        });
        if got.as_deref() != Some(want) {
            out.push(entry(
                Status::HeaderMismatch,
                format!(
                    "{tag} is `{}` but {name} says `{want}`",
                    value.clone().unwrap_or_default()
                ),
            ));
        }
    }
    for (tag, value, want) in [
        (
            "ImageLaterality (0020,0062)",
            &h.laterality,
            &rec.laterality,
        ),
        ("ViewPosition (0018,5101)", &h.view, &rec.view),
    ] {
        if let (Some(v), Some(w)) = (value, want) {
            if v.trim().to_uppercase() != w.trim().to_uppercase() {
                out.push(entry(
                    Status::HeaderMismatch,
                    format!("{tag} is `{v}` but the sheet says `{w}`"),
                ));
            }
        }
    }
    out
}

fn merged_frame(
    sheets: &[Sheet],
    merge_sheet: Option<usize>,
    listing: Option<&Sheet>,
    pairs: &[(usize, usize, Status)],
    records: &[Record],
) -> Result<DataFrame> {
    let (Some(si), Some(l)) = (merge_sheet, listing) else {
        return Ok(DataFrame::empty());
    };
    let s = &sheets[si];
    let pick =
        |sheet: &Sheet, rows: Vec<usize>, suffix: &str, taken: &[String]| -> Result<Vec<Column>> {
            let sub = Sheet {
                rows: rows.iter().map(|&r| sheet.rows[r].clone()).collect(),
                row_numbers: rows.iter().map(|&r| sheet.row_numbers[r]).collect(),
                ..sheet.clone()
            };
            let df = sub.to_dataframe()?;
            Ok(df
                .columns()
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if taken.iter().any(|t| t.as_str() == c.name().as_str()) {
                        c.rename(format!("{}{suffix}", c.name()).into());
                    }
                    c
                })
                .collect())
        };
    let mut cols = pick(s, pairs.iter().map(|p| p.0).collect(), "", &[])?;
    let taken: Vec<String> = s.columns.clone();
    cols.extend(pick(
        l,
        pairs.iter().map(|p| p.1).collect(),
        "_listing",
        &taken,
    )?);
    let base = records.iter().position(|r| r.sheet == s.name).unwrap_or(0);
    cols.push(Column::new(
        "match".into(),
        pairs.iter().map(|p| p.2.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "image_path".into(),
        pairs
            .iter()
            .map(|p| {
                records[base + p.0]
                    .dicom
                    .as_ref()
                    .or(records[base + p.0].jpg.as_ref())
                    .map(|f| f.display().to_string())
            })
            .collect::<Vec<_>>(),
    ));
    DataFrame::new(pairs.len(), cols).map_err(|e| Error::table("merged table", e))
}

/// Audit lines as a table: workbook, sheet, row, key, status, reason, counterpart_row, file.
fn audit_rows(a: &[&AuditEntry]) -> Result<DataFrame> {
    df!(
        "workbook" => a.iter().map(|e| e.workbook.as_str()).collect::<Vec<_>>(),
        "sheet" => a.iter().map(|e| e.sheet.as_str()).collect::<Vec<_>>(),
        "row" => a.iter().map(|e| e.row).collect::<Vec<_>>(),
        "key" => a.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
        "status" => a.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
        "reason" => a.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
        "counterpart_row" => a.iter().map(|e| e.counterpart_row).collect::<Vec<_>>(),
        "file" => a.iter().map(|e| e.file.as_deref()).collect::<Vec<_>>(),
    )
    .map_err(|e| Error::table("audit", e))
}

impl MergeResult {
    /// The audit as a DataFrame: `workbook, sheet, row, key, status, reason,
    /// counterpart_row, file`.
    pub fn audit_frame(&self) -> Result<DataFrame> {
        audit_rows(&self.audit.iter().collect::<Vec<_>>())
    }

    /// The audit lines whose status is one of `statuses`, as [`MergeResult::audit_frame`]
    /// has them: e.g. `&[Status::Unmatched]` for the rows that found nothing.
    pub fn audit_frame_of(&self, statuses: &[Status]) -> Result<DataFrame> {
        let keep: Vec<&AuditEntry> = self
            .audit
            .iter()
            .filter(|e| statuses.contains(&e.status))
            .collect();
        audit_rows(&keep)
    }

    /// How many audit lines each sheet (or `files`) has per status: one row per sheet, one
    /// column per status, and `total`.
    pub fn status_frame(&self) -> Result<DataFrame> {
        const ALL: [Status; 6] = [
            Status::Exact,
            Status::Normalised,
            Status::ImageFound,
            Status::Unmatched,
            Status::HeaderMismatch,
            Status::File,
        ];
        let mut counts: BTreeMap<String, [u32; 6]> = BTreeMap::new();
        for e in &self.audit {
            let name = if e.sheet.is_empty() {
                "(files)".to_string()
            } else {
                e.sheet.clone()
            };
            let i = ALL.iter().position(|s| *s == e.status).expect("listed");
            counts.entry(name).or_default()[i] += 1;
        }
        let mut cols = vec![Column::new(
            "sheet".into(),
            counts.keys().cloned().collect::<Vec<_>>(),
        )];
        for (i, s) in ALL.iter().enumerate() {
            cols.push(Column::new(
                s.as_str().into(),
                counts.values().map(|c| c[i]).collect::<Vec<_>>(),
            ));
        }
        cols.push(Column::new(
            "total".into(),
            counts
                .values()
                .map(|c| c.iter().sum::<u32>())
                .collect::<Vec<_>>(),
        ));
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("status counts", e))
    }

    /// The records as a DataFrame (one row per labelled row).
    pub fn records_frame(&self) -> Result<DataFrame> {
        let r = &self.records;
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        df!(
            "sheet" => r.iter().map(|e| e.sheet.as_str()).collect::<Vec<_>>(),
            "row" => r.iter().map(|e| e.row).collect::<Vec<_>>(),
            "label" => r.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(),
            "patient_id" => r.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(),
            "key" => r.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            "status" => r.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
            "listing_row" => r.iter().map(|e| e.listing_row).collect::<Vec<_>>(),
            "dicom" => r.iter().map(|e| path(&e.dicom)).collect::<Vec<_>>(),
            "jpg" => r.iter().map(|e| path(&e.jpg)).collect::<Vec<_>>(),
            "laterality" => r.iter().map(|e| e.laterality.clone()).collect::<Vec<_>>(),
            "view" => r.iter().map(|e| e.view.clone()).collect::<Vec<_>>(),
        )
        .map_err(|e| Error::table("records", e))
    }

    /// Write `merged.parquet`, `records.csv`, `audit.csv`, `audit.parquet`, `audit.xlsx`
    /// and `summary.json` into `dir` (created).
    pub fn write(&self, dir: &Path) -> Result<()> {
        use crate::error::IoContext;
        std::fs::create_dir_all(dir).at(dir)?;
        let write_csv =
            |df: &mut DataFrame, name: &str| super::scores::write_csv(df, &dir.join(name));
        let write_parquet = |df: &mut DataFrame, name: &str| -> Result<()> {
            let p = dir.join(name);
            let f = std::fs::File::create(&p).at(&p)?;
            ParquetWriter::new(f)
                .finish(df)
                .map(|_| ())
                .map_err(|e| Error::table(p.display().to_string(), e))
        };
        let mut merged = self.merged.clone();
        write_parquet(&mut merged, "merged.parquet")?;
        write_csv(&mut self.records_frame()?, "records.csv")?;
        let mut audit = self.audit_frame()?;
        write_csv(&mut audit, "audit.csv")?;
        write_parquet(&mut audit, "audit.parquet")?;
        write_xlsx(&audit, &dir.join("audit.xlsx"), "audit")?;
        let p = dir.join("summary.json");
        let text = serde_json::to_string_pretty(&self.summary).map_err(|e| Error::Serialise {
            path: p.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&p, text).at(&p)
    }
}

/// Write a DataFrame as one worksheet (header row, then values; nulls left empty), for
/// people who open the audit in Excel.
pub fn write_xlsx(df: &DataFrame, path: &Path, sheet: &str) -> Result<()> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::WorkbookWrite {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name(sheet).map_err(err)?;
    for (c, col) in df.columns().iter().enumerate() {
        let c = c as u16;
        ws.write_string(0, c, col.name().as_str()).map_err(err)?;
        for r in 0..df.height() {
            let row = r as u32 + 1;
            match col.get(r).unwrap_or(AnyValue::Null) {
                AnyValue::Null => {}
                AnyValue::String(s) => {
                    ws.write_string(row, c, s).map_err(err)?;
                }
                v => match v.extract::<f64>() {
                    Some(x) => {
                        ws.write_number(row, c, x).map_err(err)?;
                    }
                    None => {
                        ws.write_string(row, c, v.to_string()).map_err(err)?;
                    }
                },
            }
        }
    }
    wb.save(path).map_err(err)
}
