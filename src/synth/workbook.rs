//! Writing the hospital's two workbooks: `datacombined.xlsx` (sheets `Cancer` and
//! `Non-Cancer`) and `data_validation_x.xlsx` (the image listing with `AbsolutePath`).

use std::path::Path;

use rust_xlsxwriter::{DocProperties, Format, IntoCustomDateTime, Workbook, Worksheet};

use super::calendar::Date;
use super::dicom::uid;
use super::phantom::Lesion;
use super::plan::{Cell, ImagePlan, Plan, Row, DEVICES};
use super::profile::{ProfileSpec, MAIN_COLUMNS};
use super::rng::Rng;
use crate::error::{Error, Result};

/// Key columns, in seed 001's `UniqueKey` order.
pub const KEY_COLUMNS: [&str; 4] = ["InputFileName", "StudyDate", "StudyTime", "PatientID.x"];

const MAIN_HEADER: [&str; MAIN_COLUMNS] = [
    "InputFileName",
    "StudyDate",
    "StudyTime",
    "PatientID.x",
    "PatientID.y",
    "AccessionNumber",
    "Age",
    "Laterality",
    "ViewPosition",
    "BIRADS",
    "BreastDensity",
    "Manufacturer",
    "ManufacturerModelName",
    "KVP",
    "Exposure",
    "BodyPartThickness",
    "CompressionForce",
    "Rows",
    "Columns",
    "PixelSpacing",
    "PhotometricInterpretation",
    "WindowCenter",
    "WindowWidth",
    "Modality",
    "StudyDescription",
];

/// Columns of the validation listing (16, as in seed 001).
pub const LISTING_HEADER: [&str; 16] = [
    "InputFileName",
    "StudyDate",
    "StudyTime",
    "PatientID.x",
    "AbsolutePath",
    "Laterality",
    "ViewPosition",
    "Manufacturer",
    "Rows",
    "Columns",
    "BitsStored",
    "PhotometricInterpretation",
    "WindowCenter",
    "WindowWidth",
    "AccessionNumber",
    "SOPInstanceUID",
];

/// The sheet name of the listing.
pub const LISTING_SHEET: &str = "Sheet1";

/// A fixed document creation time: a workbook must not change with the clock.
struct Fixed;
impl IntoCustomDateTime for Fixed {
    fn utc_datetime(self) -> String {
        "2020-01-01T00:00:00Z".into()
    }
}

