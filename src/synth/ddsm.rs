//! A twin of seed 004's Kaggle "DDSM Mammography" download, laid out and made as its
//! description says (see [`crate::ingest::ddsm_patches`] for the layout):
//!
//! - positives are the CBIS-DDSM twin's lesions (the same plan, films rendered smaller),
//!   each row's ROI cropped three times around the mask's box with a random offset, flip and
//!   rotation, resized to 299 x 299; a lesion seen on CC and MLO gives six patches;
//! - negatives are tiles of lesion-free films, about six for every positive (the download's
//!   86 % negatives);
//! - CBIS-DDSM's training rows go to the five shards, shuffled; its test rows to the arrays,
//!   split the way the download split them: calcifications in `cv10`, masses in `test10`,
//!   the negatives halved between them;
//! - `ground_truth.json` names each patch's lesion (case folder and lesion number) or film,
//!   which the download itself does not: that is what shows the three-crop leak.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::cbis::film::{self, FilmSpec};
use super::cbis::plan::{self as cplan, CbisSpec, Kind, Pathology, Plan, Split};
use super::phantom::View;
use super::Profile;
use super::TRUTH;
use crate::error::{IoContext, Result};
use crate::imaging::{resize, Filter, Gray};
use crate::ingest::ddsm_patches::{label_meaning, Part, SHARDS, SIDE};
use crate::ingest::{npy, tfrecord};
use crate::rng::Rng;

/// Negative tiles per positive patch at `default` (the download: 48,596 of 55,885 training
/// patches, 87 %); `ci` keeps two per positive so that its tests stay small.
const NEGATIVES_PER_POSITIVE: f64 = 6.0;
const CI_NEGATIVES_PER_POSITIVE: f64 = 2.0;
/// Film size the twin crops from (rows, cols): a 299-pixel patch is a 300-pixel tile, about
/// the share of the film a 598-pixel tile is of a DDSM scan.
const FILM: (usize, usize) = (1280, 800);
const TILE: usize = 300;

/// What to generate: the scale, seed and overwrite choice every twin takes (`ci`: two
/// negatives per positive, for tests; `default`: six, the download's 86 %).
pub type DdsmOptions = super::TwinOptions;

/// The `synth --profile` name.
pub const PROFILE: &str = "ddsm";

/// The CBIS-DDSM plan the patches are cut from: its rows per kind and split at `scale`, on
/// films of [`FILM`] size.
fn cbis_spec(scale: Profile) -> CbisSpec {
    CbisSpec {
        rows: match scale {
            Profile::Ci => [[16, 8], [16, 8]],
            _ => [[56, 18], [56, 18]],
        },
        image_rows: FILM.0,
        image_cols: FILM.1,
        conspicuity: 1.0,
    }
}

/// Where one patch came from: what the download does not say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchTruth {
    /// The file, relative to the twin's root.
    pub file: String,
    /// Record or item number in it.
    pub index: usize,
    /// The five-way label.
    pub label: u8,
    /// The CBIS-DDSM twin's ROI case folder (`Calc-Training_P_00005_RIGHT_CC_1`), or
    /// `normal-<n>` for a tile of lesion-free film `n`.
    pub origin: String,
    /// The patient (`P_00005`; `normal-<n>` for a negative).
    pub patient: String,
    /// The lesion (one number for its CC and MLO rows); none for a negative.
    pub lesion: Option<usize>,
    /// Which of the ROI's three crops (0-2), or which tile of the film.
    pub crop: usize,
}

