//! A twin of the INbreast release (seed 002's second source), laid out as `INbreast Release
//! 1.0` unpacks:
//!
//! - `INbreast.xls` (Excel 97-2003, one sheet `Sheet1`): `Patient ID, Patient age, Laterality,
//!   View, Acquisition date, File Name, ACR, Bi-Rads` (the columns the release's description
//!   and its CSV name), then the finding columns public code reads from the workbook: `Mass `
//!   (with its trailing space), `Micros, Distortion, Asymmetry, Findings Notes (in
//!   Portuguese), Other Notes, Lesion Annotation Status, Pectoral Muscle Annotation, Other
//!   Annotations` (their order here is not verified against the release; the twin leaves the
//!   last four empty). `Patient ID` and `Patient age` say `removed` on every row; `File Name`,
//!   `ACR`, `Acquisition date` (YYYYMM) and the whole-number BI-RADS are number cells,
//!   `4a`/`4b`/`4c` text; a few ACR cells are empty; two rows below the table are not data
//!   (public code reads the sheet with `[:-2]`);
//! - `AllDICOMs/<File Name>_<patient>_MG_<L|R>_<CC|ML>_ANON.dcm`: full-field digital
//!   mammograms, 14 bits stored in 16, MONOCHROME2 and on some MONOCHROME1, with no patient
//!   id in the header: the patient is only the 16-hex-digit part of the file name. Files are
//!   named `ML` where the table says `MLO`. 90 women with both breasts (four films) and 25
//!   after a mastectomy (two), as in the release;
//! - `ground_truth.json` (every film's patient, side, view, BI-RADS, class and lesion box) and
//!   `manifest.toml` (the `data-manifests/inbreast.toml` template with the twin's checksums).
//!
//! Films are rendered smaller than the release's 3328 x 4084 and 2560 x 3328: 640 x 832 at
//! `default` (a quarter a side), 320 x 416 at `ci`. Lesions are the CBIS-DDSM twin's
//! ([`film`]) without the film scanner's marks: BI-RADS 2-3 benign-looking masses or coarse
//! calcifications, 4a-6 spiculated masses or fine pleomorphic calcifications (4a sometimes
//! benign-looking); BI-RADS 1 none. The release's `AllXML`, `AllROI` and `MedicalReports`
//! folders are not written.

use std::fs;
use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{smallvec::SmallVec, DataElement, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use serde::Serialize;

use super::cbis::film::{self, FilmSpec, Look};
use super::phantom::{Density, View};
use super::xls::{write_xls, XlsCell};
use super::Profile;
use super::{MANIFEST, TRUTH};
use crate::error::{IoContext, Result};
use crate::rng::Rng;

/// The table.
pub const TABLE: &str = "INbreast.xls";
/// The folder of films.
pub const FOLDER: &str = "AllDICOMs";
/// The `synth --profile` name.
pub const PROFILE: &str = "inbreast";
/// The manifest template the twin's manifest is made from.
pub const TEMPLATE: &str = include_str!("../../data-manifests/inbreast.toml");
/// The table's columns, in the twin's order.
pub const COLUMNS: [&str; 17] = [
    "Patient ID",
    "Patient age",
    "Laterality",
    "View",
    "Acquisition date",
    "File Name",
    "ACR",
    "Bi-Rads",
    "Mass ",
    "Micros",
    "Distortion",
    "Asymmetry",
    "Findings Notes (in Portuguese)",
    "Other Notes",
    "Lesion Annotation Status",
    "Pectoral Muscle Annotation",
    "Other Annotations",
];
/// BI-RADS categories and how many of the release's 410 films have each.
const BIRADS: [(&str, usize); 8] = [
    ("1", 67),
    ("2", 220),
    ("3", 23),
    ("4a", 13),
    ("4b", 8),
    ("4c", 22),
    ("5", 49),
    ("6", 8),
];

/// What to generate: the scale, seed and overwrite choice every twin takes.
pub type InbreastOptions = super::TwinOptions;

/// Women with both breasts, women after a mastectomy, and the film size (cols, rows).
fn shape(scale: Profile) -> (usize, usize, (usize, usize)) {
    match scale {
        Profile::Ci => (8, 2, (320, 416)),
        _ => (90, 25, (640, 832)),
    }
}

/// The class a BI-RADS category maps to by the template's default.
pub fn class_of(birads: &str) -> &'static str {
    match birads {
        "1" => "normal",
        "2" | "3" => "benign",
        _ => "malignant",
    }
}

