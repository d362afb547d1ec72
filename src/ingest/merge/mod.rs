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
//! Every row's images are then resolved in the [`ImageIndex`](super::index::ImageIndex)
//! (through the listing's Windows path when there is one, else by file name), and each
//! DICOM header is checked against its row: patient id, study date and time, and (from the
//! listing) laterality and view. Image files that no row refers to are listed too.
//!
//! [`merge`] runs these as named stages over typed intermediates (`stages.rs`): read the
//! workbooks, index the images, key every sheet, match each labelled sheet, account for
//! the listing, check DICOM headers, list unreferenced files. The tables and files it
//! writes are in `tables.rs`. [`Record`]s carry resolved paths, so what comes after the
//! merge needs no manifest to open an image.

mod files;
mod label;
mod stages;
mod tables;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::manifest::Manifest;

pub(crate) use stages::{file_column, row_label, KeyPlan, PatientColumn};
pub use tables::write_xlsx;

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
    /// Every status, in the order of the audit's count table.
    pub const ALL: [Status; 6] = [
        Status::Exact,
        Status::Normalised,
        Status::ImageFound,
        Status::Unmatched,
        Status::HeaderMismatch,
        Status::File,
    ];

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

/// Which breast an image shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Laterality {
    /// Left breast (`L`).
    Left,
    /// Right breast (`R`).
    Right,
}

impl Laterality {
    /// `L`/`LEFT` or `R`/`RIGHT` in any case and spacing; anything else (`B`, `U`, empty)
    /// is `None`, an unknown side.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_uppercase().as_str() {
            "L" | "LEFT" => Some(Self::Left),
            "R" | "RIGHT" => Some(Self::Right),
            _ => None,
        }
    }

    /// `L` or `R`, as DICOM's (0020,0062) Image Laterality writes it.
    pub fn code(self) -> &'static str {
        match self {
            Self::Left => "L",
            Self::Right => "R",
        }
    }
}

impl std::fmt::Display for Laterality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
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
    /// The file concerned (resolved DICOM, or the file of a file entry), resolved; the
    /// audit tables show it relative to the manifest's folder.
    pub file: Option<PathBuf>,
}

/// Counts of one sheet (rows = matched + unmatched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SheetCounts {
    /// Data rows.
    pub rows: usize,
    /// Rows matched.
    pub matched: usize,
    /// Rows not matched.
    pub unmatched: usize,
}

impl SheetCounts {
    pub(crate) fn add(&mut self, status: Status) {
        self.rows += 1;
        if status.is_match() {
            self.matched += 1;
        } else {
            self.unmatched += 1;
        }
    }
}

/// Image resolution counts over all labelled rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImageCounts {
    /// Rows whose image was found exactly once.
    pub resolved: usize,
    /// Rows whose image was not found.
    pub missing: usize,
    /// Rows whose image name exists in more than one folder.
    pub duplicates: usize,
}

impl ImageCounts {
    fn add(&mut self, other: ImageCounts) {
        self.resolved += other.resolved;
        self.missing += other.missing;
        self.duplicates += other.duplicates;
    }
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
    /// Every cell of the merged sheets read other than its workbook typed it (absent from
    /// the JSON when there is none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<CellWarning>,
}

/// A cell read other than its workbook typed it ([`Sheet::warnings`](crate::ingest::sheets::Sheet::warnings):
/// a number cell whose text is `" 41"`, read as 41), kept in the merge's summary so that
/// what was read is accounted for where the audit is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellWarning {
    /// Workbook file name.
    pub workbook: String,
    /// Sheet.
    pub sheet: String,
    /// The cell, what it holds and how it was read (`E2: number stored as " 41", read as 41`).
    pub warning: String,
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
    /// The DICOM file, resolved (open it as it is).
    pub dicom: Option<PathBuf>,
    /// The raster export, resolved: the JPG (seed 001), or the PNG where the image roots
    /// list `png` (the unpacked DDSM patches).
    pub jpg: Option<PathBuf>,
    /// The lesion's ROI mask, when the image root has a `roi_column` (CBIS-DDSM).
    pub roi_mask: Option<PathBuf>,
    /// The lesion's cropped image, with the mask.
    pub roi_crop: Option<PathBuf>,
    /// Laterality from the row or its listing counterpart (`None`: not given or not L/R).
    pub laterality: Option<Laterality>,
    /// View from the row or its listing counterpart.
    pub view: Option<String>,
    /// The row's value in the manifest's `[split]` column, when it has one.
    pub split_value: Option<String>,
    /// The `[[source]]` the row comes from, in a cohort of several downloads.
    pub source: Option<String>,
}

/// Everything a merge produces.
#[derive(Debug, Clone)]
pub struct MergeResult {
    /// The manifest's folder: the tables show paths relative to it.
    pub base_dir: PathBuf,
    /// One record per labelled row.
    pub records: Vec<Record>,
    /// Every row of every input and every unreferenced or unreadable file.
    pub audit: Vec<AuditEntry>,
    /// The counts.
    pub summary: MergeSummary,
    /// Merge-sheet rows matched to the listing, all columns of both (listing columns that
    /// clash get the suffix `_listing`), plus `match` and `image_path`.
    pub merged: DataFrame,
    /// Every patient id the merge saw, as written (a source's without its prefix): the
    /// records', and the id part of every audited key, rows that matched nothing included.
    /// What [`MergeResult::redactor`] hides.
    pub patients: BTreeSet<String>,
}

