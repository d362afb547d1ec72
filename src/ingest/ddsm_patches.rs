//! Seed 004's download as it is laid out: Kaggle's "DDSM Mammography" (skooch, version 4),
//! 299 x 299 8-bit patches with a five-way label and no patient, case or lesion id.
//!
//! ```text
//! training10_0/training10_0.tfrecords ... training10_4/training10_4.tfrecords
//! cv10_data/cv10_data.npy      cv10_labels.npy
//! test10_data/test10_data.npy  test10_labels.npy
//! ```
//!
//! A training record is a `tf.train.Example` with `label` (int64: 0 negative, 1 benign
//! calcification, 2 benign mass, 3 malignant calcification, 4 malignant mass), `label_normal`
//! (int64: 0 negative, 1 an abnormality) and `image` (299 x 299 raw `uint8` bytes). The
//! arrays are `(n, 299, 299, 1)` `uint8` beside `(n,)` integer labels in the same five-way
//! code. A shard found directly in the root (`training10_0.tfrecords`, as some unzip tools
//! leave it) is read too.
//!
//! What the download's own description says, and a researcher must know before using it:
//! negatives are tiles of normal DDSM scans, positives are CBIS-DDSM ROIs each cropped three
//! times at random (flips and rotations), so the three crops of one lesion are spread over
//! the shards with nothing linking them; training and test follow CBIS-DDSM's division, but
//! the test half was split wrongly: `cv10` holds only calcifications and `test10` only
//! masses. Re-splitting the shards at random puts crops of one lesion on both sides.
//!
//! Every patch is checked as it is read: its size, its label in 0-4, and (training records)
//! `label_normal` equal to `label != 0`; the first bad one is an error naming the file and
//! the record or item.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::npy;
use super::tfrecord::{self, Feature};
use crate::error::{Error, Result};

/// A patch's side in pixels.
pub const SIDE: usize = 299;
/// How many training shards the download has.
pub const SHARDS: usize = 5;

/// Which part of the download a file is: its own division.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// `training10_*.tfrecords`: CBIS-DDSM's training cases and DDSM normals.
    Training,
    /// `cv10_*.npy`: half of the test division (calcifications only, see the module docs).
    Cv,
    /// `test10_*.npy`: the other half (masses only).
    Test,
}

impl Part {
    /// `training`, `cv` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Part::Training => "training",
            Part::Cv => "cv",
            Part::Test => "test",
        }
    }
}

/// What a five-way label means: (abnormality, pathology), `("none", "normal")` for 0.
pub fn label_meaning(label: u8) -> Option<(&'static str, &'static str)> {
    Some(match label {
        0 => ("none", "normal"),
        1 => ("calcification", "benign"),
        2 => ("mass", "benign"),
        3 => ("calcification", "malignant"),
        4 => ("mass", "malignant"),
        _ => return None,
    })
}

/// One file of the download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchFile {
    /// Path relative to the download's root.
    pub file: String,
    /// The labels array beside an `.npy` data file (relative), none for a shard.
    pub labels_file: Option<String>,
    /// Its part.
    pub part: Part,
}

/// The download's files, found below a root ([`Download::find`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The root folder.
    pub root: PathBuf,
    /// The five shards, then cv10, then test10.
    pub files: Vec<PatchFile>,
}

/// One patch, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// Index into [`Download::files`].
    pub file: usize,
    /// Record (shard) or item (array) number in its file, from 0.
    pub index: usize,
    /// The five-way label (see the module docs).
    pub label: u8,
    /// `SIDE * SIDE` pixels, row-major.
    pub pixels: Vec<u8>,
}

