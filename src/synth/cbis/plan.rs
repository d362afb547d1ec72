//! The CBIS-DDSM twin's plan: patients, breasts, full mammograms, abnormalities, UIDs and
//! dates, the case-description CSV rows and every file's path, decided from the seed before
//! anything is written. Pure data, no I/O.
//!
//! How the published download is laid out, and what the plan reproduces:
//! - four CSVs, one per abnormality type and split, one row per abnormality *per view*: a
//!   lesion seen on the CC and the MLO film has a row for each; an image with several
//!   abnormalities has rows with `abnormality id` 1, 2, ...; rows sorted by patient, side,
//!   view and abnormality id;
//! - a patient can have mass and calcification cases, in different CSVs;
//! - each CSV row names its files by UID paths (`<case>/<study UID>/<series UID>/000000.dcm`)
//!   that exist in no download: the TCIA folders are named `<case>/<MM-DD-YYYY>-DDSM-<last 5
//!   digits of the study UID>/1.000000-<series description>-<last 5 digits of the series
//!   UID>/1-1.dcm`, so the case folder (and the abnormality id for ROIs) is the link;
//! - an abnormality's ROI mask and cropped image are `1-1.dcm` and `1-2.dcm` of one
//!   `ROI mask images` series, in either order (the CSV's `000000`/`000001` do not say which
//!   is which either); for a few abnormalities the crop is its own `cropped images` series
//!   (TCIA lists 6,775 series for 3,103 full mammograms and 3,568 abnormalities);
//! - some path cells end in a newline inside the quotes.

use super::super::calendar::{Date, Time};
use super::super::dicom::uid;
use super::super::phantom::{Density, View};
use super::film::Look;
use crate::rng::Rng;

/// Mass CSV columns, in the published order (`breast_density` with an underscore).
pub const MASS_COLUMNS: [&str; 14] = [
    "patient_id",
    "breast_density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "mass shape",
    "mass margins",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
];

/// Calcification CSV columns, in the published order (`breast density` with a space).
pub const CALC_COLUMNS: [&str; 14] = [
    "patient_id",
    "breast density",
    "left or right breast",
    "image view",
    "abnormality id",
    "abnormality type",
    "calc type",
    "calc distribution",
    "assessment",
    "pathology",
    "subtlety",
    "image file path",
    "cropped image file path",
    "ROI mask file path",
];

/// The folder the TCIA download (NBIA Data Retriever) creates.
pub const DOWNLOAD_ROOT: &str = "CBIS-DDSM";

/// Series descriptions, as in the folder names and the DICOM headers.
pub const FULL_SERIES: &str = "full mammogram images";
/// The series holding an abnormality's ROI mask (and usually its crop).
pub const ROI_SERIES: &str = "ROI mask images";
/// The series holding a crop on its own.
pub const CROP_SERIES: &str = "cropped images";

/// Abnormality type: which pair of CSVs and which TCIA collection prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Masses.
    Mass,
    /// Calcifications.
    Calc,
}

impl Kind {
    /// Both, in CSV order.
    pub const ALL: [Kind; 2] = [Kind::Mass, Kind::Calc];

    /// `Mass` or `Calc`, as in the folder names.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Mass => "Mass",
            Kind::Calc => "Calc",
        }
    }

    /// The `abnormality type` cell.
    pub fn abnormality_type(self) -> &'static str {
        match self {
            Kind::Mass => "mass",
            Kind::Calc => "calcification",
        }
    }

    /// The CSV header.
    pub fn columns(self) -> &'static [&'static str; 14] {
        match self {
            Kind::Mass => &MASS_COLUMNS,
            Kind::Calc => &CALC_COLUMNS,
        }
    }
}

/// Training or test set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Split {
    /// `Training` folders, `_train_set.csv`.
    Training,
    /// `Test` folders, `_test_set.csv`.
    Test,
}

impl Split {
    /// Both, in CSV order.
    pub const ALL: [Split; 2] = [Split::Training, Split::Test];

