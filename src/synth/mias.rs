//! A twin of the mini-MIAS download (seed 002's third source), laid out as Kaggle mirrors it
//! and as `all-mias.tar.gz` unpacks:
//!
//! - `Info.txt`: the header line `REFNUM BG CLASS SEVERITY X Y RADIUS ` (ending in a space,
//!   which pandas' `sep=" "` turns into an `Unnamed: 7` column), then one line per
//!   abnormality, whitespace-separated: reference number, background tissue `F|G|D`, class
//!   `CALC|CIRC|SPIC|MISC|ARCH|ASYM|NORM`, severity `B|M`, the centre `X Y` and `RADIUS` in
//!   pixels. `NORM` lines stop after the class; a few calcification lines stop after the
//!   severity (calcifications spread over the breast: no centre); an image with several
//!   abnormalities has several lines. Y counts from the image's **bottom** edge (the
//!   README's note 3), unlike every image library's row index;
//! - `all-mias/mdb001.pgm` ...: 1024 x 1024 8-bit binary PGM (`P5`), MLO views only, the
//!   breast centred in the matrix with black on both sides; films numbered in pairs, the
//!   odd number the right breast and the even number the left of one woman (`mdb001`,
//!   `mdb002`); `all-mias/README` and `all-mias/Licence.txt` beside them (the twin's own
//!   text);
//! - `ground_truth.json` (every image's patient, side, class and lesions, each lesion's
//!   centre in both the file's Y-from-bottom and in rows) and `manifest.toml` (the
//!   `data-manifests/mini-mias.toml` template with the twin's checksums).
//!
//! The films are the CBIS-DDSM twin's digitised-film phantoms ([`film`]) at 1024 rows:
//! `CIRC` a sharp-edged mass, `SPIC` a spiculated one, `MISC` ill-defined (spiculated when
//! malignant), `ARCH` and `ASYM` faint, `CALC` a cluster whose specks are fine and
//! pleomorphic when malignant and coarse when benign. Severity shows only through these
//! looks and their mix (benign lines are mostly `CIRC`, malignant mostly `SPIC`): learnable,
//! not trivial. The counts follow the download at `default` (322 films of 161 women: 207
//! normal, 63 benign, 52 malignant; 330 lines); `ci` is 40 films.

use std::fs;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;

use super::cbis::film::{self, FilmSpec, Look};
use super::phantom::{Density, View};
use super::Profile;
use super::{MANIFEST, TRUTH};
use crate::error::{IoContext, Result};
use crate::rng::Rng;

/// The table of abnormalities.
pub const INFO: &str = "Info.txt";
/// The folder of images.
pub const FOLDER: &str = "all-mias";
/// The `synth --profile` name.
pub const PROFILE: &str = "mini-mias";
/// The manifest template the twin's manifest is made from.
pub const TEMPLATE: &str = include_str!("../../data-manifests/mini-mias.toml");
/// Every image is this many pixels a side.
pub const SIDE: usize = 1024;
/// The breast is rendered this wide and centred in the matrix.
const FILM_COLS: usize = 720;
/// The header line, as published (with its trailing space).
const HEADER: &str = "REFNUM BG CLASS SEVERITY X Y RADIUS ";

/// What to generate: the scale, seed and overwrite choice every twin takes.
pub type MiasOptions = super::TwinOptions;

/// Films, their classes and the extra lines of each scale.
struct Counts {
    normal: usize,
    benign: usize,
    malignant: usize,
    /// Images with two lines, and with three.
    two: usize,
    three: usize,
    /// Calcification lines without a centre.
    unplaced: usize,
}

/// The download's counts at `default`, 40 films at `ci`.
fn counts(scale: Profile) -> Counts {
    match scale {
        Profile::Ci => Counts {
            normal: 24,
            benign: 8,
            malignant: 8,
            two: 2,
            three: 0,
            unplaced: 1,
        },
        _ => Counts {
            normal: 207,
            benign: 63,
            malignant: 52,
            two: 6,
            three: 1,
            unplaced: 3,
        },
    }
}

/// Background tissue (`BG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Tissue {
    /// Fatty.
    F,
    /// Fatty-glandular.
    G,
    /// Dense-glandular.
    D,
}