/// The twin's ground truth (`ground_truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DdsmTruth {
    /// `ddsm-ci` or `ddsm-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// Every patch, file by file in the order they were written.
    pub patches: Vec<PatchTruth>,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DdsmSummary {
    /// The output folder.
    pub out: PathBuf,
    /// `ddsm-ci` or `ddsm-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// Patches per file, in the download's order.
    pub files: Vec<(String, usize)>,
    /// Patches per five-way label (0-4).
    pub labels: [usize; 5],
    /// Distinct lesions the positives come from.
    pub lesions: usize,
    /// Files written.
    pub written: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// One patch before it is written.
struct Made {
    pixels: Vec<u8>,
    /// Its label and origin (`file` and `index` filled in when it is written).
    truth: PatchTruth,
}

/// The download's file names, in its order.
pub fn file_names() -> Vec<String> {
    let mut out: Vec<String> = (0..SHARDS)
        .map(|i| format!("training10_{i}/training10_{i}.tfrecords"))
        .collect();
    for stem in ["cv10", "test10"] {
        out.push(format!("{stem}_data/{stem}_data.npy"));
        out.push(format!("{stem}_labels.npy"));
    }
    out
}

/// Write the twin into `out`.
pub fn generate(opts: &DdsmOptions, out: &Path) -> Result<DdsmSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    let names = file_names();
    let dirs: Vec<String> = names
        .iter()
        .filter_map(|n| n.split_once('/').map(|(d, _)| d.to_string()))
        .collect();
    let files: Vec<&str> = names
        .iter()
        .filter(|n| !n.contains('/'))
        .map(String::as_str)
        .chain([TRUTH])
        .collect();
    let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    super::prepare_out(out, opts.overwrite, &files, &dirs)?;

    let spec = cbis_spec(opts.scale);
    let plan = Plan::build(&spec, opts.seed);
    let parts = [Part::Training, Part::Cv, Part::Test];
    let mut by_part: [Vec<Made>; 3] = Default::default();
    let lesion_crops: Vec<(Part, Vec<Made>)> = plan
        .images
        .par_iter()
        .map(|img| lesion_patches(img, &spec, opts.seed))
        .collect();
    for (part, crops) in lesion_crops {
        by_part[parts.iter().position(|p| *p == part).expect("a part")].extend(crops);
    }
    let lesions = {
        let mut l: Vec<usize> = by_part
            .iter()
            .flatten()
            .filter_map(|m| m.truth.lesion)
            .collect();
        l.sort_unstable();
        l.dedup();
        l.len()
    };
    let ratio = match opts.scale {
        Profile::Ci => CI_NEGATIVES_PER_POSITIVE,
        _ => NEGATIVES_PER_POSITIVE,
    };
    let train_neg = (by_part[0].len() as f64 * ratio).round() as usize;
    let test_neg = ((by_part[1].len() + by_part[2].len()) as f64 * ratio / 2.0).round() as usize;
    let mut negatives = normal_tiles(train_neg + 2 * test_neg, opts.seed);
    let test_negs = negatives.split_off(train_neg + test_neg);
    let cv_negs = negatives.split_off(train_neg);
    for (part, list) in by_part.iter_mut().zip([negatives, cv_negs, test_negs]) {
        part.extend(list);
    }

    let mut rng = Rng::derive(opts.seed, 0xDD5A_5EED);
    let mut truth = vec![];
    let mut files = vec![];
    let mut labels = [0usize; 5];
    for (part, mut these) in parts.into_iter().zip(by_part) {
        rng.shuffle(&mut these);
        for m in &these {
            labels[m.truth.label as usize] += 1;
        }
        if part == Part::Training {
            let per = these.len().div_ceil(SHARDS);
            let mut rest = these;
            for name in names.iter().take(SHARDS) {
                let tail = rest.split_off(per.min(rest.len()));
                write_shard(out, name, &rest, &mut truth)?;
                files.push((name.clone(), rest.len()));
                rest = tail;
            }
        } else {
            let stem = if part == Part::Cv { "cv10" } else { "test10" };
            let data = format!("{stem}_data/{stem}_data.npy");
            write_arrays(
                out,
                &data,
                &format!("{stem}_labels.npy"),
                &these,
                &mut truth,
            )?;
            files.push((data, these.len()));
        }
    }
    let t = DdsmTruth {
        profile: opts.name(PROFILE),
        seed: opts.seed,
        patches: truth,
    };
    crate::outlock::write_json(&t, &out.join(TRUTH))?;
    let (written, bytes) = super::dir_size(out)?;
    Ok(DdsmSummary {
        out: out.to_path_buf(),
        profile: opts.name(PROFILE),
        seed: opts.seed,
        files,
        labels,
        lesions,
        written,
        bytes,
    })
}

