//! What the notebooks share: parameters from the environment, the cohort found (or generated)
//! wherever the notebook runs from, and a [`Redactor`] so that executed notebooks show
//! pseudonyms, never the workbooks' patient identifiers.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `MAMMOLAB_PROFILE` | `ci`, `default`, `large` | `default` |
//! | `MAMMOLAB_DATA` | cohort folder (generated there with seed 1 if it has no `manifest.toml`) | `<crate>/data/synthetic-<profile>` |
//! | `MAMMOLAB_DEVICE` | `cpu`, `cuda` | `cpu` |
//! | `MAMMOLAB_CACHE` | decoded-image cache lives in `$MAMMOLAB_CACHE/images` | `~/.cache/mammolab` |
//! | `MAMMOLAB_KEY` | the pseudonym key file ([`crate::privacy`]) | `~/.config/mammolab/pseudonym.key` |
//!
//! [`Setup::from_env`] is the one place a notebook reads the environment: it reads every
//! variable once, and tunes the allocator for training
//! ([`keep_freed_memory`](crate::model::keep_freed_memory)) unless `GLIBC_TUNABLES` is set.
//!
//! ```no_run
//! use mammolab::prelude::*;
//! # fn main() -> mammolab::Result<()> {
//! let setup = Setup::from_env()?; // profile, data folder, device
//! let manifest = setup.cohort()?; // generated on first use
//! let result = merge(&manifest)?;
//! let redact = result.redactor();
//! let audit = redact.table(&result.audit_frame()?)?; // keys show P-... pseudonyms
//! # Ok(()) }
//! ```

use std::path::PathBuf;

use polars::prelude::{Column, DataFrame};

use crate::dataset::{default_image_cache, Preprocess};
use crate::error::{Error, IoContext, Result};
use crate::ingest::dicom::{read_display, read_header, read_image, DicomImage};
use crate::ingest::merge::{Laterality, MergeResult, Record, Status};
use crate::manifest::Manifest;
use crate::model::{ComputeDevice, ModelChoice};
use crate::pipeline::RunOptions;
use crate::plot::{Table, Tile};
use crate::privacy::pseudonym;
pub use crate::privacy::Redactor;
use crate::synth::{self, Profile, SynthOptions};

/// A notebook's parameters, read once from the environment (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    /// Which synthetic cohort.
    pub profile: Profile,
    /// The cohort folder (holds `manifest.toml`).
    pub data: PathBuf,
    /// Where models train.
    pub device: ComputeDevice,
    /// Folder of decoded-image caches (`$MAMMOLAB_CACHE/images`, else
    /// `~/.cache/mammolab/images`).
    pub cache: Option<PathBuf>,
}

/// The folder of the mammolab crate (where `data/` and `notebooks/` live).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `value` as one of `T`'s names (any case), or an error naming the variable and the choices.
fn choice<T: clap::ValueEnum>(var: &'static str, value: &str) -> Result<T> {
    T::from_str(value, true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|p| p.get_name().to_string())
            .collect();
        Error::Param {
            name: var,
            message: format!("`{value}` is not one of {}", names.join(", ")),
        }
    })
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| default.to_string())
}