/// Names shaped like pyradiomics features (image type, feature class, feature).
pub fn feature_names(n: usize) -> Vec<String> {
    const TYPES: [&str; 10] = [
        "original",
        "wavelet-LLH",
        "wavelet-LHL",
        "wavelet-LHH",
        "wavelet-HLL",
        "wavelet-HLH",
        "wavelet-HHL",
        "wavelet-HHH",
        "wavelet-LLL",
        "log-sigma-2-0-mm-3D",
    ];
    const CLASSES: [(&str, &[&str]); 5] = [
        (
            "firstorder",
            &[
                "10Percentile",
                "90Percentile",
                "Energy",
                "Entropy",
                "InterquartileRange",
                "Kurtosis",
                "Maximum",
                "MeanAbsoluteDeviation",
                "Mean",
                "Median",
                "Minimum",
                "Range",
                "RobustMeanAbsoluteDeviation",
                "RootMeanSquared",
                "Skewness",
                "TotalEnergy",
                "Uniformity",
                "Variance",
            ],
        ),
        (
            "glcm",
            &[
                "Autocorrelation",
                "ClusterProminence",
                "ClusterShade",
                "ClusterTendency",
                "Contrast",
                "Correlation",
                "DifferenceAverage",
                "DifferenceEntropy",
                "DifferenceVariance",
                "Id",
                "Idm",
                "Idmn",
                "Idn",
                "Imc1",
                "Imc2",
                "InverseVariance",
                "JointAverage",
                "JointEnergy",
                "JointEntropy",
                "MCC",
                "MaximumProbability",
                "SumAverage",
                "SumEntropy",
                "SumSquares",
            ],
        ),
        (
            "glrlm",
            &[
                "GrayLevelNonUniformity",
                "GrayLevelNonUniformityNormalized",
                "GrayLevelVariance",
                "HighGrayLevelRunEmphasis",
                "LongRunEmphasis",
                "LongRunHighGrayLevelEmphasis",
                "LongRunLowGrayLevelEmphasis",
                "LowGrayLevelRunEmphasis",
                "RunEntropy",
                "RunLengthNonUniformity",
                "RunLengthNonUniformityNormalized",
                "RunPercentage",
                "RunVariance",
                "ShortRunEmphasis",
                "ShortRunHighGrayLevelEmphasis",
                "ShortRunLowGrayLevelEmphasis",
            ],
        ),
        (
            "glszm",
            &[
                "GrayLevelNonUniformity",
                "GrayLevelNonUniformityNormalized",
                "GrayLevelVariance",
                "HighGrayLevelZoneEmphasis",
                "LargeAreaEmphasis",
                "LargeAreaHighGrayLevelEmphasis",
                "LargeAreaLowGrayLevelEmphasis",
                "LowGrayLevelZoneEmphasis",
                "SizeZoneNonUniformity",
                "SizeZoneNonUniformityNormalized",
                "SmallAreaEmphasis",
                "SmallAreaHighGrayLevelEmphasis",
                "SmallAreaLowGrayLevelEmphasis",
                "ZoneEntropy",
                "ZonePercentage",
                "ZoneVariance",
            ],
        ),
        (
            "gldm",
            &[
                "DependenceEntropy",
                "DependenceNonUniformity",
                "DependenceNonUniformityNormalized",
                "DependenceVariance",
                "GrayLevelNonUniformity",
                "GrayLevelVariance",
                "HighGrayLevelEmphasis",
                "LargeDependenceEmphasis",
                "LargeDependenceHighGrayLevelEmphasis",
                "LargeDependenceLowGrayLevelEmphasis",
                "LowGrayLevelEmphasis",
                "SmallDependenceEmphasis",
                "SmallDependenceHighGrayLevelEmphasis",
                "SmallDependenceLowGrayLevelEmphasis",
            ],
        ),
    ];
    let mut out = Vec::with_capacity(n);
    'outer: for t in TYPES.iter().cycle().take(TYPES.len() * 4) {
        for (class, feats) in CLASSES {
            for f in feats {
                if out.len() == n {
                    break 'outer;
                }
                let name = format!("{t}_{class}_{f}");
                // After one round of all types, suffix repeats so names stay unique.
                let round = out.len() / (TYPES.len() * 88);
                out.push(if round == 0 {
                    name
                } else {
                    format!("{name}.{round}")
                });
            }
        }
    }
    out
}

/// How one feature column is distributed: log-normal around `scale`, shifted for a
/// malignant lesion and with density.
#[derive(Debug, Clone, Copy)]
struct FeatureParam {
    scale: f64,
    malignant_effect: f64,
    density_effect: f64,
}

/// The radiomics-style columns of the main sheets: names and value distributions.
struct FeatureColumns {
    names: Vec<String>,
    params: Vec<FeatureParam>,
}

impl FeatureColumns {
    fn new(seed: u64, n: usize) -> Self {
        FeatureColumns {
            names: feature_names(n),
            params: feature_params(seed, n),
        }
    }
}

fn feature_params(seed: u64, n: usize) -> Vec<FeatureParam> {
    (0..n)
        .map(|j| {
            let mut p = Rng::derive(seed ^ 0xFEA8, j as u64);
            let scale = 10f64.powf(p.range_f64(-2.0, 4.0));
            let malignant_effect = if p.chance(0.06) {
                p.range_f64(0.4, 0.9)
            } else {
                0.0
            };
            let density_effect = if p.chance(0.25) {
                p.range_f64(-0.4, 0.4)
            } else {
                0.0
            };
            FeatureParam {
                scale,
                malignant_effect,
                density_effect,
            }
        })
        .collect()
}

