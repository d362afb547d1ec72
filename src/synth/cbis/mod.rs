//! The CBIS-DDSM twin: a deterministic download laid out as TCIA publishes CBIS-DDSM.
//!
//! Researchers start from this download (seeds 002 and 004), and a template that has never
//! read its layout is a stub. [`generate`] writes, into one folder:
//!
//! - the four case-description CSVs (`mass_case_description_train_set.csv`,
//!   `..._test_set.csv`, `calc_case_description_{train,test}_set.csv`) with the published
//!   columns in the published order ([`plan::MASS_COLUMNS`], [`plan::CALC_COLUMNS`]),
//!   pathology `MALIGNANT | BENIGN | BENIGN_WITHOUT_CALLBACK`, several abnormalities on some
//!   films, empty descriptor cells, and path cells that end in a newline on some rows;
//! - `CBIS-DDSM/`, the folders the NBIA Data Retriever creates: per full mammogram
//!   `Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/1.000000-full mammogram
//!   images-24515/1-1.dcm`, per abnormality `..._LEFT_CC_1/<date>-DDSM-<n>/1.000000-ROI mask
//!   images-<n>/1-1.dcm` and `1-2.dcm` (mask and crop in either order: tell them apart by
//!   content) or, for a few, the crop in a `1.000000-cropped images-<n>` series of its own;
//!   the CSVs' UID paths (`<case>/<study UID>/<series UID>/000000.dcm`) exist nowhere;
//! - DICOM as in the download: Implicit VR Little Endian, Secondary Capture Image Storage,
//!   PatientID and PatientName equal to the case folder, Series Description naming the
//!   series; full mammograms and crops 16-bit MONOCHROME2 using the whole range; masks
//!   8-bit, 0 and 255, the size of the full mammogram. The films are digitised-film
//!   phantoms ([`film`]): border bands, a burned-in label, grain, and masses and
//!   calcifications whose pathology is learnable but not trivial;
//! - `ground_truth.json` (every CSV row: its files, look, pathology and lesion box; the
//!   counts) and `manifest.toml` (the `data-manifests/cbis-ddsm.toml` template with the
//!   twin's checksums).
//!
//! Where this departs from the download, on purpose: UIDs use the `2.25.` root (the twin's
//! own) instead of TCIA's, and the writer's implementation UID is mammolab's. Facts that
//! contradict a description read elsewhere: the TCIA files are Implicit VR Little Endian
//! (a `pydicom.dcmread` of `Calc-Training_P_01823_LEFT_MLO/.../1-1.dcm` shows Transfer
//! Syntax UID `Implicit VR Little Endian`, written by `dcm4che-1.4.35`, 4592 x 3144, 16
//! bits stored), not RLE Lossless.

pub mod film;
pub mod plan;
mod write;

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::profile::Profile;
use super::rng::Rng;
use super::{MANIFEST, TRUTH};
use crate::error::{IoContext, Result};
use crate::manifest::{
    self, ClassList, Cohort, ImageRoot, Key, LabelRule, Manifest, Sheet, SynthInfo, Table,
};
use plan::{CbisSpec, Kind, Plan, Split, DOWNLOAD_ROOT};

/// What to generate: the scale, seed and overwrite of every public-download twin
/// ([`TwinOptions`](super::TwinOptions)), and the film sizes and lesion contrast of this one.
#[derive(Debug, Clone)]
pub struct CbisOptions {
    twin: super::TwinOptions,
    spec: CbisSpec,
}

impl CbisOptions {
    /// The twin at a scale, seed 1: `ci` (64 CSV rows, 640 x 400 films, for tests and the
    /// notebook suite) or `default` (about 300 rows, 2560 x 1600 films). `large` is refused.
    pub fn new(scale: Profile) -> Result<Self> {
        Ok(Self::of(super::TwinOptions::new(scale)?))
    }

    /// The twin as `twin` says (scale, seed, overwrite).
    pub fn of(twin: super::TwinOptions) -> Self {
        let spec = match twin.scale {
            Profile::Ci => CbisSpec {
                rows: [[24, 8], [24, 8]],
                image_rows: 640,
                image_cols: 400,
                conspicuity: 1.0,
            },
            // TwinOptions refuses `large`.
            Profile::Default | Profile::Large => CbisSpec {
                rows: [[112, 36], [112, 36]],
                image_rows: 2560,
                image_cols: 1600,
                conspicuity: 1.0,
            },
        };
        Self { twin, spec }
    }

    /// Scale lesion contrast (1.0 is the twin's; lower is harder).
    pub fn with_conspicuity(mut self, c: f32) -> Self {
        self.spec.conspicuity = c;
        self
    }

    /// The sizes that will be generated.
    pub fn spec(&self) -> &CbisSpec {
        &self.spec
    }

    fn name(&self) -> String {
        self.twin.name("cbis-ddsm")
    }
}