/// One film.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilmTruth {
    /// Its file, relative to the twin's root.
    pub file: String,
    /// The table's `File Name`.
    pub file_name: u64,
    /// The patient (the file name's second part).
    pub patient: String,
    /// `L` or `R`.
    pub laterality: char,
    /// `CC` or `MLO` (the file name says `ML`).
    pub view: String,
    /// BI-RADS as the table writes it.
    pub birads: String,
    /// `normal`, `benign` or `malignant` (the template's mapping).
    pub class: String,
    /// The lesion's look, when there is one.
    pub look: Option<Look>,
    /// Its box `[x0, y0, x1, y1)` in pixels.
    pub bbox: Option<[usize; 4]>,
    /// Stored as MONOCHROME1 (white is 0).
    pub monochrome1: bool,
    /// Row of the table (header = 1).
    pub row: usize,
}

/// What the twin holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InbreastCounts {
    /// Films.
    pub films: usize,
    /// Women.
    pub patients: usize,
    /// Women with one breast imaged.
    pub mastectomies: usize,
    /// Films per class: normal, benign, malignant.
    pub classes: [usize; 3],
    /// Rows of the sheet below the header, the two non-data rows included.
    pub rows: usize,
}

/// The twin's ground truth (`ground_truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InbreastTruth {
    /// The version of mammolab that wrote it.
    pub generator: String,
    /// `inbreast-ci` or `inbreast-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The counts.
    pub counts: InbreastCounts,
    /// Every film, in table order.
    pub films: Vec<FilmTruth>,
}

/// What [`generate`] wrote.
pub type InbreastSummary = super::TwinSummary<InbreastCounts>;

/// A film before it is rendered.
struct Planned {
    file_name: u64,
    patient: String,
    right: bool,
    view: View,
    birads: &'static str,
    density: Density,
    acr: Option<u8>,
    date: u32,
    monochrome1: bool,
    look: Option<Look>,
}

/// Write the twin into `out`.
pub fn generate(opts: &InbreastOptions, out: &Path) -> Result<InbreastSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    super::prepare_out(out, opts.overwrite, &[TABLE, TRUTH, MANIFEST], &[FOLDER])?;
    let dir = out.join(FOLDER);
    fs::create_dir_all(&dir).at(&dir)?;
    let (both, single, size) = shape(opts.scale);
    let films = plan(opts.seed, both, single);
    let boxes: Vec<Option<[usize; 4]>> = films
        .par_iter()
        .map(|f| render(f, opts.seed, size, &dir))
        .collect::<Result<_>>()?;
    let mut rows = vec![COLUMNS.map(|c| XlsCell::Text(c.into())).to_vec()];
    rows.extend(films.iter().map(table_row));
    // Below the table, two rows that are not data (the twin's own legend).
    for legend in [
        "ACR: breast density, 1 (fatty) to 4 (extremely dense)",
        "Bi-Rads: assessment category, 1 to 6",
    ] {
        rows.push(vec![XlsCell::Text(legend.into())]);
    }
    write_xls(&out.join(TABLE), "Sheet1", &rows)?;

    let truths: Vec<FilmTruth> = films
        .iter()
        .zip(boxes)
        .enumerate()
        .map(|(i, (f, bbox))| FilmTruth {
            file: format!("{FOLDER}/{}", file_of(f)),
            file_name: f.file_name,
            patient: f.patient.clone(),
            laterality: if f.right { 'R' } else { 'L' },
            view: f.view.code().into(),
            birads: f.birads.into(),
            class: class_of(f.birads).into(),
            look: f.look,
            bbox,
            monochrome1: f.monochrome1,
            row: i + 2,
        })
        .collect();
    let count = |c: &str| truths.iter().filter(|t| t.class == c).count();
    let counts = InbreastCounts {
        films: truths.len(),
        patients: both + single,
        mastectomies: single,
        classes: [count("normal"), count("benign"), count("malignant")],
        rows: rows.len() - 1,
    };
    let truth = InbreastTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.name(PROFILE),
        seed: opts.seed,
        counts: counts.clone(),
        films: truths,
    };
    opts.finish(out, PROFILE, TEMPLATE, &truth, counts)
}