/// Class of abnormality (`CLASS`), `NORM` aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Abnormality {
    /// Calcification.
    Calc,
    /// Well-defined / circumscribed mass.
    Circ,
    /// Spiculated mass.
    Spic,
    /// Other, ill-defined mass.
    Misc,
    /// Architectural distortion.
    Arch,
    /// Asymmetry.
    Asym,
}

impl Abnormality {
    const ALL: [Abnormality; 6] = [
        Abnormality::Calc,
        Abnormality::Circ,
        Abnormality::Spic,
        Abnormality::Misc,
        Abnormality::Arch,
        Abnormality::Asym,
    ];

    /// The code `Info.txt` writes.
    pub fn code(self) -> &'static str {
        match self {
            Abnormality::Calc => "CALC",
            Abnormality::Circ => "CIRC",
            Abnormality::Spic => "SPIC",
            Abnormality::Misc => "MISC",
            Abnormality::Arch => "ARCH",
            Abnormality::Asym => "ASYM",
        }
    }

    /// How often each class is drawn for a benign and for a malignant line (about the
    /// download's mix).
    fn weights(malignant: bool) -> [f64; 6] {
        match malignant {
            false => [0.18, 0.30, 0.08, 0.12, 0.16, 0.16],
            true => [0.22, 0.08, 0.20, 0.16, 0.18, 0.16],
        }
    }

    /// The film look and contrast multiplier of this class at this severity.
    fn look(self, malignant: bool, rng: &mut Rng) -> (Look, f32) {
        match (self, malignant) {
            (Abnormality::Calc, true) if rng.chance(0.3) => (Look::LinearCalcifications, 1.0),
            (Abnormality::Calc, true) => (Look::SuspiciousCalcifications, 1.0),
            (Abnormality::Calc, false) => (Look::BenignCalcifications, 1.0),
            (Abnormality::Circ, _) => (Look::BenignMass, 1.0),
            (Abnormality::Spic, _) => (Look::SuspiciousMass, 1.0),
            (Abnormality::Misc, true) => (Look::SuspiciousMass, 0.8),
            (Abnormality::Misc, false) => (Look::BenignMass, 0.8),
            (Abnormality::Arch, _) => (Look::SuspiciousMass, 0.55),
            (Abnormality::Asym, _) => (Look::BenignMass, 0.5),
        }
    }
}

/// One abnormality: one line of `Info.txt`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LesionTruth {
    /// `CALC`, `CIRC`, ...
    pub class: Abnormality,
    /// `B` or `M`.
    pub severity: char,
    /// The film look it was rendered with.
    pub look: Look,
    /// Centre `[x, y]` as `Info.txt` counts it (y from the bottom edge).
    pub centre: [u32; 2],
    /// The same centre's image row (from the top): `1024 - y`.
    pub row: u32,
    /// Radius of a circle enclosing it, in pixels.
    pub radius: u32,
    /// Whether its line gives the centre and radius (not for widely spread calcifications).
    pub listed: bool,
}

/// One film.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageTruth {
    /// `mdb001`.
    pub refnum: String,
    /// The woman: her pair's first reference number.
    pub patient: String,
    /// The right breast (odd numbers).
    pub right: bool,
    /// Background tissue.
    pub tissue: Tissue,
    /// `normal`, `benign` or `malignant`.
    pub class: String,
    /// Its abnormalities in line order (none for a normal film).
    pub lesions: Vec<LesionTruth>,
}

/// What the twin holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MiasCounts {
    /// Films.
    pub images: usize,
    /// Women.
    pub patients: usize,
    /// Lines of `Info.txt` below the header.
    pub lines: usize,
    /// Normal films.
    pub normal: usize,
    /// Films with benign abnormalities.
    pub benign: usize,
    /// Films with malignant abnormalities.
    pub malignant: usize,
    /// Lines without a centre and radius.
    pub unplaced: usize,
}

/// The twin's ground truth (`ground_truth.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MiasTruth {
    /// The version of mammolab that wrote it.
    pub generator: String,
    /// `mini-mias-ci` or `mini-mias-default`.
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The counts.
    pub counts: MiasCounts,
    /// Every film, in number order.
    pub images: Vec<ImageTruth>,
}