/// `out/rel`, its folder created.
fn file_in(out: &Path, rel: &str) -> Result<PathBuf> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).at(dir)?;
    }
    Ok(path)
}

fn write_shard(
    out: &Path,
    name: &str,
    patches: &[Made],
    truth: &mut Vec<PatchTruth>,
) -> Result<()> {
    let path = file_in(out, name)?;
    let file = fs::File::create(&path).at(&path)?;
    let mut w = BufWriter::new(file);
    for (index, m) in patches.iter().enumerate() {
        let mut ex = tfrecord::Example::new();
        ex.insert(
            "label".into(),
            tfrecord::Feature::Int64(vec![m.truth.label.into()]),
        );
        ex.insert(
            "label_normal".into(),
            tfrecord::Feature::Int64(vec![i64::from(m.truth.label != 0)]),
        );
        ex.insert(
            "image".into(),
            tfrecord::Feature::Bytes(vec![m.pixels.clone()]),
        );
        tfrecord::write_record(&mut w, &tfrecord::encode_example(&ex)).at(&path)?;
        truth.push(PatchTruth {
            file: name.into(),
            index,
            ..m.truth.clone()
        });
    }
    w.flush().at(&path)
}

fn write_arrays(
    out: &Path,
    data: &str,
    labels: &str,
    patches: &[Made],
    truth: &mut Vec<PatchTruth>,
) -> Result<()> {
    let path = file_in(out, data)?;
    let pixels: Vec<u8> = patches
        .iter()
        .flat_map(|m| m.pixels.iter().copied())
        .collect();
    let n = patches.len() as u64;
    npy::write_u8(&path, &[n, SIDE as u64, SIDE as u64, 1], &pixels)?;
    let values: Vec<i64> = patches.iter().map(|m| i64::from(m.truth.label)).collect();
    npy::write_i64(&out.join(labels), &values)?;
    for (index, m) in patches.iter().enumerate() {
        truth.push(PatchTruth {
            file: data.into(),
            index,
            ..m.truth.clone()
        });
    }
    Ok(())
}

/// The five-way label of a CBIS-DDSM row.
fn label(kind: Kind, pathology: Pathology) -> u8 {
    let malignant = pathology == Pathology::Malignant;
    match (kind, malignant) {
        (Kind::Calc, false) => 1,
        (Kind::Mass, false) => 2,
        (Kind::Calc, true) => 3,
        (Kind::Mass, true) => 4,
    }
}

