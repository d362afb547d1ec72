//! A twin of the RSNA Screening Mammography Breast Cancer Detection download (Kaggle,
//! 2022-23; seed 000's data), laid out as the competition ships it:
//!
//! - `train.csv`: `site_id, patient_id, image_id, laterality, view, age, cancer, biopsy,
//!   invasive, BIRADS, implant, density, machine_id, difficult_negative_case`, one row per
//!   image, patients in ascending id. `age` is written as a float (`61.0`) and empty for a
//!   few patients; `BIRADS` (0 recall, 1 negative, 2 benign) and `density` (A-D) are empty on
//!   every site-2 row and on some site-1 rows; `difficult_negative_case` is `True`/`False`;
//! - `train_images/<patient_id>/<image_id>.dcm`: full-field digital mammograms, 12 bits
//!   stored, at least L/R x CC/MLO per patient and extra views (`MLO` again, `LM`, `ML`,
//!   `AT`, `LMO`) for some. The two sites' files differ as the download's do: site 1 writes
//!   JPEG 2000 lossless (`1.2.840.10008.1.2.4.90`), site 2 JPEG lossless SV1
//!   (`1.2.840.10008.1.2.4.70`); two machines store MONOCHROME1, one sets `VOILUTFunction`
//!   `SIGMOID`. `PatientID` is the row's `patient_id`;
//! - `test.csv` (`site_id, patient_id, image_id, laterality, view, age, implant, machine_id,
//!   prediction_id`) with one patient's four images in `test_images/`, and
//!   `sample_submission.csv` (`prediction_id,cancer`, one row per breast, `0.021`), as the
//!   competition's public files are;
//! - `ground_truth.json` (every image's row, file, site, machine, transfer syntax,
//!   photometric interpretation, VOI function, class, lesion look and box) and
//!   `manifest.toml` (`data-manifests/rsna-screening.toml` with the twin's checksums).
//!
//! About 2 % of breasts have cancer (the download: 1.2 % of images; the twin has more so
//! that the ci scale has some), every cancer is biopsied, about 70 % invasive; a few
//! negatives were biopsied too (`biopsy` 1, `cancer` 0, and the twin marks exactly those
//! `difficult_negative_case`). Images are rendered far smaller than the download's (up to
//! 5355 x 4915): 208 x 256 at `ci`, 312 x 384 at `default`. Which machine ids belong to
//! which site, and which machines write MONOCHROME1 or SIGMOID, are the twin's choices;
//! the column vocabularies and the two transfer syntaxes are the download's.

use std::fs;
use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use serde::Serialize;

use super::cbis::film::{self, FilmSpec, Look};
use super::codec::{self, JPEG_2000_LOSSLESS, JPEG_LOSSLESS_SV1};
use super::phantom::{Density, View};
use super::Profile;
use super::{MANIFEST, TRUTH};
use crate::error::{Error, IoContext, Result};
use crate::rng::Rng;

/// The training table.
pub const TRAIN: &str = "train.csv";
/// The public test table.
pub const TEST: &str = "test.csv";
/// The submission template.
pub const SUBMISSION: &str = "sample_submission.csv";
/// The training images' folder.
pub const TRAIN_IMAGES: &str = "train_images";
/// The public test images' folder.
pub const TEST_IMAGES: &str = "test_images";
/// The `synth --profile` name.
pub const PROFILE: &str = "rsna";
/// The manifest template the twin's manifest is made from.
pub const TEMPLATE: &str = include_str!("../../data-manifests/rsna-screening.toml");
/// `train.csv`'s columns, in the download's order.
pub const TRAIN_COLUMNS: [&str; 14] = [
    "site_id",
    "patient_id",
    "image_id",
    "laterality",
    "view",
    "age",
    "cancer",
    "biopsy",
    "invasive",
    "BIRADS",
    "implant",
    "density",
    "machine_id",
    "difficult_negative_case",
];
/// `test.csv`'s columns, in the download's order.
pub const TEST_COLUMNS: [&str; 9] = [
    "site_id",
    "patient_id",
    "image_id",
    "laterality",
    "view",
    "age",
    "implant",
    "machine_id",
    "prediction_id",
];
/// Bits stored in every twin DICOM.
pub const BITS_STORED: u16 = 12;