impl Setup {
    /// Read `MAMMOLAB_PROFILE`, `MAMMOLAB_DATA` and `MAMMOLAB_DEVICE`; a bad value is a
    /// one-line error naming the variable. Installs the project's pseudonym key
    /// ([`crate::privacy`]; `MAMMOLAB_KEY`, else the config folder), made on first use.
    pub fn from_env() -> Result<Self> {
        crate::privacy::install_default(
            std::env::var_os("MAMMOLAB_KEY"),
            std::env::var_os("XDG_CONFIG_HOME"),
            std::env::var_os("HOME"),
        )?;
        let profile: Profile = choice("MAMMOLAB_PROFILE", &env_or("MAMMOLAB_PROFILE", "default"))?;
        let device: ComputeDevice = choice("MAMMOLAB_DEVICE", &env_or("MAMMOLAB_DEVICE", "cpu"))?;
        if std::env::var_os("GLIBC_TUNABLES").is_none() {
            crate::model::keep_freed_memory();
        }
        let cache =
            default_image_cache(std::env::var_os("MAMMOLAB_CACHE"), std::env::var_os("HOME"));
        let data = std::env::var_os("MAMMOLAB_DATA")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                crate_dir()
                    .join("data")
                    .join(format!("synthetic-{}", profile.name()))
            });
        Ok(Self {
            profile,
            data,
            device,
            cache,
        })
    }

    /// Whether [`Setup::cohort`] will generate the cohort first (its folder has no
    /// `manifest.toml` yet).
    pub fn needs_cohort(&self) -> bool {
        !self.data.join("manifest.toml").is_file()
    }

    /// The cohort's manifest; the cohort is generated (seed 1) first when the folder has
    /// none ([`Setup::needs_cohort`]), so a notebook runs on a fresh machine.
    pub fn cohort(&self) -> Result<Manifest> {
        let m = self.data.join("manifest.toml");
        if self.needs_cohort() {
            let opts = SynthOptions::new(self.profile).with_seed(1);
            synth::generate(&opts, &self.data)?;
        }
        Manifest::open(&m)
    }

    /// Epochs a notebook trains for: few on `ci` (the notebooks must run in minutes there),
    /// 10 otherwise (as `mammolab train`).
    pub fn epochs(&self) -> usize {
        match self.profile {
            Profile::Ci => 8,
            _ => 10,
        }
    }

    /// Seeds a notebook repeats a run over ([`pipeline::sweep`](crate::pipeline::sweep())):
    /// 1 to 3 on `ci` (minutes), 1 to 5 otherwise (as the README's `train --seeds 1..5`).
    pub fn seeds(&self) -> Vec<u64> {
        match self.profile {
            Profile::Ci => (1..=3).collect(),
            _ => (1..=5).collect(),
        }
    }

    /// [`RunOptions`] for `model` at 64 px on this setup's device, epochs and image cache.
    pub fn run_options(&self, model: ModelChoice) -> RunOptions {
        RunOptions::new(model)
            .with_device(self.device)
            .with_epochs(self.epochs())
            .with_cache(self.cache.clone())
    }

    /// A folder for what a notebook writes (`<data>/notebook-out/<name>`), created.
    pub fn out_dir(&self, name: &str) -> Result<PathBuf> {
        use crate::error::IoContext;
        let d = self.data.join("notebook-out").join(name);
        std::fs::create_dir_all(&d).at(&d)?;
        Ok(d)
    }

    /// A public download's twin's scale (this setup's; `large` gives `default`, the twins'
    /// largest) and folder, `<name>-<scale>` beside the cohort folder.
    fn twin_dir(&self, name: &str) -> (Profile, PathBuf) {
        let scale = match self.profile {
            Profile::Large => Profile::Default,
            p => p,
        };
        let beside = self.data.parent().map(PathBuf::from).unwrap_or_default();
        (scale, beside.join(format!("{name}-{}", scale.name())))
    }

    /// The CBIS-DDSM twin ([`synth::cbis`]) at this setup's scale (`large` gives `default`),
    /// in `cbis-ddsm-<scale>` beside the cohort folder; generated (seed 1) when that folder
    /// has no manifest, so the notebook runs on a fresh machine.
    pub fn cbis_twin(&self) -> Result<Manifest> {
        let (scale, dir) = self.twin_dir("cbis-ddsm");
        let m = dir.join("manifest.toml");
        if !m.is_file() {
            synth::cbis::generate(&synth::cbis::CbisOptions::new(scale)?, &dir)?;
        }
        Manifest::open(&m)
    }

    /// Kaggle's DDSM Mammography twin ([`synth::ddsm`]) at this setup's scale (`large`
    /// gives `default`) in `ddsm-<scale>` beside the cohort folder, and its patches
    /// unpacked ([`Download::unpack`](crate::ingest::ddsm_patches::Download::unpack)) into
    /// `ddsm-<scale>-png`: returns the download's folder and the unpacked manifest, each
    /// made (seed 1) when missing.
    pub fn ddsm_twin(&self) -> Result<(PathBuf, Manifest)> {
        use crate::ingest::ddsm_patches::{Download, MANIFEST};
        let (scale, download) = self.twin_dir("ddsm");
        let unpacked = download.with_file_name(format!("ddsm-{}-png", scale.name()));
        let fresh = !download.join(synth::TRUTH).is_file();
        if fresh {
            synth::ddsm::generate(
                &synth::ddsm::DdsmOptions::new(scale)?.with_overwrite(true),
                &download,
            )?;
        }
        if fresh || !unpacked.join(MANIFEST).is_file() {
            if unpacked.exists() {
                std::fs::remove_dir_all(&unpacked).at(&unpacked)?;
            }
            Download::find(&download)?.unpack(&unpacked)?;
        }
        Ok((download, Manifest::open(unpacked.join(MANIFEST))?))
    }

    /// Seed 002's three downloads side by side ([`synth::sources`]: the CBIS-DDSM, INbreast
    /// and mini-MIAS twins and the manifest joining them) at this setup's scale (`large`
    /// gives `default`), in `three-sources-<scale>` beside the cohort folder; generated
    /// (seed 1) when that folder has no manifest.
    pub fn three_sources_twin(&self) -> Result<Manifest> {
        self.generated_twin("three-sources", synth::sources::generate)
    }

    /// The manifest of the twin `name` beside the cohort folder ([`Setup::twin_dir`]),
    /// written first by `generate` (seed 1, replacing a folder without a manifest) when
    /// the folder has none.
    fn generated_twin<S>(
        &self,
        name: &str,
        generate: impl FnOnce(&synth::TwinOptions, &std::path::Path) -> Result<S>,
    ) -> Result<Manifest> {
        let (scale, dir) = self.twin_dir(name);
        let m = dir.join(synth::MANIFEST);
        if !m.is_file() {
            generate(&synth::TwinOptions::new(scale)?.with_overwrite(true), &dir)?;
        }
        Manifest::open(&m)
    }

    /// Seed 003's IDC histology twin ([`synth::idc`]) at this setup's scale (`large` gives
    /// `default`), in `idc-<scale>` beside the cohort folder; generated (seed 1) when that
    /// folder has no manifest. Returns the manifest (its `base_dir` is the download's top).
    pub fn idc_twin(&self) -> Result<Manifest> {
        self.generated_twin(synth::idc::PROFILE, synth::idc::generate)
    }

    /// Seed 000's RSNA screening twin ([`synth::rsna`]) at this setup's scale (`large` gives
    /// `default`), in `rsna-<scale>` beside the cohort folder; generated (seed 1) when that
    /// folder has no manifest.
    pub fn rsna_twin(&self) -> Result<Manifest> {
        self.generated_twin(synth::rsna::PROFILE, synth::rsna::generate)
    }

    /// A one-line description for the top of a notebook.
    pub fn describe(&self) -> String {
        format!(
            "profile {} | data {} | device {:?}",
            self.profile.name(),
            self.data.display(),
            self.device
        )
    }
}