/// Three crops of each of `img`'s abnormalities, and the part of the download they go to.
fn lesion_patches(img: &cplan::Image, spec: &CbisSpec, seed: u64) -> (Part, Vec<Made>) {
    let film = super::cbis::render(img, spec, seed);
    let (h, w) = (spec.image_rows, spec.image_cols);
    let mut rng = Rng::derive(seed, 0xDD5A_0000_0000 + img.stream);
    let part = match (img.split, img.kind) {
        (Split::Training, _) => Part::Training,
        (Split::Test, Kind::Calc) => Part::Cv,
        (Split::Test, Kind::Mass) => Part::Test,
    };
    let mut out = vec![];
    for (a, mask) in img.abnormalities.iter().zip(&film.masks) {
        let [x0, y0, x1, y1] = mask.bbox;
        let side = TILE
            .max((1.3 * (x1 - x0).max(y1 - y0) as f64) as usize)
            .min(w.min(h));
        let (cx, cy) = ((x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0);
        for crop in 0..3 {
            let jitter = side as f64 / 5.0;
            let px = cx + rng.range_f64(-jitter, jitter);
            let py = cy + rng.range_f64(-jitter, jitter);
            let left = (px - side as f64 / 2.0).clamp(0.0, (w - side) as f64) as usize;
            let top = (py - side as f64 / 2.0).clamp(0.0, (h - side) as f64) as usize;
            let turn = rng.below(8) as u8;
            out.push(Made {
                pixels: patch(&film.stored, w, left, top, side, turn),
                truth: PatchTruth {
                    file: String::new(),
                    index: 0,
                    label: label(img.kind, a.pathology),
                    origin: img.roi_case(a),
                    patient: img.patient.clone(),
                    lesion: Some(a.lesion),
                    crop,
                },
            });
        }
    }
    (part, out)
}

/// `n` tiles of lesion-free films (up to four per film, only where the film shows breast):
/// films are rendered in order until there are `n`, so a film with little tissue never
/// leaves the twin short.
fn normal_tiles(n: usize, seed: u64) -> Vec<Made> {
    let per_film = 4;
    let mut tiles: Vec<Made> = vec![];
    let mut next_film = 0;
    while tiles.len() < n {
        let films = (n - tiles.len()).div_ceil(per_film);
        let batch: Vec<Vec<Made>> = (next_film..next_film + films)
            .into_par_iter()
            .map(|f| film_tiles(f, per_film, seed))
            .collect();
        tiles.extend(batch.into_iter().flatten());
        next_film += films;
    }
    tiles.truncate(n);
    tiles
}

/// Up to `k` tissue tiles of lesion-free film number `f`.
fn film_tiles(f: usize, k: usize, seed: u64) -> Vec<Made> {
    let (h, w) = FILM;
    let mut rng = Rng::derive(seed, 0xDD5A_4E0B_0000 + f as u64);
    let spec = FilmSpec {
        rows: h,
        cols: w,
        density: cplan::density(1 + rng.below(4) as u8),
        view: if rng.chance(0.5) { View::Cc } else { View::Mlo },
        right: rng.chance(0.5),
        lesions: vec![],
        label: [String::new(), String::new()],
        scanned: true,
    };
    let film = film::render(&spec, &mut rng);
    // Tiles on a half-tile grid that are mostly tissue: neither air nor film edge.
    let mut spots = vec![];
    for top in (0..=h - TILE).step_by(TILE / 2) {
        for left in (0..=w - TILE).step_by(TILE / 2) {
            let mut tissue = 0usize;
            for y in (top..top + TILE).step_by(10) {
                for x in (left..left + TILE).step_by(10) {
                    let v = film.stored[y * w + x];
                    tissue += usize::from((9_000..50_000).contains(&v));
                }
            }
            if tissue as f64 >= 0.85 * (TILE / 10 * TILE / 10) as f64 {
                spots.push((left, top));
            }
        }
    }
    rng.shuffle(&mut spots);
    spots
        .into_iter()
        .take(k)
        .enumerate()
        .map(|(i, (left, top))| Made {
            pixels: patch(&film.stored, w, left, top, TILE, rng.below(8) as u8),
            truth: PatchTruth {
                file: String::new(),
                index: 0,
                label: 0,
                origin: format!("normal-{f}"),
                patient: format!("normal-{f}"),
                lesion: None,
                crop: i,
            },
        })
        .collect()
}

/// The `side` x `side` window at (`left`, `top`) of a 16-bit film `w` wide, turned by one
/// of the eight flips and rotations (`turn`), resized to `SIDE` x `SIDE`, as 8-bit values.
fn patch(stored: &[u16], w: usize, left: usize, top: usize, side: usize, turn: u8) -> Vec<u8> {
    let mut pixels = vec![0f32; side * side];
    for y in 0..side {
        for x in 0..side {
            let (mut u, mut v) = (x, y);
            if turn & 1 == 1 {
                u = side - 1 - u;
            }
            if turn & 2 == 2 {
                v = side - 1 - v;
            }
            if turn & 4 == 4 {
                std::mem::swap(&mut u, &mut v);
            }
            pixels[y * side + x] = f32::from(stored[(top + v) * w + left + u]) / 65535.0;
        }
    }
    let tile = Gray {
        width: side,
        height: side,
        pixels,
    };
    let small = resize(&tile, SIDE, SIDE, Filter::Lanczos3).expect("sizes are not zero");
    small
        .pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// What a five-way label means, for the twin's summary text.
pub fn describe(label: u8) -> String {
    label_meaning(label)
        .map(|(a, p)| {
            if a == "none" {
                p.to_string()
            } else {
                format!("{p} {a}")
            }
        })
        .unwrap_or_default()
}