    /// As in the folder names.
    pub fn name(self) -> &'static str {
        match self {
            Split::Training => "Training",
            Split::Test => "Test",
        }
    }
}

/// The CSV of one abnormality type and split, e.g. `mass_case_description_train_set.csv`.
pub fn csv_name(kind: Kind, split: Split) -> String {
    let k = match kind {
        Kind::Mass => "mass",
        Kind::Calc => "calc",
    };
    let s = match split {
        Split::Training => "train",
        Split::Test => "test",
    };
    format!("{k}_case_description_{s}_set.csv")
}

/// The `pathology` cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Pathology {
    /// `MALIGNANT`.
    #[serde(rename = "MALIGNANT")]
    Malignant,
    /// `BENIGN`.
    #[serde(rename = "BENIGN")]
    Benign,
    /// `BENIGN_WITHOUT_CALLBACK`: benign, no follow-up needed.
    #[serde(rename = "BENIGN_WITHOUT_CALLBACK")]
    BenignWithoutCallback,
}

impl Pathology {
    /// As written in the CSVs.
    pub fn name(self) -> &'static str {
        match self {
            Pathology::Malignant => "MALIGNANT",
            Pathology::Benign => "BENIGN",
            Pathology::BenignWithoutCallback => "BENIGN_WITHOUT_CALLBACK",
        }
    }
}

/// One DICOM series of the download: its study and series UIDs and the study date.
#[derive(Debug, Clone)]
pub struct Series {
    /// Study Instance UID (the first UID of a CSV path).
    pub study_uid: String,
    /// Series Instance UID (the second).
    pub series_uid: String,
    /// Study date (the folder's `MM-DD-YYYY`).
    pub date: Date,
    /// Study time.
    pub time: Time,
}

/// The last five characters of a UID, as TCIA's folder names carry them.
pub fn uid_tail(uid: &str) -> &str {
    &uid[uid.len().saturating_sub(5)..]
}

impl Series {
    /// `07-20-2016-DDSM-74994`.
    pub fn study_folder(&self) -> String {
        format!(
            "{:02}-{:02}-{:04}-DDSM-{}",
            self.date.m,
            self.date.d,
            self.date.y,
            uid_tail(&self.study_uid)
        )
    }

    /// `1.000000-full mammogram images-24515` for this series' UID.
    pub fn series_folder(&self, description: &str, series_uid: &str) -> String {
        format!("1.000000-{description}-{}", uid_tail(series_uid))
    }
}

/// One abnormality as seen on one film: a CSV row.
#[derive(Debug, Clone)]
pub struct Abnormality {
    /// `abnormality id` (1-based within the film).
    pub id: usize,
    /// The lesion (the same for its CC and MLO rows).
    pub lesion: usize,
    /// `pathology`.
    pub pathology: Pathology,
    /// How it is drawn.
    pub look: Look,
    /// `mass shape`, `mass margins` or `calc type`, `calc distribution` (empty: no value).
    pub descriptors: [&'static str; 2],
    /// `assessment` (BI-RADS 0-5).
    pub assessment: u8,
    /// `subtlety` (1 subtle to 5 obvious).
    pub subtlety: u8,
    /// The `ROI mask images` series.
    pub roi: Series,
    /// The Series Instance UID of a separate `cropped images` series, for the few
    /// abnormalities whose crop is not in the ROI series.
    pub crop_series: Option<String>,
    /// In the ROI series, `1-1.dcm` is the mask (else the crop; one file when the crop has
    /// its own series).
    pub mask_first: bool,
    /// In the CSV, the crop is `000000.dcm` and the mask `000001.dcm` (else swapped).
    pub csv_crop_first: bool,
    /// The `ROI mask file path` cell ends in a newline.
    pub newline: bool,
}

/// One full mammogram (a TCIA "patient" folder such as `Mass-Training_P_00001_LEFT_CC`).
#[derive(Debug, Clone)]
pub struct Image {
    /// Abnormality type.
    pub kind: Kind,
    /// Split.
    pub split: Split,
    /// `P_00001`.
    pub patient: String,
    /// Right breast.
    pub right: bool,
    /// View.
    pub view: View,
    /// `breast density` 1-4.
    pub density: u8,
    /// The full mammogram's series.
    pub full: Series,
    /// Its abnormalities, ids 1, 2, ...
    pub abnormalities: Vec<Abnormality>,
    /// The image's random stream.
    pub stream: u64,
    /// The burned-in label's two lines.
    pub label: [String; 2],
}

impl Image {
    /// `LEFT` or `RIGHT`.
    pub fn side(&self) -> &'static str {
        if self.right {
            "RIGHT"
        } else {
            "LEFT"
        }
    }