/// Up to `n` images of class `label` (their JPG exports) through `pre`, captioned with the
/// patient's pseudonym and the side: a gallery for [`plot::image_grid`](crate::plot::image_grid).
pub fn gallery(result: &MergeResult, label: &str, n: usize, pre: &Preprocess) -> Result<Vec<Tile>> {
    gallery_of(result, label, n, pre, |r| r.jpg.as_ref())
}

/// [`gallery`] of the file `pick` chooses from each record (its DICOM, its lesion crop
/// `roi_crop`, ...); records without one are passed over. A recipe that keeps colour
/// ([`Preprocess::channels`]) gives colour tiles.
pub fn gallery_of(
    result: &MergeResult,
    label: &str,
    n: usize,
    pre: &Preprocess,
    pick: impl Fn(&Record) -> Option<&PathBuf>,
) -> Result<Vec<Tile>> {
    result
        .records
        .iter()
        .filter(|r| r.label == label)
        .filter_map(|r| Some((r, pick(r)?)))
        .take(n)
        .map(|(r, file)| {
            let planes = pre.read_input(file, r.laterality == Some(Laterality::Right))?;
            let side = r.laterality.map_or("", |l| l.code());
            let caption = format!("{} {side}", pseudonym(&r.patient_id));
            Ok(match planes.as_slice() {
                [grey] => Tile::new(grey, caption),
                colour => Tile::colour(colour, caption),
            })
        })
        .collect()
}