impl Download {
    /// Find the download's nine files below `root`; a missing one is a one-line error naming
    /// every file that is missing.
    pub fn find(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let mut files = vec![];
        let mut missing = vec![];
        let mut want = |rel: String, alt: String| -> Option<String> {
            if root.join(&rel).is_file() {
                Some(rel)
            } else if root.join(&alt).is_file() {
                Some(alt)
            } else {
                missing.push(rel);
                None
            }
        };
        for i in 0..SHARDS {
            let name = format!("training10_{i}.tfrecords");
            if let Some(f) = want(format!("training10_{i}/{name}"), name) {
                files.push(PatchFile {
                    file: f,
                    labels_file: None,
                    part: Part::Training,
                });
            }
        }
        for (stem, part) in [("cv10", Part::Cv), ("test10", Part::Test)] {
            let data = want(
                format!("{stem}_data/{stem}_data.npy"),
                format!("{stem}_data.npy"),
            );
            let labels = want(
                format!("{stem}_labels.npy"),
                format!("{stem}_labels/{stem}_labels.npy"),
            );
            if let (Some(file), Some(labels)) = (data, labels) {
                files.push(PatchFile {
                    file,
                    labels_file: Some(labels),
                    part,
                });
            }
        }
        if !missing.is_empty() {
            return Err(Error::Data {
                file: root.to_path_buf(),
                message: format!(
                    "not the whole DDSM Mammography download: missing {}",
                    missing.join(", ")
                ),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            files,
        })
    }

    /// Every patch of file `file` (an index into [`Download::files`]), in order, each checked.
    pub fn patches(&self, file: usize) -> Result<Box<dyn Iterator<Item = Result<Patch>> + '_>> {
        let f = &self.files[file];
        let path = self.root.join(&f.file);
        let bad = move |index: usize, what: &str, message: String| Error::Data {
            file: self.root.join(&self.files[file].file),
            message: format!("{what} {index}: {message}"),
        };
        match &f.labels_file {
            None => {
                let records = tfrecord::records(&path)?;
                Ok(Box::new(records.enumerate().map(move |(index, data)| {
                    let (label, pixels) =
                        record_patch(data?).map_err(|m| bad(index, "record", m))?;
                    Ok(Patch {
                        file,
                        index,
                        label,
                        pixels,
                    })
                })))
            }
            Some(labels_rel) => {
                let data = npy::open(&path)?;
                let labels = npy::open(self.root.join(labels_rel))?;
                let shape_ok = data.shape.len() >= 3
                    && data.shape[1..3] == [SIDE as u64, SIDE as u64]
                    && data.shape[3..].iter().all(|&d| d == 1);
                if !shape_ok {
                    return Err(Error::Data {
                        file: path,
                        message: format!(
                            "shape {:?}, not (n, {SIDE}, {SIDE}, 1) patches",
                            data.shape
                        ),
                    });
                }
                if labels.shape.len() != 1 || labels.len() != data.len() {
                    return Err(Error::Data {
                        file: self.root.join(labels_rel),
                        message: format!(
                            "shape {:?}, but {} holds {} patches",
                            labels.shape,
                            f.file,
                            data.len()
                        ),
                    });
                }
                let values = labels.integers()?;
                let items = data.u8_items()?;
                Ok(Box::new(items.zip(values).enumerate().map(
                    move |(index, (pixels, label))| {
                        let label = check_label(label).map_err(|m| bad(index, "item", m))?;
                        Ok(Patch {
                            file,
                            index,
                            label,
                            pixels: pixels?,
                        })
                    },
                )))
            }
        }
    }

    /// Read every patch once and count them per file and label (nothing kept in memory).
    pub fn audit(&self) -> Result<DownloadAudit> {
        self.walk(|_, _| Ok(()))
    }

    /// Read every patch once, a few hundred at a time (a real shard is a gigabyte), hand
    /// each batch to `visit` with its file's index, and count them per file and label.
    fn walk(&self, mut visit: impl FnMut(usize, &[Patch]) -> Result<()>) -> Result<DownloadAudit> {
        let mut files = vec![];
        for (i, f) in self.files.iter().enumerate() {
            let mut labels = BTreeMap::new();
            let mut n = 0;
            let mut patches = self.patches(i)?.peekable();
            while patches.peek().is_some() {
                let batch: Vec<Patch> = patches.by_ref().take(512).collect::<Result<_>>()?;
                visit(i, &batch)?;
                for p in &batch {
                    *labels.entry(p.label).or_insert(0usize) += 1;
                }
                n += batch.len();
            }
            files.push(FileCount {
                file: f.clone(),
                patches: n,
                labels,
            });
        }
        Ok(DownloadAudit {
            root: self.root.clone(),
            patches: files.iter().map(|f| f.patches).sum(),
            files,
        })
    }
}

