//! Image roots whose files are rows of their own: a download without a table, whose class
//! sits in the path (seed 003's `IDC_regular_ps50_idx5/8863/1/8863_idx5_x451_y1451_class1.png`).
//!
//! Each file below such a root gets one audit line: `image_found` with its class, or
//! `unmatched` saying why it has none (no rule gives one, or the rules of an `agree`
//! disagree: the folder says `1`, the name says `class0`). With `image_size`, each image's
//! header is read (not its pixels) and a size that differs is a `header_mismatch` line; the
//! image is still used. A file whose header cannot be read is a `file` line and is left out.

use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use super::label::{class_of, folder, File, Verdict};
use super::stages::Images;
use super::{AuditEntry, ImageCounts, Record, SheetCounts, Status};
use crate::ingest::dicom::is_dicom_path;
use crate::ingest::key::file_stem;
use crate::manifest::{ImageRoot, LabelRule, Manifest};

/// What reading one labelled image root produced.
pub(crate) struct RootRows {
    /// The root's id (its rows' "sheet").
    pub id: String,
    /// The root's folder, relative to the manifest's folder: every file below it is
    /// accounted for here.
    pub path: PathBuf,
    pub records: Vec<Record>,
    pub audit: Vec<AuditEntry>,
    pub counts: SheetCounts,
    pub images: ImageCounts,
}

/// Every labelled image root of `manifest`, each file a row.
pub(crate) fn label_files(manifest: &Manifest, images: &Images) -> Vec<RootRows> {
    manifest
        .image_roots
        .iter()
        .filter_map(|root| {
            let rule = root.label.as_ref()?;
            Some(label_root(root, rule, images))
        })
        .collect()
}

/// One file's outcome.
enum Outcome {
    Labelled(Box<Record>, Option<AuditEntry>),
    Left(AuditEntry),
}

fn label_root(root: &ImageRoot, rule: &LabelRule, images: &Images) -> RootRows {
    let files: Vec<&Path> = images
        .files()
        .iter()
        .map(PathBuf::as_path)
        .filter(|f| f.starts_with(&root.path))
        .collect();
    let outcomes: Vec<Outcome> = files
        .par_iter()
        .enumerate()
        .map(|(i, rel)| label_file(root, rule, images.base(), rel, i as u32 + 1))
        .collect();
    let mut out = RootRows {
        id: root.id.clone(),
        path: root.path.clone(),
        records: vec![],
        audit: vec![],
        counts: SheetCounts::default(),
        images: ImageCounts::default(),
    };
    for o in outcomes {
        match o {
            Outcome::Labelled(record, size) => {
                out.counts.add(Status::ImageFound);
                out.images.resolved += 1;
                out.audit
                    .push(entry(&record, Status::ImageFound, String::new()));
                out.audit.extend(size);
                out.records.push(*record);
            }
            Outcome::Left(a) => {
                out.counts.add(a.status);
                out.audit.push(a);
            }
        }
    }
    out
}

fn entry(r: &Record, status: Status, reason: String) -> AuditEntry {
    AuditEntry {
        workbook: String::new(),
        sheet: r.sheet.clone(),
        row: r.row,
        key: r.key.clone(),
        status,
        reason,
        counterpart_row: None,
        file: r.jpg.clone().or_else(|| r.dicom.clone()),
    }
}

fn label_file(root: &ImageRoot, rule: &LabelRule, base: &Path, rel: &Path, row: u32) -> Outcome {
    let below: Vec<String> = rel
        .strip_prefix(&root.path)
        .unwrap_or(rel)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let name = below.last().cloned().unwrap_or_default();
    let path = base.join(rel);
    let is_dicom = is_dicom_path(rel);
    let patient = root
        .patient_folder
        .and_then(|level| folder(&below, level))
        .map(str::to_string)
        .unwrap_or_else(|| file_stem(&name));
    let record = |label: String| Record {
        sheet: root.id.clone(),
        row,
        label,
        patient_id: patient.clone(),
        key: name
            .rsplit_once('.')
            .map_or(name.as_str(), |(s, _)| s)
            .to_string(),
        status: Status::ImageFound,
        listing_row: None,
        dicom: is_dicom.then(|| path.clone()),
        jpg: (!is_dicom).then(|| path.clone()),
        roi_mask: None,
        roi_crop: None,
        laterality: None,
        view: None,
        split_value: None,
        source: None,
    };
    let class = match class_of(rule, &File { below: &below }) {
        Ok(Verdict::Class(c)) if !c.is_empty() => c,
        Ok(Verdict::Class(_)) => {
            let r = record(String::new());
            let reason = format!("no class: the label rule is `{}`", rule.describe());
            return Outcome::Left(entry(&r, Status::Unmatched, reason));
        }
        Ok(Verdict::Disagree(why)) => {
            let r = record(String::new());
            return Outcome::Left(entry(&r, Status::Unmatched, why));
        }
        Err(e) => {
            let r = record(String::new());
            return Outcome::Left(entry(&r, Status::Unmatched, e.to_string()));
        }
    };
    let r = record(class);
    let Some([want_w, want_h]) = root.image_size else {
        return Outcome::Labelled(Box::new(r), None);
    };
    let size = if is_dicom {
        // Rows and Columns: (height, width).
        crate::ingest::dicom::read_size(&path)
            .map(|(rows, cols)| (cols, rows))
            .map_err(|e| e.to_string())
    } else {
        image_size(&path)
    };
    match size {
        Ok((w, h)) if (w, h) == (want_w, want_h) => Outcome::Labelled(Box::new(r), None),
        Ok((w, h)) => {
            let reason = format!(
                "the image is {w} x {h} px; the manifest's image_size is {want_w} x {want_h} (used, resized like the rest)"
            );
            let size = entry(&r, Status::HeaderMismatch, reason);
            Outcome::Labelled(Box::new(r), Some(size))
        }
        Err(e) => Outcome::Left(entry(
            &r,
            Status::File,
            format!("cannot read the image's size, left out: {e}"),
        )),
    }
}

/// An image's width and height from its header (the pixels are not decoded).
fn image_size(path: &Path) -> std::result::Result<(u32, u32), String> {
    image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| e.to_string())
}