/// Which identifiers the merge's export ([`MergeResult::write`]) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ids {
    /// Patient ids replaced by their pseudonyms ([`crate::privacy::Redactor`]) in
    /// `records.csv`, the audit tables and `summary.json`; `merged.parquet`, the table asked
    /// for, keeps the workbooks' columns as they are. The default.
    #[default]
    Pseudonyms,
    /// The workbooks' patient ids everywhere (`merge --raw-ids`): a working copy that stays
    /// with the data.
    Raw,
}

impl MergeResult {
    /// A redactor for every patient id of this merge ([`MergeResult::patients`]).
    pub fn redactor(&self) -> crate::privacy::Redactor {
        crate::privacy::Redactor::new(&self.patients)
    }

    /// `path` as the tables show it: relative to the manifest's folder when inside it.
    pub fn shown_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.base_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// Merge a cohort described by a manifest (see the module docs for the stages). A manifest
/// of `[[source]]` entries merges each source's manifest on its own and joins the results
/// ([`merge_sources`]).
pub fn merge(manifest: &Manifest) -> Result<MergeResult> {
    if !manifest.sources.is_empty() {
        return merge_sources(manifest);
    }
    let labelled_roots = manifest.image_roots.iter().any(|r| r.label.is_some());
    // A download without a table (seed 003's patches) needs no key.
    let tables = if manifest.sheets.is_empty() && labelled_roots {
        None
    } else {
        let plan = KeyPlan::of(manifest)?;
        let inputs = stages::Inputs::read(manifest, &plan)?;
        Some((plan, inputs))
    };
    let warnings = tables
        .as_ref()
        .map(|(_, inputs)| inputs.cell_warnings())
        .unwrap_or_default();
    let images = stages::Images::index(manifest)?;
    let mut records = vec![];
    let mut audit = vec![];
    let mut counts = BTreeMap::new();
    let mut image_counts = ImageCounts::default();
    let mut merged = DataFrame::empty();
    if let Some((plan, inputs)) = &tables {
        let mut matched = Vec::with_capacity(inputs.sheets.len());
        for (spec, sheet) in manifest.sheets.iter().zip(&inputs.sheets) {
            matched.push(stages::match_sheet(
                manifest, plan, inputs, &images, spec, sheet,
            )?);
        }
        let listing = stages::account_listing(plan, inputs, &matched);
        for (sheet, m) in inputs.sheets.iter().zip(&mut matched) {
            counts.insert(sheet.sheet.name.clone(), m.counts);
            image_counts.add(m.images);
            audit.append(&mut m.audit);
            records.append(&mut m.records);
        }
        if let Some((name, c, mut entries)) = listing {
            counts.insert(name, c);
            audit.append(&mut entries);
        }
        audit.extend(stages::header_checks(plan, &records));
        merged = tables::merged_frame(manifest, inputs, &matched, &records)?;
    }
    let mut accounted = vec![];
    for mut root in files::label_files(manifest, &images) {
        counts.insert(root.id, root.counts);
        image_counts.add(root.images);
        audit.append(&mut root.audit);
        records.append(&mut root.records);
        accounted.push(root.path);
    }
    audit.extend(stages::unreferenced_files(&images, &records, &accounted));
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
    let patients = tables
        .as_ref()
        .map(|(plan, _)| stages::patient_ids(plan, &records, &audit))
        .unwrap_or_else(|| {
            records
                .iter()
                .filter(|r| !r.patient_id.is_empty())
                .map(|r| r.patient_id.clone())
                .collect()
        });
    Ok(MergeResult {
        base_dir: manifest.base_dir.clone(),
        records,
        audit,
        summary: MergeSummary {
            sheets: counts,
            unmatched,
            images: image_counts,
            warnings,
        },
        merged,
        patients,
    })
}

/// The merge of a cohort of several downloads: each `[[source]]` merged as its own manifest
/// says, then joined. Every record carries its source's name and a patient id prefixed with
/// it (`inbreast/8D288A1295CA3801`); audit workbooks, sheet counts and unmatched rows are
/// prefixed the same way (`inbreast/INbreast.xls`, `inbreast/Sheet1`). The sources' merged
/// listing frames are not joined (a listing belongs to one download): `merged` is empty.
pub fn merge_sources(manifest: &Manifest) -> Result<MergeResult> {
    let mut out = MergeResult {
        base_dir: manifest.base_dir.clone(),
        records: vec![],
        audit: vec![],
        summary: MergeSummary {
            sheets: BTreeMap::new(),
            unmatched: vec![],
            images: ImageCounts::default(),
            warnings: vec![],
        },
        merged: DataFrame::empty(),
        patients: BTreeSet::new(),
    };
    for s in &manifest.sources {
        let sub = manifest.source(s)?;
        let r = merge(&sub)?;
        let name = &s.name;
        let prefixed = |v: &str| format!("{name}/{v}");
        out.patients.extend(r.patients);
        out.records.extend(r.records.into_iter().map(|mut rec| {
            rec.source = Some(name.clone());
            if !rec.patient_id.is_empty() {
                rec.patient_id = prefixed(&rec.patient_id);
            }
            rec
        }));
        out.audit.extend(r.audit.into_iter().map(|mut a| {
            a.workbook = prefixed(&a.workbook);
            a
        }));
        for (sheet, c) in r.summary.sheets {
            out.summary.sheets.insert(prefixed(&sheet), c);
        }
        out.summary
            .unmatched
            .extend(r.summary.unmatched.into_iter().map(|mut u| {
                u.sheet = prefixed(&u.sheet);
                u
            }));
        out.summary.images.add(r.summary.images);
        out.summary
            .warnings
            .extend(r.summary.warnings.into_iter().map(|mut w| {
                w.workbook = prefixed(&w.workbook);
                w.sheet = prefixed(&w.sheet);
                w
            }));
    }
    Ok(out)
}
