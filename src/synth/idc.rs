//! A twin of the IDC histology download (seed 003): breast histopathology patches of
//! invasive ductal carcinoma (IDC) and of tissue without it, laid out as Kaggle's
//! *Breast Histopathology Images* unpacks:
//!
//! - `IDC_regular_ps50_idx5/<patient>/<class>/<patient>_idx5_x<X>_y<Y>_class<class>.png`:
//!   one folder per patient (numeric ids such as `8863`), inside it `0` (no IDC) and `1`
//!   (IDC); every patch a 50 x 50 8-bit RGB PNG cut from the patient's whole-slide image at
//!   column `X` and row `Y` (1-based, so `X` and `Y` are `50 k + 1`). Patches of background
//!   are left out, as in the download, and the slide's right and bottom edges give a few
//!   patches narrower or shorter than 50 px, as in the download;
//! - `<patient>/<class>/...` beside it: the download's quirk, every patient folder a second
//!   time at the top level (the archive holds both, 555,048 files for 277,524 patches). A
//!   `glob("**/*.png")` from the top reads each patch twice, so the same patch can sit in
//!   train and test; the manifest reads `IDC_regular_ps50_idx5/` only. The copies are hard
//!   links (no second copy on disk) where the file system allows;
//! - `ground_truth.json` (each slide's size, stain strength, IDC regions and patch counts)
//!   and `manifest.toml` (the `data-manifests/idc-histology.toml` template).
//!
//! Each slide is rendered in colour as haematoxylin and eosin absorb light (Beer-Lambert,
//! Ruifrok's stain vectors): pink stroma with elongated fibroblast nuclei, white fat,
//! dense clusters of small round lymphocytes (dark, but not cancer), and IDC regions whose
//! nuclei are denser, larger, darker and irregular, in stroma that takes less eosin. A
//! patch is class 1 when at least half of it lies in an IDC region, so patches at a
//! region's border carry the label noise the real annotation has. Stain strength varies
//! from slide to slide. About 28 % of patches are positive, as in the download.

use std::fs;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::phantom::{fbm, smoothstep};
use super::Profile;
use super::{MANIFEST, TRUTH};
use crate::error::{IoContext, Result};
use crate::rng::Rng;

/// The folder of patches the manifest reads.
pub const FOLDER: &str = "IDC_regular_ps50_idx5";
/// The `synth --profile` name.
pub const PROFILE: &str = "idc";
/// The manifest template the twin's manifest is made from.
pub const TEMPLATE: &str = include_str!("../../data-manifests/idc-histology.toml");
/// Patches are cut this many pixels a side (fewer at a slide's right and bottom edges).
pub const PATCH: usize = 50;

/// What to generate: the scale, seed and overwrite choice every twin takes.
pub type IdcOptions = super::TwinOptions;

/// Haematoxylin's optical density per unit stain, R G B (Ruifrok & Johnston 2001).
const HAEMATOXYLIN: [f32; 3] = [0.650, 0.704, 0.286];
/// Eosin's.
const EOSIN: [f32; 3] = [0.072, 0.990, 0.105];
/// The low-frequency fields are computed on a grid this many pixels apart.
const GRID: usize = 4;

/// Slides per scale and their size range (columns, rows).
struct Scale {
    patients: usize,
    cols: (usize, usize),
    rows: (usize, usize),
}

fn scale(p: Profile) -> Scale {
    match p {
        Profile::Ci => Scale {
            patients: 16,
            cols: (560, 820),
            rows: (460, 660),
        },
        _ => Scale {
            patients: 48,
            cols: (1500, 2200),
            rows: (1200, 1700),
        },
    }
}

/// An elliptic region of a slide, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Region {
    /// Centre column.
    pub x: f32,
    /// Centre row.
    pub y: f32,
    /// Half-axis along the columns.
    pub rx: f32,
    /// Half-axis along the rows.
    pub ry: f32,
}

impl Region {
    /// 0 at the centre, 1 on the outline.
    fn distance(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = ((x - self.x) / self.rx, (y - self.y) / self.ry);
        (dx * dx + dy * dy).sqrt()
    }
}