    /// `Mass-Training_P_00001_LEFT_CC`: the case folder, PatientID and PatientName.
    pub fn case(&self) -> String {
        format!(
            "{}-{}_{}_{}_{}",
            self.kind.collection(),
            self.split.name(),
            self.patient,
            self.side(),
            self.view.code()
        )
    }

    /// `Mass-Training_P_00001_LEFT_CC_1`: an abnormality's folder.
    pub fn roi_case(&self, a: &Abnormality) -> String {
        format!("{}_{}", self.case(), a.id)
    }

    /// The full mammogram's file, relative to the download folder's parent.
    pub fn full_path(&self) -> String {
        format!(
            "{DOWNLOAD_ROOT}/{}/{}/{}/1-1.dcm",
            self.case(),
            self.full.study_folder(),
            self.full.series_folder(FULL_SERIES, &self.full.series_uid)
        )
    }

    /// The ROI mask's file.
    pub fn mask_path(&self, a: &Abnormality) -> String {
        let file = if a.mask_first || a.crop_series.is_some() {
            "1-1.dcm"
        } else {
            "1-2.dcm"
        };
        format!("{}/{file}", self.roi_series_dir(a))
    }

    /// The cropped image's file.
    pub fn crop_path(&self, a: &Abnormality) -> String {
        match &a.crop_series {
            Some(uid) => format!(
                "{DOWNLOAD_ROOT}/{}/{}/{}/1-1.dcm",
                self.roi_case(a),
                a.roi.study_folder(),
                a.roi.series_folder(CROP_SERIES, uid)
            ),
            None => {
                let file = if a.mask_first { "1-2.dcm" } else { "1-1.dcm" };
                format!("{}/{file}", self.roi_series_dir(a))
            }
        }
    }

    fn roi_series_dir(&self, a: &Abnormality) -> String {
        format!(
            "{DOWNLOAD_ROOT}/{}/{}/{}",
            self.roi_case(a),
            a.roi.study_folder(),
            a.roi.series_folder(ROI_SERIES, &a.roi.series_uid)
        )
    }

    /// The CSV row of abnormality `a`, cells in [`Kind::columns`] order.
    pub fn csv_row(&self, a: &Abnormality) -> Vec<String> {
        let (crop_name, mask_name) = if a.crop_series.is_some() || a.csv_crop_first {
            ("000000.dcm", "000001.dcm")
        } else {
            ("000001.dcm", "000000.dcm")
        };
        let (crop_series, mask_name) = match &a.crop_series {
            Some(uid) => (uid.as_str(), "000000.dcm"),
            None => (a.roi.series_uid.as_str(), mask_name),
        };
        let roi = self.roi_case(a);
        let uid_path = |case: &str, study: &str, series: &str, file: &str| {
            format!("{case}/{study}/{series}/{file}")
        };
        let mut mask = uid_path(&roi, &a.roi.study_uid, &a.roi.series_uid, mask_name);
        if a.newline {
            mask.push('\n');
        }
        vec![
            self.patient.clone(),
            self.density.to_string(),
            self.side().into(),
            self.view.code().into(),
            a.id.to_string(),
            self.kind.abnormality_type().into(),
            a.descriptors[0].into(),
            a.descriptors[1].into(),
            a.assessment.to_string(),
            a.pathology.name().into(),
            a.subtlety.to_string(),
            uid_path(
                &self.case(),
                &self.full.study_uid,
                &self.full.series_uid,
                "000000.dcm",
            ),
            uid_path(&roi, &a.roi.study_uid, crop_series, crop_name),
            mask,
        ]
    }
}