/// Feature values of one image: a few features shift with a malignant lesion, more with
/// density, so a tabular model learns something but not everything.
fn feature_values(seed: u64, img: &ImagePlan, density: usize, params: &[FeatureParam]) -> Vec<f64> {
    let mut r = Rng::derive(seed ^ 0xFEA7, img.stream);
    let malignant = matches!(
        img.lesion,
        Some(Lesion::SpiculatedMass | Lesion::Calcifications)
    );
    params
        .iter()
        .map(|p| {
            let z = r.normal()
                + p.malignant_effect * f64::from(u8::from(malignant))
                + p.density_effect * density as f64;
            round_sig(p.scale * (0.35 * z).exp(), 6)
        })
        .collect()
}

fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    let mag = v.abs().log10().floor() as i32;
    let f = 10f64.powi(digits - 1 - mag);
    (v * f).round() / f
}

struct Writer<'a> {
    path: &'a Path,
    date_fmt: Format,
    time_fmt: Format,
}

impl<'a> Writer<'a> {
    fn err(&self, e: rust_xlsxwriter::XlsxError) -> Error {
        Error::WorkbookWrite {
            path: self.path.to_path_buf(),
            message: e.to_string(),
        }
    }

    fn cell(&self, ws: &mut Worksheet, row: u32, col: u16, cell: &Cell) -> Result<()> {
        let r = match cell {
            Cell::Int(i) => return self.num(ws, row, col, *i as f64),
            Cell::Text(s) => return self.text(ws, row, col, s),
            Cell::Date(d) => {
                ws.write_number_with_format(row, col, excel_serial(*d), &self.date_fmt)
            }
            Cell::Time(t) => {
                let f = (t.h * 3600 + t.m * 60 + t.s) as f64 / 86400.0;
                ws.write_number_with_format(row, col, f, &self.time_fmt)
            }
        };
        r.map(|_| ()).map_err(|e| self.err(e))
    }