/// The counts of a twin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CbisCounts {
    /// Rows of each CSV, by file name.
    pub csv_rows: std::collections::BTreeMap<String, usize>,
    /// Full mammograms (one DICOM each).
    pub full_mammograms: usize,
    /// `ROI mask images` series (one per CSV row).
    pub roi_series: usize,
    /// Separate `cropped images` series.
    pub crop_series: usize,
    /// DICOM files in all.
    pub dicom_files: usize,
    /// Distinct patients.
    pub patients: usize,
    /// Distinct lesions (a lesion seen on CC and MLO has two rows).
    pub lesions: usize,
}

/// One CSV row in the ground truth.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowTruth {
    /// The CSV.
    pub csv: String,
    /// Its line in the file, header = 1 (a newline inside a cell does not count).
    pub row: usize,
    /// The case folder of the full mammogram.
    pub case: String,
    /// `abnormality id`.
    pub abnormality_id: usize,
    /// The lesion this row shows (shared by its CC and MLO rows).
    pub lesion: usize,
    /// `pathology`.
    pub pathology: plan::Pathology,
    /// How the lesion is drawn.
    pub look: film::Look,
    /// Full mammogram, relative to the twin's folder.
    pub full: String,
    /// ROI mask.
    pub mask: String,
    /// Cropped image.
    pub crop: String,
    /// The mask's bounding box `[x0, y0, x1, y1)` in full-mammogram pixels.
    pub bbox: [usize; 4],
    /// The `ROI mask file path` cell ends in a newline.
    pub newline: bool,
}

/// `ground_truth.json` of a twin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CbisTruth {
    /// Writer.
    pub generator: String,
    /// `cbis-ddsm-ci` or `cbis-ddsm-default`.
    pub profile: String,
    /// Seed.
    pub seed: u64,
    /// Counts.
    pub counts: CbisCounts,
    /// Every CSV row, CSVs in [`csv_names`] order.
    pub rows: Vec<RowTruth>,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CbisSummary {
    /// The output folder.
    pub out: PathBuf,
    /// `cbis-ddsm-ci` or `cbis-ddsm-default`.
    pub profile: String,
    /// Seed.
    pub seed: u64,
    /// Counts.
    pub counts: CbisCounts,
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// The four CSV names, in order: mass train, mass test, calc train, calc test.
pub fn csv_names() -> Vec<String> {
    Kind::ALL
        .iter()
        .flat_map(|&k| Split::ALL.iter().map(move |&s| plan::csv_name(k, s)))
        .collect()
}

/// Generate a twin into `out` (created if needed; must be empty unless overwriting).
pub fn generate(opts: &CbisOptions, out: &Path) -> Result<CbisSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    let csvs = csv_names();
    let mut files: Vec<&str> = csvs.iter().map(String::as_str).collect();
    files.extend([TRUTH, MANIFEST]);
    super::prepare_out(out, opts.twin.overwrite, &files, &[DOWNLOAD_ROOT])?;
    let plan = Plan::build(&opts.spec, opts.twin.seed);

    for kind in Kind::ALL {
        for split in Split::ALL {
            let path = out.join(plan::csv_name(kind, split));
            write::csv(&path, kind.columns(), &plan.rows(kind, split))?;
        }
    }
    let boxes: Vec<Vec<[usize; 4]>> = plan
        .images
        .par_iter()
        .map(|img| write::case(out, img, &opts.spec, opts.twin.seed))
        .collect::<Result<_>>()?;

    let truth = ground_truth(opts, &plan, &boxes);
    crate::outlock::write_json(&truth, &out.join(TRUTH))?;
    let manifest = twin_manifest(opts, out)?;
    crate::outlock::write_atomic(&out.join(MANIFEST), manifest.to_toml_string()?.as_bytes())?;
    let (files, bytes) = super::dir_size(out)?;
    Ok(CbisSummary {
        out: out.to_path_buf(),
        profile: opts.name(),
        seed: opts.twin.seed,
        counts: truth.counts,
        files,
        bytes,
    })
}

fn ground_truth(opts: &CbisOptions, plan: &Plan, boxes: &[Vec<[usize; 4]>]) -> CbisTruth {
    let mut rows = vec![];
    let mut csv_rows = std::collections::BTreeMap::new();
    for kind in Kind::ALL {
        for split in Split::ALL {
            let name = plan::csv_name(kind, split);
            let these = plan.rows(kind, split);
            csv_rows.insert(name.clone(), these.len());
            for (k, (img, a)) in these.into_iter().enumerate() {
                let i = img.stream as usize;
                rows.push(RowTruth {
                    csv: name.clone(),
                    row: k + 2,
                    case: img.case(),
                    abnormality_id: a.id,
                    lesion: a.lesion,
                    pathology: a.pathology,
                    look: a.look,
                    full: img.full_path(),
                    mask: img.mask_path(a),
                    crop: img.crop_path(a),
                    bbox: boxes[i][a.id - 1],
                    newline: a.newline,
                });
            }
        }
    }
    let all = || plan.images.iter().flat_map(|i| &i.abnormalities);
    let crop_series = all().filter(|a| a.crop_series.is_some()).count();
    let roi_series = all().count();
    let mut patients: Vec<&str> = plan.images.iter().map(|i| i.patient.as_str()).collect();
    patients.sort_unstable();
    patients.dedup();
    let mut lesions: Vec<usize> = all().map(|a| a.lesion).collect();
    lesions.sort_unstable();
    lesions.dedup();
    CbisTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.name(),
        seed: opts.twin.seed,
        counts: CbisCounts {
            csv_rows,
            full_mammograms: plan.images.len(),
            roi_series,
            crop_series,
            dicom_files: plan.images.len() + 2 * roi_series,
            patients: patients.len(),
            lesions: lesions.len(),
        },
        rows,
    }
}