/// A training record's label and pixels, checked (label 0-4, `label_normal` agreeing,
/// one 299 x 299 image); the error says what is wrong.
fn record_patch(data: Vec<u8>) -> std::result::Result<(u8, Vec<u8>), String> {
    let mut ex = tfrecord::parse_example(&data)?;
    let int = |name: &str| match ex.get(name) {
        Some(Feature::Int64(v)) if v.len() == 1 => Ok(v[0]),
        _ => Err(format!("feature `{name}` is missing or not one int64")),
    };
    let label = check_label(int("label")?)?;
    let normal = int("label_normal")?;
    if normal != i64::from(label != 0) {
        return Err(format!(
            "label_normal {normal} disagrees with label {label}"
        ));
    }
    let pixels = match ex.remove("image") {
        Some(Feature::Bytes(mut v)) if v.len() == 1 => v.remove(0),
        _ => return Err("feature `image` is missing or not one bytes value".into()),
    };
    if pixels.len() != SIDE * SIDE {
        return Err(format!(
            "image has {} bytes, a {SIDE}x{SIDE} patch {}",
            pixels.len(),
            SIDE * SIDE
        ));
    }
    Ok((label, pixels))
}

fn check_label(v: i64) -> std::result::Result<u8, String> {
    u8::try_from(v)
        .ok()
        .filter(|l| label_meaning(*l).is_some())
        .ok_or_else(|| format!("label {v} is not one of 0-4"))
}

/// How many patches each file holds, by label ([`Download::audit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadAudit {
    /// The root folder.
    pub root: PathBuf,
    /// Every file, in [`Download::files`] order.
    pub files: Vec<FileCount>,
    /// Patches in all.
    pub patches: usize,
}

/// One file's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileCount {
    /// The file.
    #[serde(flatten)]
    pub file: PatchFile,
    /// Patches in it.
    pub patches: usize,
    /// Patches per five-way label.
    pub labels: BTreeMap<u8, usize>,
}

/// The unpacked download's table, written by [`Download::unpack`].
pub const TABLE: &str = "patches.csv";
/// The folder of PNG patches, one subfolder per download file.
pub const PNG_ROOT: &str = "patches";
/// The manifest written beside them.
pub const MANIFEST: &str = "manifest.toml";
/// The table's columns, in order.
pub const COLUMNS: [&str; 8] = [
    "patch",
    "source",
    "index",
    "part",
    "label",
    "label_normal",
    "abnormality",
    "pathology",
];

/// What [`Download::unpack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unpacked {
    /// The output folder.
    pub out: PathBuf,
    /// Patches written (one PNG and one table row each).
    pub patches: usize,
    /// Patches per part.
    pub parts: BTreeMap<String, usize>,
    /// The table.
    pub table: PathBuf,
    /// The manifest that reads it.
    pub manifest: PathBuf,
    /// Every patch counted per file and label on the way ([`Download::audit`]'s answer,
    /// without reading the download twice).
    #[serde(skip)]
    pub audit: DownloadAudit,
}