/// Up to `n` films of class `label` from the download `source` of a joined cohort (its
/// raster, PNG/PGM/JPG, else its DICOM) through `pre`, captioned with the class and the
/// patient's pseudonym.
pub fn source_gallery(
    result: &MergeResult,
    source: &str,
    label: &str,
    n: usize,
    pre: &Preprocess,
) -> Result<Vec<Tile>> {
    let mut tiles = gallery_of(result, label, n, pre, |r| {
        match r.source.as_deref() == Some(source) {
            true => r.jpg.as_ref().or(r.dicom.as_ref()),
            false => None,
        }
    })?;
    for t in &mut tiles {
        t.caption = format!("{label} {}", t.caption);
    }
    Ok(tiles)
}

/// A montage of the download `source` of a joined cohort: up to `n` films of each of
/// `classes` (a row each, 96 x 128, cropped to the breast, right breasts mirrored), titled
/// with the source. A class the source lacks has no row.
pub fn source_montage(
    result: &MergeResult,
    source: &str,
    classes: &[String],
    n: usize,
) -> Result<crate::plot::Figure> {
    let pre = Preprocess::new(96, 128).with_crop(0.05);
    let mut tiles = vec![];
    for class in classes {
        tiles.extend(source_gallery(result, source, class, n, &pre)?);
    }
    let cols = n.max(1);
    let rows = tiles.len().div_ceil(cols).max(1) as u32;
    crate::plot::Figure::png(190 * cols as u32, 200 * rows + 60, |a| {
        crate::plot::image_grid(a, &tiles, cols, source)
    })
}

/// A joined cohort's downloads side by side (`manifest`'s `[[source]]`): each one's tables
/// and the rule that turns its vocabulary into the cohort's classes.
pub fn sources_table(manifest: &Manifest) -> Result<Table> {
    let (mut names, mut tables, mut rules) = (vec![], vec![], vec![]);
    for s in &manifest.sources {
        let m = manifest.source(s)?;
        names.push(s.name.clone());
        let files: Vec<String> = m
            .tables
            .iter()
            .map(|t| t.path.display().to_string())
            .collect();
        tables.push(files.join(", "));
        let mut described: Vec<String> = vec![];
        for d in m
            .sheets
            .iter()
            .filter_map(|sh| sh.label.as_ref())
            .map(|l| l.describe())
        {
            if !described.contains(&d) {
                described.push(d);
            }
        }
        rules.push(described.join(" | "));
    }
    let df = DataFrame::new_infer_height(vec![
        Column::new("source".into(), names),
        Column::new("tables".into(), tables),
        Column::new("label rule".into(), rules),
    ])
    .map_err(|e| Error::table("sources", e))?;
    Ok(Table::new(df))
}

/// Films found per source (rows) and class (columns, in `classes` order), with a total:
/// where each class of a joined cohort comes from.
pub fn classes_by_source(result: &MergeResult, classes: &[String]) -> Result<Table> {
    let mut counts: std::collections::BTreeMap<&str, Vec<u32>> = Default::default();
    for r in result
        .records
        .iter()
        .filter(|r| r.status == Status::ImageFound)
    {
        let row = counts
            .entry(r.source.as_deref().unwrap_or(""))
            .or_insert_with(|| vec![0; classes.len()]);
        if let Some(c) = classes.iter().position(|c| *c == r.label) {
            row[c] += 1;
        }
    }
    let mut cols = vec![Column::new(
        "source".into(),
        counts.keys().map(|s| s.to_string()).collect::<Vec<_>>(),
    )];
    for (c, name) in classes.iter().enumerate() {
        let v: Vec<u32> = counts.values().map(|row| row[c]).collect();
        cols.push(Column::new(name.as_str().into(), v));
    }
    let total: Vec<u32> = counts.values().map(|row| row.iter().sum()).collect();
    cols.push(Column::new("films".into(), total));
    let df = DataFrame::new_infer_height(cols).map_err(|e| Error::table("classes by source", e))?;
    Ok(Table::new(df))
}