/// What to generate: the scale, seed and overwrite choice every twin takes.
pub type RsnaOptions = super::TwinOptions;

/// What rendering one image gives back: its lesion's box and the header's (centre, width).
type Rendered = (Option<[usize; 4]>, (f64, f64));

/// One acquisition machine.
#[derive(Debug, Clone, Copy)]
struct Machine {
    id: u32,
    site: u8,
    /// Share of its site's patients.
    weight: u32,
    monochrome1: bool,
    sigmoid: bool,
}

const MACHINES: [Machine; 11] = [
    Machine {
        id: 49,
        site: 1,
        weight: 40,
        monochrome1: false,
        sigmoid: true,
    },
    Machine {
        id: 48,
        site: 1,
        weight: 25,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 29,
        site: 1,
        weight: 20,
        monochrome1: true,
        sigmoid: false,
    },
    Machine {
        id: 21,
        site: 1,
        weight: 15,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 93,
        site: 2,
        weight: 25,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 216,
        site: 2,
        weight: 20,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 210,
        site: 2,
        weight: 20,
        monochrome1: true,
        sigmoid: false,
    },
    Machine {
        id: 170,
        site: 2,
        weight: 15,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 190,
        site: 2,
        weight: 10,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 197,
        site: 2,
        weight: 5,
        monochrome1: false,
        sigmoid: false,
    },
    Machine {
        id: 120,
        site: 2,
        weight: 5,
        monochrome1: false,
        sigmoid: false,
    },
];

/// The transfer syntax a site's files are written in.
pub fn transfer_syntax_of(site: u8) -> &'static str {
    if site == 1 {
        JPEG_2000_LOSSLESS
    } else {
        JPEG_LOSSLESS_SV1
    }
}

/// Training patients, breasts with cancer, and the image size (cols, rows).
fn shape(scale: Profile) -> (usize, usize, (usize, usize)) {
    match scale {
        Profile::Ci => (160, 8, (208, 256)),
        _ => (1200, 48, (312, 384)),
    }
}

/// One image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageTruth {
    /// Its file, relative to the twin's root.
    pub file: String,
    /// `train` or `test`.
    pub split: String,
    /// Its line in the table (header = 1).
    pub row: usize,
    /// `site_id`.
    pub site_id: u8,
    /// `machine_id`.
    pub machine_id: u32,
    /// `patient_id`.
    pub patient_id: u32,
    /// `image_id`.
    pub image_id: u32,
    /// `L` or `R`.
    pub laterality: char,
    /// `view`.
    pub view: String,
    /// `cancer` (test images: the twin's truth, which `test.csv` does not carry).
    pub cancer: bool,
    /// The file's transfer syntax UID.
    pub transfer_syntax: String,
    /// Stored as MONOCHROME1 (white is 0).
    pub monochrome1: bool,
    /// `VOILUTFunction` is `SIGMOID`.
    pub sigmoid: bool,
    /// The window the header gives: (centre, width).
    pub window: (f64, f64),
    /// The lesion's look, when there is one.
    pub look: Option<Look>,
    /// Its box `[x0, y0, x1, y1)` in pixels.
    pub bbox: Option<[usize; 4]>,
}