/// How many abnormality rows each CSV gets, and the films' size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CbisSpec {
    /// Rows wanted per CSV, `[kind][split]` in [`Kind::ALL`] x [`Split::ALL`] order (a
    /// CSV gets at least this many: a breast's rows are never split).
    pub rows: [[usize; 2]; 2],
    /// Film height in pixels.
    pub image_rows: usize,
    /// Film width in pixels (even).
    pub image_cols: usize,
    /// Lesion contrast multiplier.
    pub conspicuity: f32,
}

/// The whole twin.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every full mammogram, sorted as the CSVs list them.
    pub images: Vec<Image>,
}

impl Plan {
    /// Plan a twin.
    pub fn build(spec: &CbisSpec, seed: u64) -> Plan {
        let mut rng = Rng::derive(seed, 0xCB15_DD5A);
        let total: usize = spec.rows.iter().flatten().sum();
        // Patient numbers: sparse and increasing as in the download, handed out in a random
        // order so that training and test patients interleave.
        let mut numbers: Vec<u32> = vec![];
        let mut n = 0u32;
        for _ in 0..total + 8 {
            n += rng.range_i64(1, 4) as u32;
            numbers.push(n);
        }
        rng.shuffle(&mut numbers);
        let mut uids = 0u64;
        let mut next_uid = |kind: u64| {
            uids += 1;
            uid(seed, kind, uids)
        };
        let mut images: Vec<Image> = vec![];
        let mut lesions = 0usize;
        // (patient, split, density) of every breast planned so far, for shared patients.
        let mut patients: Vec<(String, Split, u8, Kind, bool)> = vec![];
        for split in Split::ALL {
            for kind in Kind::ALL {
                let want = spec.rows[kind as usize][split as usize];
                let mut rows = 0;
                while rows < want {
                    // A patient with a case of the other type in this split, sometimes.
                    let shared = patients
                        .iter()
                        .filter(|p| p.1 == split && p.3 != kind)
                        .cloned()
                        .collect::<Vec<_>>();
                    let reuse = (!shared.is_empty() && rng.chance(0.12))
                        .then(|| {
                            let p = rng.pick(&shared).clone();
                            (p.0, p.2, if rng.chance(0.5) { p.4 } else { !p.4 })
                        })
                        .filter(|(id, _, right)| {
                            // one breast of one type per patient and side
                            !patients
                                .iter()
                                .any(|p| &p.0 == id && p.3 == kind && p.4 == *right)
                        });
                    let (patient, density, right) = if let Some(p) = reuse {
                        p
                    } else {
                        let number = numbers.pop().unwrap_or(n + 1 + images.len() as u32);
                        let density = 1 + rng.weighted(&[0.15, 0.4, 0.33, 0.12]) as u8;
                        (format!("P_{number:05}"), density, rng.chance(0.5))
                    };
                    patients.push((patient.clone(), split, density, kind, right));
                    let count = 1 + rng.weighted(&[0.85, 0.11, 0.04]);
                    let found: Vec<Finding> = (0..count)
                        .map(|_| {
                            lesions += 1;
                            Finding::draw(kind, lesions - 1, &mut rng)
                        })
                        .collect();
                    let views: &[View] = match rng.weighted(&[0.84, 0.08, 0.08]) {
                        0 => &[View::Cc, View::Mlo],
                        1 => &[View::Cc],
                        _ => &[View::Mlo],
                    };
                    for &view in views {
                        let full = series(&mut rng, &mut next_uid, kind, split, false);
                        let abnormalities = found
                            .iter()
                            .enumerate()
                            .map(|(k, f)| Abnormality {
                                id: k + 1,
                                lesion: f.lesion,
                                pathology: f.pathology,
                                look: f.look,
                                descriptors: f.descriptors,
                                assessment: f.assessment,
                                subtlety: f.subtlety,
                                roi: series(&mut rng, &mut next_uid, kind, split, true),
                                crop_series: None,
                                mask_first: rng.chance(0.5),
                                csv_crop_first: rng.chance(0.8),
                                newline: rng.chance(0.2),
                            })
                            .collect::<Vec<_>>();
                        rows += abnormalities.len();
                        let side = if right { "RIGHT" } else { "LEFT" };
                        let label = [
                            format!("{side} {}", view.code()),
                            format!("{:04}-{}", rng.range_i64(1, 4999), rng.range_i64(1, 4)),
                        ];
                        images.push(Image {
                            kind,
                            split,
                            patient: patient.clone(),
                            right,
                            view,
                            density,
                            full,
                            abnormalities,
                            stream: 0,
                            label,
                        });
                    }
                }
            }
        }
        images.sort_by(|a, b| {
            (a.kind, a.split, &a.patient, a.right, a.view as u8).cmp(&(
                b.kind,
                b.split,
                &b.patient,
                b.right,
                b.view as u8,
            ))
        });
        for (k, img) in images.iter_mut().enumerate() {
            img.stream = k as u64;
        }
        // A few crops in a series of their own (about 3 %, at least one), and at least one
        // newline-ended cell per CSV.
        let all: Vec<(usize, usize)> = images
            .iter()
            .enumerate()
            .flat_map(|(i, img)| (0..img.abnormalities.len()).map(move |a| (i, a)))
            .collect();
        let separate = (all.len() as f64 * 0.03).round().max(1.0) as usize;
        let mut picks = all.clone();
        rng.shuffle(&mut picks);
        for &(i, a) in picks.iter().take(separate) {
            images[i].abnormalities[a].crop_series = Some(next_uid(0xC2));
        }
        for kind in Kind::ALL {
            for split in Split::ALL {
                if let Some(img) = images
                    .iter_mut()
                    .find(|i| i.kind == kind && i.split == split)
                {
                    img.abnormalities[0].newline = true;
                }
            }
        }
        Plan { images }
    }