/// One patient's whole slide, as the ground truth records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlideTruth {
    /// The patient id (the folder name).
    pub patient: String,
    /// Slide width in pixels.
    pub cols: usize,
    /// Slide height in pixels.
    pub rows: usize,
    /// The tissue's outline (perturbed by noise when rendered).
    pub tissue: Region,
    /// The IDC regions as the annotation draws them (a patch is class 1 when half of it
    /// lies inside one); the tumour rendered follows each outline within about a fifth of
    /// its radius, so patches at the border carry label noise.
    pub idc: Vec<Region>,
    /// The tumour's grade, 0 (low: nuclei barely larger or denser than a duct's) to 1
    /// (high: large, dark, crowded, pleomorphic).
    pub grade: f32,
    /// Haematoxylin and eosin strength of this slide's staining (1 = typical).
    pub stain: [f32; 2],
    /// Patches written, class 0.
    pub negative: usize,
    /// Patches written, class 1.
    pub positive: usize,
    /// Patches smaller than 50 x 50 (at the right or bottom edge).
    pub edge_patches: Vec<String>,
}

/// Counts over the twin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdcCounts {
    /// Patients (slides).
    pub patients: usize,
    /// Patches in `IDC_regular_ps50_idx5/`.
    pub patches: usize,
    /// Class 0.
    pub negative: usize,
    /// Class 1.
    pub positive: usize,
    /// Patches smaller than 50 x 50.
    pub edge_patches: usize,
    /// Copies at the top level (the download's duplicate folders).
    pub top_level_copies: usize,
}

/// The ground truth written beside the twin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdcTruth {
    /// `mammolab <version>`.
    pub generator: String,
    /// `idc-ci` or `idc-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The counts.
    pub counts: IdcCounts,
    /// Every slide.
    pub slides: Vec<SlideTruth>,
}

/// What [`generate`] wrote.
pub type IdcSummary = super::TwinSummary<IdcCounts>;

/// The file name of a patch: `8863_idx5_x451_y1451_class0.png` (`x`, `y` 1-based).
pub fn patch_name(patient: &str, x: usize, y: usize, class: u8) -> String {
    format!("{patient}_idx5_x{x}_y{y}_class{class}.png")
}

/// Generate the twin in `out` (see the module docs). The same scale and seed give
/// byte-identical files.
pub fn generate(opts: &IdcOptions, out: &Path) -> Result<IdcSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    let planned = plan(opts);
    let mut dirs: Vec<&str> = planned.iter().map(|s| s.patient.as_str()).collect();
    dirs.push(FOLDER);
    super::prepare_out(out, opts.overwrite, &[TRUTH, MANIFEST], &dirs)?;
    let written: Vec<(SlideTruth, u64)> = planned
        .into_par_iter()
        .map(|s| write_slide(s, opts.seed, out))
        .collect::<Result<_>>()?;
    let linked: u64 = written.iter().map(|(_, b)| b).sum();
    let slides: Vec<SlideTruth> = written.into_iter().map(|(s, _)| s).collect();
    let sum = |f: fn(&SlideTruth) -> usize| slides.iter().map(f).sum::<usize>();
    let counts = IdcCounts {
        patients: slides.len(),
        patches: sum(|s| s.negative + s.positive),
        negative: sum(|s| s.negative),
        positive: sum(|s| s.positive),
        edge_patches: sum(|s| s.edge_patches.len()),
        top_level_copies: sum(|s| s.negative + s.positive),
    };
    let truth = IdcTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.name(PROFILE),
        seed: opts.seed,
        counts: counts.clone(),
        slides,
    };
    let mut summary = opts.finish(out, PROFILE, TEMPLATE, &truth, counts)?;
    summary.bytes -= linked;
    Ok(summary)
}

/// A slide before it is rendered.
struct Planned {
    patient: String,
    cols: usize,
    rows: usize,
    tissue: Region,
    idc: Vec<Region>,
    grade: f32,
    stain: [f32; 2],
    /// Stream for the slide's noise and nuclei.
    stream: u64,
}