/// What the twin holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RsnaCounts {
    /// Rows of `train.csv` (= training images).
    pub images: usize,
    /// Training patients.
    pub patients: usize,
    /// Images with `cancer` 1.
    pub cancer_images: usize,
    /// Breasts with cancer.
    pub cancer_breasts: usize,
    /// Images of site 1 and of site 2.
    pub per_site: [usize; 2],
    /// Images stored as MONOCHROME1.
    pub monochrome1: usize,
    /// Images whose VOI function is SIGMOID.
    pub sigmoid: usize,
    /// Images beyond the four L/R x CC/MLO of their patient.
    pub extra_views: usize,
    /// Rows of `test.csv`.
    pub test_images: usize,
}

/// The twin's ground truth (`ground_truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RsnaTruth {
    /// The version of mammolab that wrote it.
    pub generator: String,
    /// `rsna-ci` or `rsna-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The counts.
    pub counts: RsnaCounts,
    /// Every image: `train.csv`'s rows in order, then `test.csv`'s.
    pub images: Vec<ImageTruth>,
}

/// What [`generate`] wrote.
pub type RsnaSummary = super::TwinSummary<RsnaCounts>;

/// One patient.
#[derive(Debug, Clone)]
struct PatientPlan {
    id: u32,
    machine: Machine,
    age: Option<u32>,
    implant: bool,
    density: Density,
    /// `density` written (site 1, most rows).
    density_known: bool,
    test: bool,
}

/// One image before it is rendered.
#[derive(Debug, Clone)]
struct Planned {
    patient: usize,
    image_id: u32,
    right: bool,
    view: &'static str,
    cancer: bool,
    biopsy: bool,
    invasive: bool,
    birads: Option<u8>,
    look: Option<Look>,
}

/// Write the twin into `out`.
pub fn generate(opts: &RsnaOptions, out: &Path) -> Result<RsnaSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    super::prepare_out(
        out,
        opts.overwrite,
        &[TRAIN, TEST, SUBMISSION, TRUTH, MANIFEST],
        &[TRAIN_IMAGES, TEST_IMAGES],
    )?;
    let (n, cancers, size) = shape(opts.scale);
    let (patients, images) = plan(opts.seed, n, cancers);
    for p in &patients {
        let dir = out
            .join(if p.test { TEST_IMAGES } else { TRAIN_IMAGES })
            .join(p.id.to_string());
        fs::create_dir_all(&dir).at(&dir)?;
    }
    let rendered: Vec<Rendered> = images
        .par_iter()
        .map(|i| render(i, &patients[i.patient], opts.seed, size, out))
        .collect::<Result<_>>()?;

    let (mut train, mut test) = (vec![TRAIN_COLUMNS.join(",")], vec![TEST_COLUMNS.join(",")]);
    let mut submission = vec!["prediction_id,cancer".to_string()];
    let mut truths = vec![];
    for (i, (bbox, window)) in images.iter().zip(rendered) {
        let p = &patients[i.patient];
        let lines = if p.test { &mut test } else { &mut train };
        lines.push(if p.test {
            test_row(i, p)
        } else {
            train_row(i, p)
        });
        let prediction_id = prediction_id(p.id, i.right);
        if p.test && !submission.iter().any(|l| l.starts_with(&prediction_id)) {
            submission.push(format!("{prediction_id},0.021"));
        }
        truths.push(ImageTruth {
            file: file_of(i, p),
            split: if p.test { "test" } else { "train" }.into(),
            row: lines.len(),
            site_id: p.machine.site,
            machine_id: p.machine.id,
            patient_id: p.id,
            image_id: i.image_id,
            laterality: side(i.right),
            view: i.view.into(),
            cancer: i.cancer,
            transfer_syntax: transfer_syntax_of(p.machine.site).into(),
            monochrome1: p.machine.monochrome1,
            sigmoid: p.machine.sigmoid,
            window,
            look: i.look,
            bbox,
        });
    }
    for (name, lines) in [(TRAIN, &train), (TEST, &test), (SUBMISSION, &submission)] {
        let text = lines.join("\n") + "\n";
        crate::outlock::write_atomic(&out.join(name), text.as_bytes())?;
    }

    let trained: Vec<&ImageTruth> = truths.iter().filter(|t| t.split == "train").collect();
    let mut cancer_breasts: Vec<(u32, char)> = trained
        .iter()
        .filter(|t| t.cancer)
        .map(|t| (t.patient_id, t.laterality))
        .collect();
    cancer_breasts.dedup();
    let counts = RsnaCounts {
        images: trained.len(),
        patients: patients.iter().filter(|p| !p.test).count(),
        cancer_images: trained.iter().filter(|t| t.cancer).count(),
        cancer_breasts: cancer_breasts.len(),
        per_site: [1, 2].map(|s| trained.iter().filter(|t| t.site_id == s).count()),
        monochrome1: trained.iter().filter(|t| t.monochrome1).count(),
        sigmoid: trained.iter().filter(|t| t.sigmoid).count(),
        extra_views: trained.len() - 4 * patients.iter().filter(|p| !p.test).count(),
        test_images: test.len() - 1,
    };
    let truth = RsnaTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.name(PROFILE),
        seed: opts.seed,
        counts: counts.clone(),
        images: truths,
    };
    opts.finish(out, PROFILE, TEMPLATE, &truth, counts)
}