    fn text(&self, ws: &mut Worksheet, row: u32, col: u16, s: &str) -> Result<()> {
        ws.write_string(row, col, s)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn num(&self, ws: &mut Worksheet, row: u32, col: u16, v: f64) -> Result<()> {
        ws.write_number(row, col, v)
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    fn header(&self, ws: &mut Worksheet, names: &[&str]) -> Result<()> {
        for (c, n) in names.iter().enumerate() {
            self.text(ws, 0, c as u16, n)?;
        }
        Ok(())
    }

    fn keys(&self, ws: &mut Worksheet, r: u32, row: &Row) -> Result<()> {
        self.cell(ws, r, 0, &row.file)?;
        self.cell(ws, r, 1, &row.date)?;
        self.cell(ws, r, 2, &row.time)?;
        self.cell(ws, r, 3, &row.patient)
    }

    fn new(path: &'a Path) -> Self {
        Writer {
            path,
            date_fmt: Format::new().set_num_format("yyyy-mm-dd"),
            time_fmt: Format::new().set_num_format("hh:mm:ss"),
        }
    }

    fn save(&self, wb: &mut Workbook) -> Result<()> {
        wb.set_properties(
            &DocProperties::new()
                .set_creation_datetime(Fixed)
                .set_author("mammolab synth"),
        );
        wb.save(self.path).map_err(|e| self.err(e))
    }
}

/// Excel serial day number (1900 date system; days since 1899-12-30).
pub fn excel_serial(d: Date) -> f64 {
    (d.to_days()
        - Date {
            y: 1899,
            m: 12,
            d: 30,
        }
        .to_days()) as f64
}

fn main_sheet(
    w: &Writer<'_>,
    ws: &mut Worksheet,
    plan: &Plan,
    rows: &[&Row],
    spec: &ProfileSpec,
    seed: u64,
    features: &FeatureColumns,
) -> Result<()> {
    let mut header: Vec<&str> = MAIN_HEADER.to_vec();
    header.extend(features.names.iter().map(String::as_str));
    w.header(ws, &header)?;
    let spacing = 240.0 / spec.rows as f64;
    for (k, row) in rows.iter().enumerate() {
        let r = k as u32 + 1;
        let img = &plan.images[row.image];
        let st = &plan.studies[img.study];
        let pt = &plan.patients[st.patient];
        let dev = &DEVICES[st.device].0;
        w.keys(ws, r, row)?;
        let text = |ws: &mut Worksheet, c: u16, s: &str| w.text(ws, r, c, s);
        let num = |ws: &mut Worksheet, c: u16, v: f64| w.num(ws, r, c, v);
        text(ws, 4, &pt.id)?;
        text(ws, 5, &st.accession)?;
        num(ws, 6, (st.date.y - pt.birth_year) as f64)?;
        text(ws, 7, img.side.code())?;
        text(ws, 8, img.view.code())?;
        num(ws, 9, img.birads as f64)?;
        text(ws, 10, pt.density.letter())?;
        text(ws, 11, dev.manufacturer)?;
        text(ws, 12, dev.model)?;
        num(ws, 13, img.acq.kvp)?;
        num(ws, 14, img.acq.mas as f64)?;
        num(ws, 15, img.acq.thickness)?;
        num(ws, 16, img.acq.force)?;
        num(ws, 17, spec.rows as f64)?;
        num(ws, 18, spec.cols as f64)?;
        num(ws, 19, round_sig(spacing, 4))?;
        text(
            ws,
            20,
            if dev.monochrome1 {
                "MONOCHROME1"
            } else {
                "MONOCHROME2"
            },
        )?;
        num(ws, 21, img.acq.window_center)?;
        num(ws, 22, img.acq.window_width)?;
        text(ws, 23, "MG")?;
        text(ws, 24, st.description)?;
        let values = feature_values(seed, img, pt.density.index(), &features.params);
        for (j, v) in values.into_iter().enumerate() {
            num(ws, (MAIN_COLUMNS + j) as u16, v)?;
        }
    }
    Ok(())
}

/// Write `datacombined.xlsx`.
pub fn write_combined(path: &Path, plan: &Plan, spec: &ProfileSpec, seed: u64) -> Result<()> {
    let w = Writer::new(path);
    let mut wb = Workbook::new();
    let features = FeatureColumns::new(seed, spec.feature_columns);
    let cancer: Vec<&Row> = plan.cancer.iter().map(|(r, _)| r).collect();
    let normal: Vec<&Row> = plan.normal.iter().map(|(r, _)| r).collect();
    for (name, rows) in [("Cancer", &cancer), ("Non-Cancer", &normal)] {
        let ws = wb.add_worksheet();
        ws.set_name(name).map_err(|e| w.err(e))?;
        main_sheet(&w, ws, plan, rows, spec, seed, &features)?;
    }
    w.save(&mut wb)
}

/// Write `data_validation_x.xlsx`.
pub fn write_listing(path: &Path, plan: &Plan, spec: &ProfileSpec, seed: u64) -> Result<()> {
    let w = Writer::new(path);
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(LISTING_SHEET).map_err(|e| w.err(e))?;
    w.header(ws, &LISTING_HEADER)?;
    for (k, (row, _)) in plan.listing.iter().enumerate() {
        let r = k as u32 + 1;
        let img = &plan.images[row.image];
        let st = &plan.studies[img.study];
        let dev = &DEVICES[st.device].0;
        w.keys(ws, r, row)?;
        let text = |ws: &mut Worksheet, c: u16, s: &str| w.text(ws, r, c, s);
        let num = |ws: &mut Worksheet, c: u16, v: f64| w.num(ws, r, c, v);
        text(ws, 4, &img.windows_path())?;
        text(ws, 5, img.side.code())?;
        text(ws, 6, img.view.code())?;
        text(ws, 7, dev.manufacturer)?;
        num(ws, 8, spec.rows as f64)?;
        num(ws, 9, spec.cols as f64)?;
        num(ws, 10, dev.bits_stored as f64)?;
        text(
            ws,
            11,
            if dev.monochrome1 {
                "MONOCHROME1"
            } else {
                "MONOCHROME2"
            },
        )?;
        num(ws, 12, img.acq.window_center)?;
        num(ws, 13, img.acq.window_width)?;
        text(ws, 14, &st.accession)?;
        text(ws, 15, &uid(seed, 1, img.stream))?;
    }
    w.save(&mut wb)
}
