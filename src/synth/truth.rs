//! The ground truth written beside a synthetic cohort: every planted fault, the expected
//! merge counts and what each image shows, so later stages can be checked against it.

use serde::{Deserialize, Serialize};

/// The whole ground-truth document (`ground_truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// `mammolab X.Y.Z`.
    pub generator: String,
    /// Profile name.
    pub profile: String,
    /// Generator seed.
    pub seed: u64,
    /// Expected counts.
    pub counts: Counts,
    /// Every planted fault.
    pub faults: Vec<Fault>,
    /// Every image of the cohort (written or planted missing).
    pub images: Vec<ImageTruth>,
}

/// Counts a correct ingest must reproduce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Rows of the `Cancer` sheet.
    pub cancer_rows: usize,
    /// Rows of the `Non-Cancer` sheet.
    pub non_cancer_rows: usize,
    /// Rows of the validation listing.
    pub validation_rows: usize,
    /// Columns of `Cancer` and `Non-Cancer`.
    pub main_columns: usize,
    /// Columns of the listing.
    pub validation_columns: usize,
    /// `Cancer` rows matched by seed 001's exact `UniqueKey` (pandas inner merge rows).
    pub exact_key_matches: usize,
    /// `Cancer` rows matched once key parts are normalised.
    pub normalised_key_matches: usize,
    /// `Cancer` rows whose study is not in the listing (including the duplicate pair).
    pub cancer_rows_without_counterpart: usize,
    /// Distinct images planned.
    pub images: usize,
    /// DICOM files on disk (including the duplicate copy and the corrupt file).
    pub dicom_files: usize,
    /// JPG files on disk (including the duplicate copy).
    pub jpg_files: usize,
    /// Distinct patients.
    pub patients: usize,
    /// Distinct studies.
    pub studies: usize,
}

/// A place in a workbook (row numbers as a spreadsheet user sees them: header is row 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellRef {
    /// Workbook file name.
    pub workbook: String,
    /// Sheet name.
    pub sheet: String,
    /// Row number (header = 1).
    pub row: usize,
    /// Column, where the fault sits in one cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

/// One planted fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// Machine-readable kind, e.g. `date_iso_text`, `duplicate_key`, `missing_image`.
    pub kind: String,
    /// Rows involved.
    #[serde(default)]
    pub cells: Vec<CellRef>,
    /// Files or folders involved, relative to the cohort root, `/`-separated.
    #[serde(default)]
    pub files: Vec<String>,
    /// What was written, where a value is wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// What a normalising reader should take it for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// One sentence for people.
    pub detail: String,
}

/// What one image is and shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageTruth {
    /// InputFileName (`FILE0004`).
    pub file: String,
    /// DICOM path relative to the cohort root.
    pub dicom: String,
    /// JPG path relative to the cohort root.
    pub jpg: String,
    /// `cancer`, `normal` or `unlisted`.
    pub class: String,
    /// The synthetic patient id.
    pub patient_id: String,
    /// Pseudonym safe to show in shared notebooks.
    pub pseudonym: String,
    /// AccessionNumber of the image's study (an identifier too: it names the study at the
    /// hospital).
    #[serde(default)]
    pub accession_number: String,
    /// PatientBirthDate (`YYYYMMDD`).
    #[serde(default)]
    pub birth_date: String,
    /// StudyDate (`YYYYMMDD`).
    pub study_date: String,
    /// `L` or `R`.
    pub laterality: String,
    /// `CC` or `MLO`.
    pub view: String,
    /// Density A-D.
    pub density: String,
    /// BI-RADS assessment in the sheet.
    pub birads: u8,
    /// `spiculated_mass`, `calcifications`, `benign_mass`, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesion: Option<String>,
    /// Lesion centre and radius in pixels of the stored image: `[x, y, r]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesion_xyr: Option<[f32; 3]>,
    /// `MONOCHROME1` or `MONOCHROME2`.
    pub photometric: String,
    /// Manufacturer.
    pub manufacturer: String,
}