fn side(right: bool) -> char {
    if right {
        'R'
    } else {
        'L'
    }
}

/// The competition's breast id: `<patient_id>_<laterality>`.
pub fn prediction_id(patient: u32, right: bool) -> String {
    format!("{patient}_{}", side(right))
}

/// `train_images/<patient_id>/<image_id>.dcm` (or `test_images/...`).
fn file_of(i: &Planned, p: &PatientPlan) -> String {
    let folder = if p.test { TEST_IMAGES } else { TRAIN_IMAGES };
    format!("{folder}/{}/{}.dcm", p.id, i.image_id)
}

/// Every patient (training ones in ascending id, then the test patient) and every image.
fn plan(seed: u64, n: usize, cancers: usize) -> (Vec<PatientPlan>, Vec<Planned>) {
    let mut rng = Rng::derive(seed, 0x25A0_0000);
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < n + 1 {
        ids.insert(rng.range_i64(10_000, 65_535) as u32);
    }
    let mut ids: Vec<u32> = ids.into_iter().collect();
    // The public test patient is one of the ids, not the last: its id sorts among the others.
    let test_id = ids.remove(rng.range_i64(0, ids.len() as i64 - 1) as usize);
    let weight = |s: u8| -> u32 {
        MACHINES
            .iter()
            .filter(|m| m.site == s)
            .map(|m| m.weight)
            .sum()
    };
    let mut patients: Vec<PatientPlan> = ids
        .iter()
        .map(|&id| (id, false))
        .chain([(test_id, true)])
        .map(|(id, test)| {
            let site = if rng.chance(0.55) { 1 } else { 2 };
            let mut pick = rng.range_i64(0, i64::from(weight(site)) - 1) as u32;
            let machine = *MACHINES
                .iter()
                .filter(|m| m.site == site)
                .find(|m| {
                    let hit = pick < m.weight;
                    pick = pick.saturating_sub(m.weight);
                    hit
                })
                .expect("weights cover the range");
            PatientPlan {
                id,
                machine,
                age: (!rng.chance(0.01)).then(|| rng.range_i64(38, 89) as u32),
                implant: rng.chance(0.03),
                density: *rng.pick(&[
                    Density::A,
                    Density::B,
                    Density::B,
                    Density::C,
                    Density::C,
                    Density::D,
                ]),
                density_known: site == 1 && !rng.chance(0.1),
                test,
            }
        })
        .collect();
    // The breasts with cancer, among the training patients'.
    let mut breasts: Vec<(usize, bool)> = (0..n).flat_map(|p| [(p, false), (p, true)]).collect();
    rng.shuffle(&mut breasts);
    let cancer: std::collections::HashSet<(usize, bool)> =
        breasts[..cancers].iter().copied().collect();
    let mut used = std::collections::HashSet::new();
    let mut images = vec![];
    for (pi, p) in patients.iter_mut().enumerate() {
        for right in [false, true] {
            let has_cancer = cancer.contains(&(pi, right));
            let benign_biopsy = !has_cancer && !p.test && rng.chance(0.02);
            let biopsy = has_cancer || benign_biopsy;
            let invasive = has_cancer && rng.chance(0.7);
            let look = if has_cancer {
                Some(if rng.chance(0.55) {
                    Look::SuspiciousMass
                } else {
                    Look::SuspiciousCalcifications
                })
            } else if benign_biopsy {
                Some(if rng.chance(0.5) {
                    Look::BenignMass
                } else {
                    Look::BenignCalcifications
                })
            } else {
                None
            };
            let birads = (p.machine.site == 1 && !rng.chance(0.1)).then(|| {
                if biopsy || rng.chance(0.02) {
                    0
                } else if rng.chance(0.18) {
                    2
                } else {
                    1
                }
            });
            let mut views = vec!["CC", "MLO"];
            if !p.test && rng.chance(0.12) {
                views.push(*rng.pick(&["CC", "MLO", "MLO", "LM", "ML", "AT", "LMO"]));
            }
            for view in views {
                let image_id = loop {
                    let id = rng.range_i64(100_000, 2_147_483_647) as u32;
                    if used.insert(id) {
                        break id;
                    }
                };
                images.push(Planned {
                    patient: pi,
                    image_id,
                    right,
                    view,
                    cancer: has_cancer,
                    biopsy,
                    invasive,
                    birads,
                    look,
                });
            }
        }
    }
    (patients, images)
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// The fields `train.csv` and `test.csv` start with: `site_id, patient_id, image_id,
/// laterality, view, age`.
fn leading_fields(i: &Planned, p: &PatientPlan) -> Vec<String> {
    vec![
        p.machine.site.to_string(),
        p.id.to_string(),
        i.image_id.to_string(),
        side(i.right).to_string(),
        i.view.into(),
        p.age.map_or(String::new(), |a| format!("{a}.0")),
    ]
}

/// One `train.csv` line.
fn train_row(i: &Planned, p: &PatientPlan) -> String {
    let density = if p.density_known {
        ["A", "B", "C", "D"][p.density.index()]
    } else {
        ""
    };
    let mut fields = leading_fields(i, p);
    fields.extend([
        flag(i.cancer).into(),
        flag(i.biopsy).into(),
        flag(i.invasive).into(),
        i.birads.map_or(String::new(), |b| b.to_string()),
        flag(p.implant).into(),
        density.into(),
        p.machine.id.to_string(),
        if i.biopsy && !i.cancer {
            "True"
        } else {
            "False"
        }
        .into(),
    ]);
    fields.join(",")
}

/// One `test.csv` line.
fn test_row(i: &Planned, p: &PatientPlan) -> String {
    let mut fields = leading_fields(i, p);
    fields.extend([
        flag(p.implant).into(),
        p.machine.id.to_string(),
        prediction_id(p.id, i.right),
    ]);
    fields.join(",")
}

/// Render one image, write its DICOM, and return the lesion's box and the header's window.
fn render(
    i: &Planned,
    p: &PatientPlan,
    seed: u64,
    (cols, rows): (usize, usize),
    out: &Path,
) -> Result<Rendered> {
    let mut rng = Rng::derive(seed, 0x25A0_1000 ^ u64::from(i.image_id));
    let spec = FilmSpec {
        rows,
        cols,
        density: p.density,
        view: if i.view == "CC" { View::Cc } else { View::Mlo },
        right: i.right,
        lesions: i.look.map(|l| (l, 1.0)).into_iter().collect(),
        label: [String::new(), String::new()],
        scanned: false,
    };
    let film = film::render(&spec, &mut rng);
    let max = (1u16 << BITS_STORED) - 1;
    // 12 bits stored: the top 12 of the phantom's 16.
    let values: Vec<u16> = film
        .stored
        .iter()
        .map(|&v| v >> (16 - BITS_STORED))
        .collect();
    // The window a modality sets: the breast's 2nd to 98th percentile.
    let mut breast: Vec<u16> = values.iter().copied().filter(|&v| v > max / 20).collect();
    breast.sort_unstable();
    let q = |f: f64| {
        f64::from(
            breast
                .get(((breast.len() as f64 - 1.0) * f) as usize)
                .copied()
                .unwrap_or(max / 2),
        )
    };
    let (lo, hi) = (q(0.02), q(0.98));
    let stored: Vec<u16> = if p.machine.monochrome1 {
        values.iter().map(|&v| max - v).collect()
    } else {
        values
    };
    let centre = if p.machine.monochrome1 {
        f64::from(max) - (lo + hi) / 2.0
    } else {
        (lo + hi) / 2.0
    };
    let window = (centre.round(), (hi - lo).max(2.0).round());
    let path = out.join(file_of(i, p));
    write_dicom(&path, i, p, rows, cols, &stored, window, seed)?;
    Ok((film.masks.first().map(|m| m.bbox), window))
}

#[allow(clippy::too_many_arguments)]
fn write_dicom(
    path: &Path,
    i: &Planned,
    p: &PatientPlan,
    rows: usize,
    cols: usize,
    stored: &[u16],
    (centre, width): (f64, f64),
    seed: u64,
) -> Result<()> {
    let ts = transfer_syntax_of(p.machine.site);
    let frame = if ts == JPEG_2000_LOSSLESS {
        codec::j2k_lossless(stored, cols, rows, BITS_STORED as u8).map_err(|message| {
            Error::DicomWrite {
                path: path.to_path_buf(),
                message,
            }
        })?
    } else {
        codec::jpeg_lossless_sv1(stored, cols, rows, BITS_STORED as u8)
    };
    let s = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v.to_string()));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let photometric = if p.machine.monochrome1 {
        "MONOCHROME1"
    } else {
        "MONOCHROME2"
    };
    let mut elements = vec![
        s(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
        ),
        s(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &super::dicom::uid(seed, 0x25A1, u64::from(i.image_id)),
        ),
        s(tags::MODALITY, VR::CS, "MG"),
        s(tags::PATIENT_ID, VR::LO, &p.id.to_string()),
        s(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            &super::dicom::uid(seed, 0x25A2, u64::from(p.id)),
        ),
        s(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            &super::dicom::uid(seed, 0x25A3, u64::from(i.image_id)),
        ),
        s(tags::VIEW_POSITION, VR::CS, i.view),
        s(tags::IMAGE_LATERALITY, VR::CS, &side(i.right).to_string()),
        us(tags::SAMPLES_PER_PIXEL, 1),
        s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric),
        us(tags::ROWS, rows as u16),
        us(tags::COLUMNS, cols as u16),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, BITS_STORED),
        us(tags::HIGH_BIT, BITS_STORED - 1),
        us(tags::PIXEL_REPRESENTATION, 0),
        s(tags::WINDOW_CENTER, VR::DS, &format!("{centre}")),
        s(tags::WINDOW_WIDTH, VR::DS, &format!("{width}")),
        s(tags::RESCALE_INTERCEPT, VR::DS, "0"),
        s(tags::RESCALE_SLOPE, VR::DS, "1"),
        s(tags::RESCALE_TYPE, VR::LO, "US"),
        s(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
    ];
    if p.machine.sigmoid {
        elements.push(s(tags::VOILUT_FUNCTION, VR::CS, "SIGMOID"));
    }
    let mut obj = InMemDicomObject::from_element_iter(elements);
    obj.put(codec::encapsulated_pixel_data(frame));
    super::dicom::save(obj, ts, path)
}