/// A CSV's sheet: its file stem.
fn sheet_name(kind: Kind, split: Split) -> String {
    plan::csv_name(kind, split)
        .trim_end_matches(".csv")
        .to_string()
}

fn twin_manifest(opts: &CbisOptions, out: &Path) -> Result<Manifest> {
    let mut tables = vec![];
    let mut sheets = vec![];
    for kind in Kind::ALL {
        for split in Split::ALL {
            let name = plan::csv_name(kind, split);
            let id = name
                .replace("_case_description", "")
                .replace("_set.csv", "");
            tables.push(Table {
                id: id.clone(),
                sha256: Some(crate::hash::sha256_file(&out.join(&name))?),
                path: name.clone().into(),
            });
            sheets.push(Sheet {
                table: id,
                name: sheet_name(kind, split),
                label: Some(LabelRule::Column {
                    column: "pathology".into(),
                    positive: vec!["MALIGNANT".into()],
                    positive_class: "malignant".into(),
                    negative_class: "benign".into(),
                }),
                image_root: Some("cbis".into()),
            });
        }
    }
    Ok(Manifest {
        schema: manifest::SCHEMA,
        allow_outside: false,
        cohort: Cohort {
            name: opts.name(),
            description: "Twin of the CBIS-DDSM download: the four case-description CSVs and the TCIA folders of full mammograms, ROI masks and crops (BENIGN_WITHOUT_CALLBACK counts as benign)".into(),
            licence: "CC0-1.0 (generated; no real patient data)".into(),
            provenance: format!(
                "mammolab {} synth --profile cbis-ddsm --scale {} --seed {}",
                env!("CARGO_PKG_VERSION"),
                opts.twin.scale.name(),
                opts.twin.seed
            ),
        },
        tables,
        sheets,
        patient: None,
        key: Some(Key {
            columns: [
                "patient_id",
                "left or right breast",
                "image view",
                "abnormality id",
            ]
            .map(String::from)
            .to_vec(),
            separator: "_".into(),
        }),
        merge: None,
        sources: vec![],
        image_roots: vec![ImageRoot {
            id: "cbis".into(),
            path: DOWNLOAD_ROOT.into(),
            formats: vec!["dcm".into()],
            file_column: Some("image file path".into()),
            match_by: manifest::FileMatch::CaseFolder,
            roi_column: Some("ROI mask file path".into()),
            label: None,
            patient_folder: None,
            image_size: None,
        }],
        // CBIS-DDSM's official division: the train-set CSVs train, the test-set CSVs test.
        split: Some(manifest::SplitRule {
            column: None,
            train: Kind::ALL
                .map(|k| sheet_name(k, Split::Training))
                .to_vec(),
            validation: vec![],
            test: Kind::ALL.map(|k| sheet_name(k, Split::Test)).to_vec(),
        }),
        classes: Some(ClassList {
            names: Some(vec!["benign".into(), "malignant".into()]),
            positive: Some("malignant".into()),
        }),
        synth: Some(SynthInfo {
            profile: opts.name(),
            seed: opts.twin.seed,
            generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
            truth: TRUTH.into(),
            truth_sha256: Some(crate::hash::sha256_file(&out.join(TRUTH))?),
        }),
        base_dir: out.to_path_buf(),
        source: out.join(MANIFEST),
    })
}

/// The film of `img`, as [`generate`] renders it (for notebooks and tests that want the
/// pixels without reading the DICOM back).
pub fn render(img: &plan::Image, spec: &CbisSpec, seed: u64) -> film::Film {
    let lesions = img
        .abnormalities
        .iter()
        .map(|a| (a.look, spec.conspicuity * (0.6 + 0.1 * a.subtlety as f32)))
        .collect();
    let mut rng = Rng::derive(seed, 0xCB15_0000_0000 + img.stream);
    film::render(
        &film::FilmSpec {
            rows: spec.image_rows,
            cols: spec.image_cols,
            density: plan::density(img.density),
            view: img.view,
            right: img.right,
            lesions,
            label: img.label.clone(),
            scanned: true,
        },
        &mut rng,
    )
}

/// Create a folder and its parents.
fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).at(p)
}