/// Every slide's patient id, size, tissue, IDC regions and stain, drawn from the seed.
fn plan(opts: &IdcOptions) -> Vec<Planned> {
    let sc = scale(opts.scale);
    let mut rng = Rng::derive(opts.seed, 0x1DC0_0001);
    // Distinct numeric patient ids in the download's range (8863 ... 16896), sorted.
    let mut ids: Vec<u32> = vec![];
    while ids.len() < sc.patients {
        let id = 8863 + rng.below(16896 - 8863 + 1) as u32;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.into_iter()
        .enumerate()
        .map(|(i, id)| {
            // Never a multiple of 50: the last column and row of patches are narrower.
            let size = |rng: &mut Rng, (lo, hi): (usize, usize)| {
                PATCH * (rng.range_i64((lo / PATCH) as i64, (hi / PATCH) as i64) as usize)
                    + rng.range_i64(12, 42) as usize
            };
            let cols = size(&mut rng, sc.cols);
            let rows = size(&mut rng, sc.rows);
            let (c, r) = (cols as f32, rows as f32);
            let mut tissue = Region {
                x: c * rng.range_f64(0.45, 0.55) as f32,
                y: r * rng.range_f64(0.45, 0.55) as f32,
                rx: c * rng.range_f64(0.36, 0.44) as f32,
                ry: r * rng.range_f64(0.36, 0.44) as f32,
            };
            // One slide in four: the specimen runs off the right or bottom edge.
            if i % 4 == 1 {
                tissue.x = c - 0.75 * tissue.rx;
            } else if i % 4 == 3 {
                tissue.y = r - 0.75 * tissue.ry;
            }
            // The share of tissue that is IDC, around the download's 28 %.
            let share = (0.37 + 0.15 * rng.normal() as f32).clamp(0.06, 0.8);
            let n = 1 + rng.below(3) as usize;
            let area = share * std::f32::consts::PI * tissue.rx * tissue.ry / n as f32;
            let idc = (0..n)
                .map(|_| {
                    let aspect = rng.range_f64(0.7, 1.4) as f32;
                    let radius = (area / std::f32::consts::PI).sqrt();
                    let (a, d) = (
                        rng.range_f64(0.0, std::f64::consts::TAU) as f32,
                        rng.range_f64(0.0, 0.55) as f32,
                    );
                    Region {
                        x: tissue.x + d * tissue.rx * a.cos(),
                        y: tissue.y + d * tissue.ry * a.sin(),
                        rx: radius * aspect,
                        ry: radius / aspect,
                    }
                })
                .collect();
            Planned {
                patient: id.to_string(),
                cols,
                rows,
                tissue,
                idc,
                grade: rng.f64() as f32,
                stain: [
                    rng.range_f64(0.8, 1.25) as f32,
                    rng.range_f64(0.8, 1.25) as f32,
                ],
                stream: rng.next_u64(),
            }
        })
        .collect()
}

/// The slow-varying fields of a slide, each in [0, 1] on a grid [`GRID`] pixels apart.
struct Fields {
    gw: usize,
    /// Tissue (1) or glass (0).
    tissue: Vec<f32>,
    /// Membership of an IDC region.
    idc: Vec<f32>,
    /// Fat lobules.
    fat: Vec<f32>,
    /// Lymphocyte clusters.
    lymph: Vec<f32>,
    /// The walls of normal ducts and lobules (a band of a noise field: branching rings).
    duct: Vec<f32>,
}

impl Fields {
    fn of(s: &Planned, seed: u64) -> Self {
        let (gw, gh) = (s.cols / GRID + 2, s.rows / GRID + 2);
        let mut f = Fields {
            gw,
            tissue: vec![0.0; gw * gh],
            idc: vec![0.0; gw * gh],
            fat: vec![0.0; gw * gh],
            lymph: vec![0.0; gw * gh],
            duct: vec![0.0; gw * gh],
        };
        for gy in 0..gh {
            for gx in 0..gw {
                let (x, y) = ((gx * GRID) as f32, (gy * GRID) as f32);
                let i = gy * gw + gx;
                let edge =
                    s.tissue.distance(x, y) + 0.5 * (fbm(x / 140.0, y / 140.0, seed, 4) - 0.5);
                f.tissue[i] = 1.0 - smoothstep(0.97, 1.03, edge);
                let wobble = 0.45 * (fbm(x / 60.0, y / 60.0, seed ^ 0x1DC, 3) - 0.5);
                let near = s
                    .idc
                    .iter()
                    .map(|r| r.distance(x, y) + wobble)
                    .fold(f32::INFINITY, f32::min);
                f.idc[i] = (1.0 - smoothstep(0.9, 1.1, near)) * f.tissue[i];
                let fat = fbm(x / 45.0, y / 45.0, seed ^ 0xFA7, 3);
                f.fat[i] = smoothstep(0.58, 0.64, fat) * (1.0 - f.idc[i]);
                let lymph = fbm(x / 35.0, y / 35.0, seed ^ 0x1F, 3);
                f.lymph[i] = smoothstep(0.64, 0.68, lymph) * (1.0 - f.idc[i]) * (1.0 - f.fat[i]);
                let duct = fbm(x / 24.0, y / 24.0, seed ^ 0xD0C7, 2);
                let band = 1.0 - smoothstep(0.02, 0.05, (duct - 0.62).abs());
                f.duct[i] = band * (1.0 - f.idc[i]) * (1.0 - f.fat[i]);
            }
        }
        f
    }

    /// A field at a pixel (bilinear between grid points).
    fn at(&self, field: &[f32], x: f32, y: f32) -> f32 {
        let (gx, gy) = (x / GRID as f32, y / GRID as f32);
        let (x0, y0) = (gx.floor() as usize, gy.floor() as usize);
        let (tx, ty) = (gx - x0 as f32, gy - y0 as f32);
        let i = y0 * self.gw + x0;
        let top = field[i] * (1.0 - tx) + field[i + 1] * tx;
        let bottom = field[i + self.gw] * (1.0 - tx) + field[i + self.gw + 1] * tx;
        top * (1.0 - ty) + bottom * ty
    }
}

/// Haematoxylin and eosin per pixel of a slide, and which pixels are tissue and IDC.
struct Stains {
    cols: usize,
    h: Vec<f32>,
    e: Vec<f32>,
    tissue: Vec<bool>,
    idc: Vec<bool>,
}

/// One nucleus: centre, radii, angle, darkness and how irregular its outline is.
struct Nucleus {
    x: f32,
    y: f32,
    r: f32,
    aspect: f32,
    angle: f32,
    dark: f32,
    irregular: f32,
    phase: [f32; 2],
}

fn stains(s: &Planned, f: &Fields, rng: &mut Rng, seed: u64) -> Stains {
    let (cols, rows) = (s.cols, s.rows);
    let n = cols * rows;
    let mut st = Stains {
        cols,
        h: vec![0.0; n],
        e: vec![0.0; n],
        tissue: vec![false; n],
        idc: vec![false; n],
    };
    for y in 0..rows {
        for x in 0..cols {
            let (xf, yf) = (x as f32, y as f32);
            let i = y * cols + x;
            let t = f.at(&f.tissue, xf, yf);
            let m = f.at(&f.idc, xf, yf);
            let fat = f.at(&f.fat, xf, yf);
            // Collagen fibres: streaks along the rows, broken up by noise.
            let fibre = fbm(xf / 28.0, yf / 7.0, seed ^ 0xF1B, 2);
            let stroma_e = 0.45 + 0.35 * fibre;
            let g = s.grade;
            let e = t * ((1.0 - m) * stroma_e + m * (0.42 - 0.12 * g)) * (1.0 - 0.85 * fat);
            let h = t * (0.06 + (0.06 + 0.1 * g) * m) * (1.0 - 0.8 * fat);
            st.e[i] = 0.03 + e;
            st.h[i] = 0.01 + h;
            st.tissue[i] = t > 0.5;
            st.idc[i] = t > 0.5 && s.idc.iter().any(|r| r.distance(xf, yf) < 1.0);
        }
    }
    // Nuclei on a jittered grid: each cell holds at most one, of the kind its place asks for.
    const CELL: usize = 5;
    for cy in 0..rows.div_ceil(CELL) {
        for cx in 0..cols.div_ceil(CELL) {
            let x = ((cx * CELL) as f32 + rng.range_f64(0.0, CELL as f64) as f32)
                .min(cols as f32 - 1.0);
            let y = ((cy * CELL) as f32 + rng.range_f64(0.0, CELL as f64) as f32)
                .min(rows as f32 - 1.0);
            let t = f.at(&f.tissue, x, y);
            let m = f.at(&f.idc, x, y);
            let fat = f.at(&f.fat, x, y);
            let lymph = f.at(&f.lymph, x, y);
            let duct = f.at(&f.duct, x, y);
            let u = rng.f64() as f32;
            let phase = [
                rng.range_f64(0.0, 6.3) as f32,
                rng.range_f64(0.0, 6.3) as f32,
            ];
            // Each kind's chance of a nucleus in this cell, tried in turn.
            let normal = t * (1.0 - m) * (1.0 - fat);
            let chances = [
                t * m * (0.25 + 0.25 * s.grade),
                normal * duct * 0.55,
                normal * (1.0 - duct) * lymph * 0.8,
                normal * (1.0 - duct) * (1.0 - lymph) * 0.11,
            ];
            let mut acc = 0.0;
            let Some(kind) = chances.iter().position(|c| {
                acc += c;
                u < acc
            }) else {
                continue;
            };
            let r = |rng: &mut Rng, lo, hi| rng.range_f64(lo, hi) as f32;
            let nucleus = match kind {
                // IDC: larger, darker, more crowded and irregular with the grade.
                0 => {
                    let g = f64::from(s.grade);
                    Nucleus {
                        x,
                        y,
                        r: r(rng, 1.9 + 0.6 * g, 2.8 + 1.2 * g),
                        aspect: r(rng, 1.0, 1.5),
                        angle: r(rng, 0.0, 3.2),
                        dark: r(rng, 0.9 + 0.3 * g, 1.3 + 0.4 * g),
                        irregular: r(rng, 0.05 + 0.1 * g, 0.12 + 0.2 * g),
                        phase,
                    }
                }
                // Normal ducts and lobules: rings of regular epithelial nuclei, crowded.
                1 => Nucleus {
                    x,
                    y,
                    r: r(rng, 1.9, 2.6),
                    aspect: r(rng, 1.0, 1.3),
                    angle: r(rng, 0.0, 3.2),
                    dark: r(rng, 1.0, 1.4),
                    irregular: 0.04,
                    phase,
                },
                // Lymphocytes: small, round, very dark, crowded.
                2 => Nucleus {
                    x,
                    y,
                    r: r(rng, 1.3, 1.9),
                    aspect: 1.0,
                    angle: 0.0,
                    dark: r(rng, 1.5, 2.0),
                    irregular: 0.0,
                    phase,
                },
                // Fibroblasts: small, elongated along the fibres, sparse.
                _ => Nucleus {
                    x,
                    y,
                    r: r(rng, 1.5, 2.3),
                    aspect: r(rng, 1.6, 2.8),
                    angle: r(rng, -0.3, 0.3),
                    dark: r(rng, 0.8, 1.2),
                    irregular: 0.05,
                    phase,
                },
            };
            stamp(&mut st, rows, &nucleus, rng);
        }
    }
    st
}

/// Add one nucleus's haematoxylin, with coarse chromatin, to the slide.
fn stamp(st: &mut Stains, rows: usize, n: &Nucleus, rng: &mut Rng) {
    let cols = st.cols;
    let reach = n.r * n.aspect * (1.0 + n.irregular) + 1.5;
    let (x0, x1) = (
        (n.x - reach).max(0.0) as usize,
        ((n.x + reach) as usize).min(cols - 1),
    );
    let (y0, y1) = (
        (n.y - reach).max(0.0) as usize,
        ((n.y + reach) as usize).min(rows - 1),
    );
    let (sin, cos) = n.angle.sin_cos();
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (dx, dy) = (x as f32 - n.x, y as f32 - n.y);
            let (u, v) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            let phi = v.atan2(u);
            let outline = n.r
                * (1.0
                    + n.irregular
                        * (0.6 * (2.0 * phi + n.phase[0]).sin()
                            + 0.4 * (3.0 * phi + n.phase[1]).sin()));
            let d = ((u / n.aspect).powi(2) + v * v).sqrt();
            let cover = 1.0 - smoothstep(outline - 0.7, outline + 0.7, d);
            if cover > 0.0 {
                let chromatin = 0.85 + 0.3 * rng.f64() as f32;
                let i = y * cols + x;
                st.h[i] += cover * n.dark * chromatin;
                st.e[i] *= 1.0 - 0.5 * cover;
            }
        }
    }
}