/// The DICOMs of the first `n` header mismatches of the audit, captioned with the sheet,
/// row and the laterality the header gives.
pub fn header_mismatch_tiles(result: &MergeResult, n: usize) -> Result<Vec<Tile>> {
    result
        .audit
        .iter()
        .filter(|e| e.status == Status::HeaderMismatch)
        .filter_map(|e| Some((e, e.file.as_ref()?)))
        .take(n)
        .map(|(e, f)| {
            let h = read_header(f)?;
            let side = h.laterality.unwrap_or_default();
            let caption = format!("{} row {}: header says {side}", e.sheet, e.row);
            Ok(Tile::new(&read_display(f)?, caption))
        })
        .collect()
}

/// The first of the merge's DICOM files whose photometric interpretation is
/// `photometric` (e.g. `MONOCHROME1`), decoded (frame 0). Files that do not decode are
/// passed over: the merge's audit already lists them (status `file`).
pub fn first_dicom_with(result: &MergeResult, photometric: &str) -> Option<DicomImage> {
    result
        .records
        .iter()
        .filter_map(|r| r.dicom.as_ref())
        .filter_map(|p| read_image(p, 0).ok())
        .find(|img| img.info.photometric_interpretation == photometric)
}

/// Images, patients and breasts (patient and laterality) of a merge's records, and how many
/// images and breasts have one class (a breast has it when any of its images has): what a
/// table of one row per image, like RSNA's, does not show at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortCounts {
    /// The class counted.
    pub class: String,
    /// Records (one per labelled row).
    pub images: usize,
    /// Rows whose image was found.
    pub found: usize,
    /// Distinct patients.
    pub patients: usize,
    /// Distinct breasts.
    pub breasts: usize,
    /// Images of `class`.
    pub class_images: usize,
    /// Breasts with an image of `class`.
    pub class_breasts: usize,
}

impl CohortCounts {
    /// Count `result`'s records, `class` (e.g. `cancer`) apart.
    pub fn of(result: &MergeResult, class: &str) -> Self {
        use std::collections::BTreeSet;
        let r = &result.records;
        fn breast(x: &Record) -> (&str, Option<&'static str>) {
            (x.patient_id.as_str(), x.laterality.map(|l| l.code()))
        }
        let of_class = || r.iter().filter(|x| x.label == class);
        Self {
            class: class.to_string(),
            images: r.len(),
            found: result.summary.images.resolved,
            patients: r
                .iter()
                .map(|x| x.patient_id.as_str())
                .collect::<BTreeSet<_>>()
                .len(),
            breasts: r.iter().map(breast).collect::<BTreeSet<_>>().len(),
            class_images: of_class().count(),
            class_breasts: of_class().map(breast).collect::<BTreeSet<_>>().len(),
        }
    }

    /// Two lines: images, patients, breasts and images found; the class's images and breasts
    /// with their shares.
    pub fn report(&self) -> String {
        let share = |n: usize, of: usize| 100.0 * n as f64 / of.max(1) as f64;
        format!(
            "{} images of {} patients ({:.2} per patient), {} breasts; {} of {} images found\n{}: {} images ({:.1} %), {} breasts ({:.1} %)",
            self.images,
            self.patients,
            self.images as f64 / self.patients.max(1) as f64,
            self.breasts,
            self.found,
            self.images,
            self.class,
            self.class_images,
            share(self.class_images, self.images),
            self.class_breasts,
            share(self.class_breasts, self.breasts),
        )
    }
}

/// How a cohort's DICOM files are stored, one kind per transfer syntax, photometric
/// interpretation, VOI LUT function and bits stored (read from the headers only), with the
/// number of images of each and the first file of each to look at. RSNA's download mixes
/// two codecs, MONOCHROME1 and a SIGMOID window; a hospital export may mix more.
#[derive(Debug, Clone, PartialEq)]
pub struct DicomKinds {
    /// The kinds, in order of their first file in the merge's records.
    pub kinds: Vec<DicomKind>,
}

/// One kind of [`DicomKinds`].
#[derive(Debug, Clone, PartialEq)]
pub struct DicomKind {
    /// Transfer syntax UID.
    pub transfer_syntax: String,
    /// Photometric interpretation (empty when the header has none).
    pub photometric: String,
    /// VOI LUT function (`LINEAR` when the header has none).
    pub voi_lut_function: String,
    /// Bits stored.
    pub bits_stored: Option<u16>,
    /// Images of this kind.
    pub images: usize,
    /// The first of them.
    pub example: PathBuf,
}