/// What [`generate`] wrote.
pub type MiasSummary = super::TwinSummary<MiasCounts>;

/// A film before it is rendered.
struct Planned {
    number: usize,
    tissue: Tissue,
    /// None for normal, else malignant or not.
    malignant: Option<bool>,
    /// (class, listed) per line.
    lines: Vec<(Abnormality, bool)>,
}

/// Write the twin into `out`.
pub fn generate(opts: &MiasOptions, out: &Path) -> Result<MiasSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    super::prepare_out(out, opts.overwrite, &[INFO, TRUTH, MANIFEST], &[FOLDER])?;
    let dir = out.join(FOLDER);
    fs::create_dir_all(&dir).at(&dir)?;
    let planned = plan(opts);
    let images: Vec<ImageTruth> = planned
        .par_iter()
        .map(|p| render(p, opts.seed, &dir))
        .collect::<Result<_>>()?;
    crate::outlock::write_atomic(&out.join(INFO), info_text(&images).as_bytes())?;
    for (name, text) in [("README", README), ("Licence.txt", LICENCE)] {
        let p = dir.join(name);
        fs::write(&p, text).at(&p)?;
    }
    let mut patients: Vec<&str> = images.iter().map(|i| i.patient.as_str()).collect();
    patients.dedup();
    let count = |c: &str| images.iter().filter(|i| i.class == c).count();
    let lesions = || images.iter().flat_map(|i| &i.lesions);
    let counts = MiasCounts {
        images: images.len(),
        patients: patients.len(),
        lines: images.iter().map(|i| i.lesions.len().max(1)).sum(),
        normal: count("normal"),
        benign: count("benign"),
        malignant: count("malignant"),
        unplaced: lesions().filter(|l| !l.listed).count(),
    };
    let truth = MiasTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.name(PROFILE),
        seed: opts.seed,
        counts: counts.clone(),
        images,
    };
    opts.finish(out, PROFILE, TEMPLATE, &truth, counts)
}

/// Every film's tissue, class and lines, drawn from the seed.
fn plan(opts: &MiasOptions) -> Vec<Planned> {
    let c = counts(opts.scale);
    let mut rng = Rng::derive(opts.seed, 0x3A1A_5000);
    let mut classes: Vec<Option<bool>> = [
        (c.normal, None),
        (c.benign, Some(false)),
        (c.malignant, Some(true)),
    ]
    .into_iter()
    .flat_map(|(n, class)| std::iter::repeat_n(class, n))
    .collect();
    rng.shuffle(&mut classes);
    let mut tissue = Tissue::F;
    let mut films: Vec<Planned> = classes
        .into_iter()
        .enumerate()
        .map(|(i, malignant)| {
            // Both films of a woman show the same tissue.
            if i % 2 == 0 {
                tissue = *rng.pick(&[Tissue::F, Tissue::G, Tissue::D]);
            }
            let lines = match malignant {
                None => vec![],
                Some(m) => vec![(
                    Abnormality::ALL[rng.weighted(&Abnormality::weights(m))],
                    true,
                )],
            };
            Planned {
                number: i + 1,
                tissue,
                malignant,
                lines,
            }
        })
        .collect();
    // Extra lines on some abnormal films, and calcifications without a centre on others.
    let mut abnormal: Vec<usize> = (0..films.len())
        .filter(|&i| films[i].malignant.is_some())
        .collect();
    rng.shuffle(&mut abnormal);
    let mut picks = abnormal.into_iter();
    for extra in std::iter::repeat_n(1, c.two).chain(std::iter::repeat_n(2, c.three)) {
        let f = &mut films[picks.next().expect("enough abnormal films")];
        let m = f.malignant.expect("an abnormal film");
        for _ in 0..extra {
            let class = Abnormality::ALL[rng.weighted(&Abnormality::weights(m))];
            f.lines.push((class, true));
        }
    }
    for _ in 0..c.unplaced {
        let f = &mut films[picks.next().expect("enough abnormal films")];
        f.lines[0] = (Abnormality::Calc, false);
    }
    films
}