    /// The rows of one CSV: `(image, abnormality)` in file order.
    pub fn rows(&self, kind: Kind, split: Split) -> Vec<(&Image, &Abnormality)> {
        self.images
            .iter()
            .filter(|i| i.kind == kind && i.split == split)
            .flat_map(|i| i.abnormalities.iter().map(move |a| (i, a)))
            .collect()
    }
}

/// A lesion's findings, shared by its CC and MLO rows.
struct Finding {
    lesion: usize,
    pathology: Pathology,
    look: Look,
    descriptors: [&'static str; 2],
    assessment: u8,
    subtlety: u8,
}

impl Finding {
    fn draw(kind: Kind, lesion: usize, rng: &mut Rng) -> Finding {
        // Pathology mix of the published training CSVs: masses 637 malignant, 577 benign,
        // 104 benign without callback; calcifications 544, 528, 474.
        let weights: &[f64] = match kind {
            Kind::Mass => &[637.0, 577.0, 104.0],
            Kind::Calc => &[544.0, 528.0, 474.0],
        };
        let pathology = [
            Pathology::Malignant,
            Pathology::Benign,
            Pathology::BenignWithoutCallback,
        ][rng.weighted(weights)];
        // The look follows the pathology only in probability.
        let p_suspicious = match pathology {
            Pathology::Malignant => 0.78,
            Pathology::Benign => 0.22,
            Pathology::BenignWithoutCallback => 0.12,
        };
        let suspicious = rng.chance(p_suspicious);
        let look = match (kind, suspicious) {
            (Kind::Mass, true) => Look::SuspiciousMass,
            (Kind::Mass, false) => Look::BenignMass,
            (Kind::Calc, true) if rng.chance(0.3) => Look::LinearCalcifications,
            (Kind::Calc, true) => Look::SuspiciousCalcifications,
            (Kind::Calc, false) => Look::BenignCalcifications,
        };
        let pick = |rng: &mut Rng, items: &[(&'static str, f64)], empty: f64| {
            if rng.chance(empty) {
                return "";
            }
            let w: Vec<f64> = items.iter().map(|i| i.1).collect();
            items[rng.weighted(&w)].0
        };
        let descriptors = match look {
            Look::SuspiciousMass => [
                pick(rng, MASS_SHAPE_SUSPICIOUS, 0.003),
                pick(rng, MASS_MARGINS_SUSPICIOUS, 0.03),
            ],
            Look::BenignMass => [
                pick(rng, MASS_SHAPE_BENIGN, 0.003),
                pick(rng, MASS_MARGINS_BENIGN, 0.03),
            ],
            Look::SuspiciousCalcifications => [
                pick(rng, CALC_TYPE_SUSPICIOUS, 0.013),
                pick(rng, CALC_CLUSTERED, 0.15),
            ],
            Look::LinearCalcifications => [
                pick(rng, CALC_TYPE_SUSPICIOUS, 0.013),
                pick(rng, CALC_LINEAR, 0.1),
            ],
            Look::BenignCalcifications => [
                pick(rng, CALC_TYPE_BENIGN, 0.013),
                pick(rng, CALC_SCATTERED, 0.35),
            ],
        };
        let assessment_weights: &[f64] = match (pathology, suspicious) {
            (Pathology::BenignWithoutCallback, _) => &[0.1, 0.0, 0.6, 0.2, 0.1, 0.0],
            (_, true) => &[0.1, 0.0, 0.0, 0.1, 0.45, 0.35],
            (_, false) => &[0.15, 0.0, 0.3, 0.3, 0.25, 0.0],
        };
        Finding {
            lesion,
            pathology,
            look,
            descriptors,
            assessment: rng.weighted(assessment_weights) as u8,
            subtlety: 1 + rng.weighted(&[0.05, 0.1, 0.3, 0.25, 0.3]) as u8,
        }
    }
}

const MASS_SHAPE_SUSPICIOUS: &[(&str, f64)] = &[
    ("IRREGULAR", 0.5),
    ("ARCHITECTURAL_DISTORTION", 0.15),
    ("IRREGULAR-ARCHITECTURAL_DISTORTION", 0.1),
    ("LOBULATED", 0.1),
    ("FOCAL_ASYMMETRIC_DENSITY", 0.05),
    ("ASYMMETRIC_BREAST_TISSUE", 0.05),
    ("OVAL", 0.05),
];
const MASS_MARGINS_SUSPICIOUS: &[(&str, f64)] = &[
    ("SPICULATED", 0.45),
    ("ILL_DEFINED", 0.4),
    ("ILL_DEFINED-SPICULATED", 0.1),
    ("MICROLOBULATED", 0.05),
];
const MASS_SHAPE_BENIGN: &[(&str, f64)] = &[
    ("OVAL", 0.35),
    ("ROUND", 0.25),
    ("LOBULATED", 0.25),
    ("IRREGULAR", 0.1),
    ("LYMPH_NODE", 0.05),
];
const MASS_MARGINS_BENIGN: &[(&str, f64)] = &[
    ("CIRCUMSCRIBED", 0.5),
    ("OBSCURED", 0.3),
    ("ILL_DEFINED", 0.15),
    ("CIRCUMSCRIBED-OBSCURED", 0.05),
];
const CALC_TYPE_SUSPICIOUS: &[(&str, f64)] = &[
    ("PLEOMORPHIC", 0.5),
    ("AMORPHOUS", 0.2),
    ("FINE_LINEAR_BRANCHING", 0.15),
    ("PUNCTATE-PLEOMORPHIC", 0.1),
    ("PLEOMORPHIC-FINE_LINEAR_BRANCHING", 0.05),
];
const CALC_TYPE_BENIGN: &[(&str, f64)] = &[
    ("ROUND_AND_REGULAR", 0.2),
    ("LUCENT_CENTER", 0.2),
    ("PUNCTATE", 0.15),
    ("COARSE", 0.1),
    ("VASCULAR", 0.1),
    ("EGGSHELL", 0.05),
    ("DYSTROPHIC", 0.05),
    ("MILK_OF_CALCIUM", 0.05),
    ("ROUND_AND_REGULAR-LUCENT_CENTER", 0.05),
    ("SKIN", 0.05),
];
const CALC_CLUSTERED: &[(&str, f64)] = &[("CLUSTERED", 0.85), ("REGIONAL", 0.15)];
const CALC_LINEAR: &[(&str, f64)] = &[
    ("LINEAR", 0.45),
    ("SEGMENTAL", 0.35),
    ("CLUSTERED-LINEAR", 0.2),
];
const CALC_SCATTERED: &[(&str, f64)] = &[
    ("CLUSTERED", 0.4),
    ("REGIONAL", 0.25),
    ("DIFFUSELY_SCATTERED", 0.25),
    ("SEGMENTAL", 0.1),
];

/// A series of a new study: full mammograms and ROI series of one collection were
/// converted on a few days, which the folder dates show.
fn series(
    rng: &mut Rng,
    next_uid: &mut impl FnMut(u64) -> String,
    kind: Kind,
    split: Split,
    roi: bool,
) -> Series {
    let days: &[(i32, u32, u32)] = match (kind, split, roi) {
        (Kind::Mass, Split::Training, false) => &[(2016, 7, 20)],
        (Kind::Mass, Split::Training, true) => &[(2016, 7, 21), (2017, 8, 29)],
        (Kind::Mass, Split::Test, false) => &[(2016, 7, 20), (2017, 8, 29)],
        (Kind::Mass, Split::Test, true) => &[(2016, 7, 21), (2017, 9, 6)],
        (Kind::Calc, Split::Training, false) => &[(2016, 8, 7), (2017, 8, 29)],
        (Kind::Calc, Split::Training, true) => &[(2017, 9, 6)],
        (Kind::Calc, Split::Test, false) => &[(2017, 8, 29)],
        (Kind::Calc, Split::Test, true) => &[(2017, 9, 6), (2017, 8, 29)],
    };
    let &(y, m, d) = rng.pick(days);
    Series {
        study_uid: next_uid(0xC1),
        series_uid: next_uid(0xC2),
        date: Date { y, m, d },
        time: Time {
            h: rng.range_i64(8, 19) as u32,
            m: rng.range_i64(0, 59) as u32,
            s: rng.range_i64(0, 59) as u32,
        },
    }
}

/// The `breast density` (1-4) as the phantom's category.
pub fn density(d: u8) -> Density {
    match d {
        1 => Density::A,
        2 => Density::B,
        3 => Density::C,
        _ => Density::D,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CbisSpec {
        CbisSpec {
            rows: [[20, 8], [20, 8]],
            image_rows: 64,
            image_cols: 40,
            conspicuity: 1.0,
        }
    }

    #[test]
    fn rows_paths_and_quirks() {
        let plan = Plan::build(&spec(), 1);
        for kind in Kind::ALL {
            for split in Split::ALL {
                let rows = plan.rows(kind, split);
                assert!(rows.len() >= spec().rows[kind as usize][split as usize]);
                assert!(rows.iter().any(|(_, a)| a.newline));
                for (img, a) in rows {
                    let cells = img.csv_row(a);
                    assert_eq!(cells.len(), 14);
                    let case = img.case();
                    assert!(cells[11].starts_with(&format!("{case}/{}/", img.full.study_uid)));
                    assert!(cells[12].starts_with(&format!("{case}_{}/", a.id)));
                    assert!(img.full_path().ends_with("/1-1.dcm"));
                    assert!(img.full_path().contains(uid_tail(&img.full.series_uid)));
                    assert_ne!(img.mask_path(a), img.crop_path(a));
                }
            }
        }
        let crops = plan
            .images
            .iter()
            .flat_map(|i| &i.abnormalities)
            .filter(|a| a.crop_series.is_some())
            .count();
        assert!(crops >= 1);
        assert!(plan.images.iter().any(|i| i.abnormalities.len() > 1));
        // Case folders are unique.
        let mut cases: Vec<String> = plan.images.iter().map(Image::case).collect();
        cases.sort();
        let n = cases.len();
        cases.dedup();
        assert_eq!(cases.len(), n);
    }
}