impl DicomKinds {
    /// The kinds of the DICOM files of `result`'s records (a header that cannot be read is
    /// passed over: the merge's audit lists it).
    pub fn of(result: &MergeResult) -> Result<Self> {
        let mut kinds: Vec<DicomKind> = vec![];
        for file in result.records.iter().filter_map(|r| r.dicom.as_ref()) {
            let Ok(h) = read_header(file) else { continue };
            let kind = DicomKind {
                transfer_syntax: h.transfer_syntax,
                photometric: h.photometric.unwrap_or_default(),
                voi_lut_function: h.voi_lut_function.unwrap_or_else(|| "LINEAR".into()),
                bits_stored: h.bits_stored,
                images: 1,
                example: file.clone(),
            };
            let same = |k: &DicomKind| {
                (
                    &k.transfer_syntax,
                    &k.photometric,
                    &k.voi_lut_function,
                    k.bits_stored,
                ) == (
                    &kind.transfer_syntax,
                    &kind.photometric,
                    &kind.voi_lut_function,
                    kind.bits_stored,
                )
            };
            match kinds.iter_mut().find(|k| same(k)) {
                Some(k) => k.images += 1,
                None => kinds.push(kind),
            }
        }
        Ok(Self { kinds })
    }

    /// One row per kind: transfer syntax (name and UID), photometric interpretation, VOI LUT
    /// function, bits stored, images.
    pub fn table(&self) -> Result<Table> {
        let k = &self.kinds;
        let name = |t: &str| crate::ingest::transfer_syntax::name(t).unwrap_or("other");
        let df = DataFrame::new_infer_height(vec![
            Column::new(
                "transfer syntax".into(),
                k.iter()
                    .map(|k| name(&k.transfer_syntax))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "UID".into(),
                k.iter()
                    .map(|k| k.transfer_syntax.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "photometric".into(),
                k.iter().map(|k| k.photometric.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "VOI LUT function".into(),
                k.iter()
                    .map(|k| k.voi_lut_function.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "bits stored".into(),
                k.iter()
                    .map(|k| k.bits_stored.map(u32::from))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "images".into(),
                k.iter().map(|k| k.images as u32).collect::<Vec<_>>(),
            ),
        ])
        .map_err(|e| Error::table("DICOM kinds", e))?;
        Ok(Table::new(df))
    }

    /// Two tiles per kind, its example decoded: the stored values scaled min-max (what a
    /// reader that ignores the header shows) above the display (rescale, the window through
    /// the VOI LUT function, MONOCHROME1 inverted). For [`plot::image_grid`](crate::plot::image_grid)
    /// with [`DicomKinds::len`] columns.
    pub fn tiles(&self) -> Result<Vec<Tile>> {
        let images: Vec<DicomImage> = self
            .kinds
            .iter()
            .map(|k| read_image(&k.example, 0))
            .collect::<Result<_>>()?;
        // Short enough for a tile's caption: `J2K lossless · MONO1 · SIGMOID`.
        let label = |k: &DicomKind| {
            let ts = match crate::ingest::transfer_syntax::name(&k.transfer_syntax) {
                Some("JPEG 2000 lossless") => "J2K lossless",
                Some("JPEG lossless SV1") => "JPEG lossless",
                Some(name) => name,
                None => "other",
            };
            let mono = k.photometric.replace("MONOCHROME", "MONO");
            format!("{ts} · {mono} · {}", k.voi_lut_function)
        };
        let mut tiles = vec![];
        for (k, img) in self.kinds.iter().zip(&images) {
            tiles.push(Tile::new(&img.stored_min_max()?, label(k)));
        }
        for img in &images {
            tiles.push(Tile::new(&img.display()?, "displayed"));
        }
        Ok(tiles)
    }

    /// The number of kinds.
    pub fn len(&self) -> usize {
        self.kinds.len()
    }

    /// No DICOM file at all.
    pub fn is_empty(&self) -> bool {
        self.kinds.is_empty()
    }
}

/// Notebooks show tables through a [`Redactor`]; [`MergeResult::redactor`] knows a merge's ids.
impl Redactor {
    /// `df` redacted, as an HTML [`Table`] for a notebook.
    pub fn table(&self, df: &DataFrame) -> Result<Table> {
        Ok(Table::new(self.frame(df)?))
    }
}