/// `<File Name>_<patient>_MG_<L|R>_<CC|ML>_ANON.dcm`.
fn file_of(f: &Planned) -> String {
    let view = match f.view {
        View::Cc => "CC",
        View::Mlo => "ML",
    };
    let side = if f.right { "R" } else { "L" };
    format!("{}_{}_MG_{side}_{view}_ANON.dcm", f.file_name, f.patient)
}

/// Every film of every woman: BI-RADS per breast in the release's proportions (both views
/// of a breast share it), in table order.
fn plan(seed: u64, both: usize, single: usize) -> Vec<Planned> {
    let mut rng = Rng::derive(seed, 0x1B8E_A500);
    let breasts = 2 * both + single;
    let total: usize = BIRADS.iter().map(|(_, n)| n).sum();
    let mut categories: Vec<&'static str> = vec![];
    for (b, n) in BIRADS {
        let share = (n * breasts).div_ceil(total).max(1);
        categories.extend(std::iter::repeat_n(b, share));
    }
    rng.shuffle(&mut categories);
    categories.truncate(breasts);
    let mut next = categories.into_iter();
    let mut used = std::collections::HashSet::new();
    let mut films = vec![];
    for woman in 0..both + single {
        let patient = format!("{:016x}", rng.next_u64());
        let date = 200800 + 100 * rng.range_i64(0, 3) as u32 + rng.range_i64(1, 12) as u32;
        let density = *rng.pick(&[Density::A, Density::B, Density::C, Density::D]);
        let acr = (!rng.chance(0.03)).then_some(density.index() as u8 + 1);
        let monochrome1 = rng.chance(0.2);
        let sides: &[bool] = if woman < both {
            &[true, false]
        } else {
            &[rng.chance(0.5)]
        };
        for &right in sides {
            let birads = next.next().unwrap_or("1");
            let look = look_of(birads, &mut rng);
            for view in [View::Cc, View::Mlo] {
                let file_name = loop {
                    let n = rng.range_i64(20_000_000, 54_000_000) as u64;
                    if used.insert(n) {
                        break n;
                    }
                };
                films.push(Planned {
                    file_name,
                    patient: patient.clone(),
                    right,
                    view,
                    birads,
                    density,
                    acr,
                    date,
                    monochrome1,
                    look,
                });
            }
        }
    }
    films
}

/// The lesion a BI-RADS category shows.
fn look_of(birads: &str, rng: &mut Rng) -> Option<Look> {
    match birads {
        "1" => None,
        "2" | "3" => Some(if rng.chance(0.55) {
            Look::BenignCalcifications
        } else {
            Look::BenignMass
        }),
        "4a" if rng.chance(0.4) => Some(Look::BenignMass),
        _ => Some(if rng.chance(0.55) {
            Look::SuspiciousMass
        } else if rng.chance(0.7) {
            Look::SuspiciousCalcifications
        } else {
            Look::LinearCalcifications
        }),
    }
}