impl Download {
    /// Write every patch as an 8-bit PNG (`patches/<file stem>/<file stem>_<index>.png`),
    /// one `patches.csv` row per patch ([`COLUMNS`]: the patch's name, its file and index
    /// in the download, its part, the two labels and their meaning) and a `manifest.toml`
    /// that reads them: benign vs malignant (`label` 1-2 benign, 3-4 malignant, the
    /// negatives left out; edit its `map` for another task), and the download's own
    /// division (`[split]`: the shards train, cv10 and test10 together test, validation
    /// drawn from the training patches). `out` must be empty or not exist.
    pub fn unpack(&self, out: &Path) -> Result<Unpacked> {
        use rayon::prelude::*;
        if out.exists()
            && std::fs::read_dir(out)
                .map_err(|e| Error::io(out, e))?
                .next()
                .is_some()
        {
            return Err(Error::Param {
                name: "out",
                message: format!("{} is not empty; choose an empty folder", out.display()),
            });
        }
        let mut csv = COLUMNS.join(",");
        csv.push('\n');
        let stem = |f: &PatchFile| {
            Path::new(&f.file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        for f in &self.files {
            let dir = out.join(PNG_ROOT).join(stem(f));
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        let audit = self.walk(|i, batch| {
            let f = &self.files[i];
            let stem = stem(f);
            let dir = out.join(PNG_ROOT).join(&stem);
            batch.par_iter().try_for_each(|p| {
                let path = dir.join(format!("{stem}_{:05}.png", p.index));
                image::save_buffer(
                    &path,
                    &p.pixels,
                    SIDE as u32,
                    SIDE as u32,
                    image::ExtendedColorType::L8,
                )
                .map_err(|e| Error::Data {
                    file: path.clone(),
                    message: format!("could not write the PNG: {e}"),
                })
            })?;
            for p in batch {
                let (abnormality, pathology) = label_meaning(p.label).expect("checked");
                csv.push_str(&format!(
                    "{stem}_{:05},{},{},{},{},{},{abnormality},{pathology}\n",
                    p.index,
                    f.file,
                    p.index,
                    f.part.name(),
                    p.label,
                    u8::from(p.label != 0),
                ));
            }
            Ok(())
        })?;
        let table = out.join(TABLE);
        crate::outlock::write_atomic(&table, csv.as_bytes())?;
        let manifest = unpacked_manifest(out, crate::hash::sha256_bytes(csv.as_bytes()));
        let path = out.join(MANIFEST);
        crate::outlock::write_atomic(&path, manifest.to_toml_string()?.as_bytes())?;
        let mut parts: BTreeMap<String, usize> = BTreeMap::new();
        for f in &audit.files {
            *parts.entry(f.file.part.name().into()).or_default() += f.patches;
        }
        Ok(Unpacked {
            out: out.to_path_buf(),
            patches: audit.patches,
            parts,
            table,
            manifest: path,
            audit,
        })
    }
}

/// The manifest of an unpacked download (see [`Download::unpack`]).
fn unpacked_manifest(out: &Path, sha256: String) -> crate::manifest::Manifest {
    use crate::manifest::{
        ClassList, Cohort, ImageRoot, Key, LabelRule, Manifest, Sheet, SplitRule, Table,
    };
    let map = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    Manifest {
        schema: crate::manifest::SCHEMA,
        allow_outside: false,
        cohort: Cohort {
            name: "ddsm-mammography".into(),
            description: "Kaggle's DDSM Mammography patches (299 x 299), benign vs malignant; negatives left out".into(),
            licence: "as the Kaggle dataset page states; the images come from DDSM and CBIS-DDSM (TCIA, CC BY 3.0)".into(),
            provenance: "https://www.kaggle.com/datasets/skooch/ddsm-mammography".into(),
        },
        tables: vec![Table {
            id: "patches".into(),
            path: TABLE.into(),
            sha256: Some(sha256),
        }],
        sheets: vec![Sheet {
            table: "patches".into(),
            name: "patches".into(),
            label: Some(LabelRule::Map {
                column: "label".into(),
                classes: map(&[
                    ("1", "benign"),
                    ("2", "benign"),
                    ("3", "malignant"),
                    ("4", "malignant"),
                ]),
            }),
            image_root: Some("patches".into()),
        }],
        patient: None,
        key: Some(Key {
            columns: vec!["patch".into()],
            separator: "-".into(),
        }),
        merge: None,
        sources: vec![],
        image_roots: vec![ImageRoot {
            id: "patches".into(),
            path: PNG_ROOT.into(),
            formats: vec!["png".into()],
            file_column: Some("patch".into()),
            match_by: Default::default(),
            roi_column: None,
            label: None,
            patient_folder: None,
            image_size: None,
        }],
        split: Some(SplitRule {
            column: Some("part".into()),
            train: vec![Part::Training.name().into()],
            validation: vec![],
            test: vec![Part::Cv.name().into(), Part::Test.name().into()],
        }),
        classes: Some(ClassList {
            names: Some(vec!["benign".into(), "malignant".into()]),
            positive: Some("malignant".into()),
        }),
        synth: None,
        base_dir: out.to_path_buf(),
        source: out.join(MANIFEST),
    }
}