/// Render one film, write its PGM, and say what it holds.
fn render(p: &Planned, seed: u64, dir: &Path) -> Result<ImageTruth> {
    let mut rng = Rng::derive(seed, 0x3A1A_0000 + p.number as u64);
    let right = p.number % 2 == 1;
    let malignant = p.malignant.unwrap_or(false);
    let looks: Vec<(Look, f32)> = p
        .lines
        .iter()
        .map(|(class, _)| class.look(malignant, &mut rng))
        .collect();
    let density = match p.tissue {
        Tissue::F => Density::A,
        Tissue::G => *rng.pick(&[Density::B, Density::C]),
        Tissue::D => *rng.pick(&[Density::C, Density::D]),
    };
    let side = if right { "RIGHT" } else { "LEFT" };
    let spec = FilmSpec {
        rows: SIDE,
        cols: FILM_COLS,
        density,
        view: View::Mlo,
        right,
        lesions: looks.clone(),
        label: [format!("{side} MLO"), format!("{:03}", p.number)],
        scanned: true,
    };
    let film = film::render(&spec, &mut rng);
    let left_pad = (SIDE - FILM_COLS) / 2;
    let mut pixels = vec![0u8; SIDE * SIDE];
    for (row, src) in film.stored.chunks_exact(FILM_COLS).enumerate() {
        let dst = &mut pixels[row * SIDE + left_pad..row * SIDE + left_pad + FILM_COLS];
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (s >> 8) as u8;
        }
    }
    let refnum = format!("mdb{:03}", p.number);
    let path = dir.join(format!("{refnum}.pgm"));
    let mut bytes = format!("P5\n{SIDE} {SIDE}\n255\n").into_bytes();
    bytes.extend_from_slice(&pixels);
    fs::write(&path, bytes).at(&path)?;
    let lesions = p
        .lines
        .iter()
        .zip(&looks)
        .zip(&film.masks)
        .map(|(((class, listed), (look, _)), mask)| {
            let [x0, y0, x1, y1] = mask.bbox;
            let row = ((y0 + y1) / 2) as u32;
            LesionTruth {
                class: *class,
                severity: if malignant { 'M' } else { 'B' },
                look: *look,
                centre: [((x0 + x1) / 2 + left_pad) as u32, SIDE as u32 - row],
                row,
                radius: ((x1 - x0).max(y1 - y0) as u32).div_ceil(2) + 2,
                listed: *listed,
            }
        })
        .collect();
    let pair = p.number - (p.number - 1) % 2;
    Ok(ImageTruth {
        refnum,
        patient: format!("mdb{pair:03}"),
        right,
        tissue: p.tissue,
        class: match p.malignant {
            None => "normal",
            Some(false) => "benign",
            Some(true) => "malignant",
        }
        .into(),
        lesions,
    })
}

/// `Info.txt` as published: the header with its trailing space, a `NORM` line ending in a
/// space, one line per abnormality.
fn info_text(images: &[ImageTruth]) -> String {
    let mut s = format!("{HEADER}\n");
    for img in images {
        let bg = format!("{:?}", img.tissue);
        if img.lesions.is_empty() {
            s.push_str(&format!("{} {bg} NORM \n", img.refnum));
        }
        for l in &img.lesions {
            let head = format!("{} {bg} {} {}", img.refnum, l.class.code(), l.severity);
            match l.listed {
                true => s.push_str(&format!(
                    "{head} {} {} {}\n",
                    l.centre[0], l.centre[1], l.radius
                )),
                false => s.push_str(&format!("{head} \n")),
            }
        }
    }
    s
}

const README: &str = "\
mini-MIAS twin (generated by mammolab; no real patient data)

The files of this folder are laid out as the MiniMammographic Database's all-mias folder:
mdb001.pgm ... 1024 x 1024 8-bit binary PGM, MLO views, films in pairs of one woman (odd
numbers the right breast, even the left). Info.txt beside this folder lists each film's
background tissue (F fatty, G fatty-glandular, D dense-glandular), its abnormalities
(CALC, CIRC, SPIC, MISC, ARCH, ASYM, or NORM), their severity (B benign, M malignant),
centre (X, Y with the origin at the bottom-left corner) and radius in pixels.
ground_truth.json one folder up says what each film was rendered with.
";

const LICENCE: &str = "\
mini-MIAS twin generated by mammolab: CC0-1.0. The real database's own licence applies
to the real database only.
";