/// One sheet row: the eight described columns, then the findings.
fn table_row(f: &Planned) -> Vec<XlsCell> {
    let text = |s: &str| XlsCell::Text(s.into());
    let num = |v: f64| XlsCell::Number(v);
    let mark = |yes: bool| if yes { text("X") } else { XlsCell::Empty };
    let birads = match f.birads.parse::<f64>() {
        Ok(v) => num(v),
        Err(_) => text(f.birads),
    };
    let is_mass = f.look.is_some_and(Look::is_mass);
    let is_calc = f.look.is_some_and(|l| !l.is_mass());
    let note = match f.look {
        None => XlsCell::Empty,
        Some(Look::BenignMass) => text("nódulo circunscrito"),
        Some(Look::SuspiciousMass) => text("nódulo espiculado"),
        Some(Look::BenignCalcifications) => text("calcificações benignas"),
        Some(_) => text("microcalcificações pleomórficas agrupadas"),
    };
    vec![
        text("removed"),
        text("removed"),
        text(if f.right { "R" } else { "L" }),
        text(f.view.code()),
        num(f64::from(f.date)),
        num(f.file_name as f64),
        f.acr.map_or(XlsCell::Empty, |a| num(f64::from(a))),
        birads,
        mark(is_mass),
        mark(is_calc),
        XlsCell::Empty,
        XlsCell::Empty,
        note,
    ]
}

/// Render one film, write its DICOM, and return the lesion's box.
fn render(
    f: &Planned,
    seed: u64,
    (cols, rows): (usize, usize),
    dir: &Path,
) -> Result<Option<[usize; 4]>> {
    let mut rng = Rng::derive(seed, 0x1B8E_0000 ^ f.file_name);
    let spec = FilmSpec {
        rows,
        cols,
        density: f.density,
        view: f.view,
        right: f.right,
        lesions: f.look.map(|l| (l, 1.0)).into_iter().collect(),
        label: [String::new(), String::new()],
        scanned: false,
    };
    let film = film::render(&spec, &mut rng);
    // 14 bits stored: the top 14 of the phantom's 16.
    let stored: Vec<u16> = film
        .stored
        .iter()
        .map(|&v| {
            let v = v >> 2;
            if f.monochrome1 {
                16383 - v
            } else {
                v
            }
        })
        .collect();
    write_dicom(&dir.join(file_of(f)), f, rows, cols, stored, seed)?;
    Ok(film.masks.first().map(|m| m.bbox))
}

fn write_dicom(
    path: &Path,
    f: &Planned,
    rows: usize,
    cols: usize,
    stored: Vec<u16>,
    seed: u64,
) -> Result<()> {
    let s = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v.to_string()));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let photometric = if f.monochrome1 {
        "MONOCHROME1"
    } else {
        "MONOCHROME2"
    };
    let obj = InMemDicomObject::from_element_iter([
        s(
            tags::SOP_CLASS_UID,
            VR::UI,
            uids::DIGITAL_MAMMOGRAPHY_X_RAY_IMAGE_STORAGE_FOR_PRESENTATION,
        ),
        s(
            tags::SOP_INSTANCE_UID,
            VR::UI,
            &super::dicom::uid(seed, 0x1B, f.file_name),
        ),
        s(tags::MODALITY, VR::CS, "MG"),
        s(tags::PATIENT_NAME, VR::PN, ""),
        s(tags::PATIENT_ID, VR::LO, ""),
        s(
            tags::IMAGE_LATERALITY,
            VR::CS,
            if f.right { "R" } else { "L" },
        ),
        us(tags::SAMPLES_PER_PIXEL, 1),
        s(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric),
        us(tags::ROWS, rows as u16),
        us(tags::COLUMNS, cols as u16),
        us(tags::BITS_ALLOCATED, 16),
        us(tags::BITS_STORED, 14),
        us(tags::HIGH_BIT, 13),
        us(tags::PIXEL_REPRESENTATION, 0),
        s(tags::WINDOW_CENTER, VR::DS, "8192"),
        s(tags::WINDOW_WIDTH, VR::DS, "16384"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(SmallVec::from_vec(stored)),
        ),
    ]);
    super::dicom::save(obj, uids::EXPLICIT_VR_LITTLE_ENDIAN, path)
}