/// Render one slide, cut it into patches and write them (and the top-level copies); with
/// the bytes of the copies that are hard links (on disk once).
fn write_slide(s: Planned, seed: u64, out: &Path) -> Result<(SlideTruth, u64)> {
    let noise_seed = seed ^ s.stream;
    let mut rng = Rng::derive(seed, s.stream);
    let fields = Fields::of(&s, noise_seed);
    let st = stains(&s, &fields, &mut rng, noise_seed);
    let (cols, rows) = (s.cols, s.rows);
    let mut rgb = vec![0u8; cols * rows * 3];
    for i in 0..cols * rows {
        let (h, e) = (st.h[i] * s.stain[0], st.e[i] * s.stain[1]);
        for c in 0..3 {
            let v =
                242.0 * (-(h * HAEMATOXYLIN[c] + e * EOSIN[c])).exp() + 3.0 * rng.normal() as f32;
            rgb[i * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    let dir = out.join(FOLDER).join(&s.patient);
    let mut linked = 0u64;
    let mut truth = SlideTruth {
        patient: s.patient.clone(),
        cols,
        rows,
        tissue: s.tissue,
        idc: s.idc.clone(),
        grade: s.grade,
        stain: s.stain,
        negative: 0,
        positive: 0,
        edge_patches: vec![],
    };
    for y0 in (0..rows).step_by(PATCH) {
        for x0 in (0..cols).step_by(PATCH) {
            let (w, h) = ((cols - x0).min(PATCH), (rows - y0).min(PATCH));
            let (mut tissue, mut idc) = (0usize, 0usize);
            for y in y0..y0 + h {
                for x in x0..x0 + w {
                    tissue += st.tissue[y * cols + x] as usize;
                    idc += st.idc[y * cols + x] as usize;
                }
            }
            // Background patches are left out, as in the download.
            if tissue * 2 < w * h || w < 10 || h < 10 {
                continue;
            }
            let class = u8::from(idc * 2 >= w * h);
            let mut patch = image::RgbImage::new(w as u32, h as u32);
            for y in 0..h {
                let row = ((y0 + y) * cols + x0) * 3;
                for x in 0..w {
                    let p = &rgb[row + x * 3..row + x * 3 + 3];
                    patch.put_pixel(x as u32, y as u32, image::Rgb([p[0], p[1], p[2]]));
                }
            }
            let name = patch_name(&s.patient, x0 + 1, y0 + 1, class);
            let folder = dir.join(class.to_string());
            fs::create_dir_all(&folder).at(&folder)?;
            let path = folder.join(&name);
            let mut bytes = std::io::Cursor::new(vec![]);
            patch
                .write_to(&mut bytes, image::ImageFormat::Png)
                .map_err(|source| crate::error::Error::ImageWrite {
                    path: path.clone(),
                    source,
                })?;
            fs::write(&path, bytes.get_ref()).at(&path)?;
            let copy_dir = out.join(&s.patient).join(class.to_string());
            fs::create_dir_all(&copy_dir).at(&copy_dir)?;
            let copy = copy_dir.join(&name);
            if fs::hard_link(&path, &copy).is_ok() {
                linked += bytes.get_ref().len() as u64;
            } else {
                fs::write(&copy, bytes.get_ref()).at(&copy)?;
            }
            if class == 1 {
                truth.positive += 1;
            } else {
                truth.negative += 1;
            }
            if w < PATCH || h < PATCH {
                truth.edge_patches.push(name);
            }
        }
    }
    Ok((truth, linked))
}
