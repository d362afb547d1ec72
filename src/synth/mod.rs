//! The synthetic cohort: a hospital export like seed 001's, generated from a seed.
//!
//! Real hospital data cannot ship, so every notebook, test and benchmark runs on this.
//! [`generate`] writes, into one folder:
//!
//! - `datacombined.xlsx` with sheets `Cancer` and `Non-Cancer` (seed 001: 105 and 4998 rows,
//!   561 columns: key, clinical and DICOM-derived columns plus radiomics-style features);
//! - `data_validation_x.xlsx`, the image listing (322 rows, 16 columns) whose `AbsolutePath`
//!   holds Windows paths from another machine;
//! - `acıbademsana/Cancer/{1. kisim, 2. kısım}/` and `acıbademsana/Non-Cancer/batch_NN/`
//!   with every image as DICOM (`FILE0004.dcm`: MG, 16-bit, MONOCHROME2 and some
//!   MONOCHROME1, window, rescale, laterality, view) and as the JPG export seed 001
//!   trained on (`FILE0004.jpg`);
//! - `ground_truth.json`, listing every planted fault and the expected merge counts;
//! - `manifest.toml`, the data manifest of the cohort with the sha256 of its tables.
//!
//! The same profile and seed give byte-identical files on any machine and thread count:
//! the whole cohort is planned first from value-stable random streams ([`rng`]), and each
//! image draws from a stream of its own.
//!
//! Planted faults (seed 001's traps): key parts written in other formats (ISO or dotted
//! dates, Excel date and time cells, `11:26:03`, a lost leading zero, spaces and case in
//! ids), `Cancer` rows with no listing row, duplicate keys on both sides, a missing image,
//! a truncated DICOM, a DICOM whose laterality contradicts its row, a file present in two
//! folders, patients in both classes, and non-ASCII folder names.

pub use crate::calendar;
pub mod cbis;
pub mod codec;
pub mod ddsm;
pub mod dicom;
pub mod idc;
pub mod inbreast;
pub mod mias;
pub mod phantom;
pub mod plan;
pub mod profile;
pub mod rsna;
pub mod sources;
pub use crate::rng;
pub mod truth;
pub mod workbook;
pub mod xls;

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, IoContext, Result};
use crate::manifest::{
    self, ClassList, Cohort, ImageRoot, Key, LabelRule, Manifest, Merge, Sheet, SynthInfo, Table,
};
use phantom::{LesionSite, PhantomSpec};
use plan::{CancerRole, ImageClass, NormalRole, Plan, DEVICES, ROOT};
pub use profile::{Profile, ProfileSpec};
use truth::{CellRef, Counts, Fault, GroundTruth, ImageTruth};

/// Name of the combined workbook.
pub const COMBINED: &str = "datacombined.xlsx";
/// Name of the validation listing.
pub const LISTING: &str = "data_validation_x.xlsx";
/// Name of the ground-truth file.
pub const TRUTH: &str = "ground_truth.json";
/// Name of the manifest written beside the cohort.
pub const MANIFEST: &str = "manifest.toml";

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    profile: Profile,
    spec: ProfileSpec,
    seed: u64,
    overwrite: bool,
}

impl SynthOptions {
    /// The given profile with seed 1.
    pub fn new(profile: Profile) -> Self {
        SynthOptions {
            profile,
            spec: profile.spec(),
            seed: 1,
            overwrite: false,
        }
    }

    /// Use another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Scale lesion contrast (1.0 is the profile's; lower makes cancers harder to see).
    pub fn with_conspicuity(mut self, c: f32) -> Self {
        self.spec.conspicuity = c;
        self
    }

    /// Replace a cohort already in the output folder (only the files `synth` writes).
    pub fn with_overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// The sizes that will be generated.
    pub fn spec(&self) -> &ProfileSpec {
        &self.spec
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SynthSummary {
    /// The output folder.
    pub out: PathBuf,
    /// Profile name.
    pub profile: String,
    /// Seed.
    pub seed: u64,
    /// The counts recorded in the ground truth.
    pub counts: Counts,
    /// Number of planted faults.
    pub faults: usize,
    /// Files written.
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Generate a cohort into `out` (created if needed; must be empty unless overwriting).
pub fn generate(opts: &SynthOptions, out: &Path) -> Result<SynthSummary> {
    opts.spec.validate()?;
    let _lock = crate::outlock::OutLock::folder(out)?;
    prepare_out(
        out,
        opts.overwrite,
        &[COMBINED, LISTING, TRUTH, MANIFEST],
        &[ROOT],
    )?;
    let spec = &opts.spec;
    let seed = opts.seed;
    let plan = Plan::build(spec, seed);

    let ((combined, listing), sites) = rayon::join(
        || {
            rayon::join(
                || workbook::write_combined(&out.join(COMBINED), &plan, spec, seed),
                || workbook::write_listing(&out.join(LISTING), &plan, spec, seed),
            )
        },
        || write_images(out, &plan, spec, seed),
    );
    combined?;
    listing?;
    let sites = sites?;

    let truth = ground_truth(opts, &plan, &sites);
    let truth_path = out.join(TRUTH);
    crate::outlock::write_json(&truth, &truth_path)?;

    let manifest = cohort_manifest(opts, out)?;
    let manifest_path = out.join(MANIFEST);
    crate::outlock::write_atomic(&manifest_path, manifest.to_toml_string()?.as_bytes())?;

    let (files, bytes) = dir_size(out)?;
    Ok(SynthSummary {
        out: out.to_path_buf(),
        profile: opts.profile.name().into(),
        seed,
        faults: truth.faults.len(),
        counts: truth.counts,
        files,
        bytes,
    })
}

/// Make `out` ready for a cohort: created if missing; if it holds anything (besides the
/// writer's lock) it must be a cohort being replaced (`overwrite`), whose `files` and
/// `dirs` are removed first.
fn prepare_out(out: &Path, overwrite: bool, files: &[&str], dirs: &[&str]) -> Result<()> {
    if out.exists() {
        let non_empty = fs::read_dir(out)
            .at(out)?
            .any(|e| e.map_or(true, |e| e.file_name() != crate::outlock::LOCK_NAME));
        if non_empty && !overwrite {
            return Err(Error::Param {
                name: "out",
                message: format!(
                    "{} is not empty; choose an empty folder or pass --force to replace a cohort there",
                    out.display()
                ),
            });
        }
        for f in files {
            let p = out.join(f);
            if p.exists() {
                fs::remove_file(&p).at(&p)?;
            }
        }
        for d in dirs {
            let root = out.join(d);
            if root.exists() {
                fs::remove_dir_all(&root).at(&root)?;
            }
        }
    }
    fs::create_dir_all(out).at(out)
}

/// What a twin of a public download is generated with: its scale (`ci` or `default`), the
/// seed, and whether to replace a twin already in the output folder (only the files `synth`
/// writes). The mini-MIAS and INbreast twins take it as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TwinOptions {
    /// `ci` or `default`.
    pub scale: Profile,
    /// The generator seed: the same scale and seed give byte-identical files.
    pub seed: u64,
    /// Replace a twin already in the output folder.
    pub overwrite: bool,
}

/// What a public download's twin wrote (`C`: its own counts, e.g.
/// [`inbreast::InbreastCounts`]); what `mammolab synth --json` prints.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TwinSummary<C> {
    /// The output folder.
    pub out: PathBuf,
    /// `<profile>-<scale>`, e.g. `inbreast-ci` ([`TwinOptions::name`]).
    pub profile: String,
    /// The seed.
    pub seed: u64,
    /// The counts.
    pub counts: C,
    /// Files written (the IDC twin's top-level copies included).
    pub files: usize,
    /// Bytes written (the IDC twin's hard-linked copies counted once).
    pub bytes: u64,
}

impl TwinOptions {
    /// Seed 1 at `scale`; `large` is refused (the twins follow their download's counts).
    pub fn new(scale: Profile) -> Result<Self> {
        if scale == Profile::Large {
            return Err(Error::Param {
                name: "scale",
                message: "the public-download twins have the scales ci and default".into(),
            });
        }
        Ok(Self {
            scale,
            seed: 1,
            overwrite: false,
        })
    }

    /// Use another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Replace a twin already in the output folder (only the files `synth` writes).
    pub fn with_overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// `<profile>-<scale>`, e.g. `inbreast-ci`.
    pub fn name(&self, profile: &str) -> String {
        format!("{profile}-{}", self.scale.name())
    }

    /// The last step of a twin's `generate`: write `truth` as `ground_truth.json` and the
    /// manifest made from `template` into `out`, then count the files and bytes there into
    /// the twin's summary with its `counts`.
    pub(crate) fn finish<T: serde::Serialize, C>(
        &self,
        out: &Path,
        profile: &str,
        template: &str,
        truth: &T,
        counts: C,
    ) -> Result<TwinSummary<C>> {
        crate::outlock::write_json(truth, &out.join(TRUTH))?;
        let manifest = self.manifest(template, profile, out)?;
        crate::outlock::write_atomic(&out.join(MANIFEST), manifest.to_toml_string()?.as_bytes())?;
        let (files, bytes) = dir_size(out)?;
        Ok(TwinSummary {
            out: out.to_path_buf(),
            profile: self.name(profile),
            seed: self.seed,
            counts,
            files,
            bytes,
        })
    }

    /// A `data-manifests` template as the twin written into `out` under `profile` fills it
    /// in: the twin's name, licence and provenance, each table's and each source manifest's
    /// sha256, and the ground truth when the twin wrote one.
    pub fn manifest(&self, template: &str, profile: &str, out: &Path) -> Result<Manifest> {
        let mut m = Manifest::from_toml_str(template, out.join(MANIFEST))?;
        m.cohort.name = self.name(profile);
        m.cohort.licence = "CC0-1.0 (generated; no real patient data)".into();
        m.cohort.provenance = format!(
            "mammolab {} synth --profile {profile} --scale {} --seed {}",
            env!("CARGO_PKG_VERSION"),
            self.scale.name(),
            self.seed
        );
        for t in &mut m.tables {
            t.sha256 = Some(crate::hash::sha256_file(&out.join(&t.path))?);
        }
        for s in &mut m.sources {
            s.sha256 = Some(crate::hash::sha256_file(&out.join(&s.manifest))?);
        }
        if out.join(TRUTH).is_file() {
            m.synth = Some(SynthInfo {
                profile: self.name(profile),
                seed: self.seed,
                generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
                truth: TRUTH.into(),
                truth_sha256: Some(crate::hash::sha256_file(&out.join(TRUTH))?),
            });
        }
        Ok(m)
    }
}

/// Render, encode and write every image; returns each image's lesion site in stored
/// pixel coordinates.
fn write_images(
    out: &Path,
    plan: &Plan,
    spec: &ProfileSpec,
    seed: u64,
) -> Result<Vec<Option<LesionSite>>> {
    let mut folders: Vec<&str> = plan.images.iter().map(|i| i.folder.as_str()).collect();
    folders.extend(
        plan.images
            .iter()
            .filter_map(|i| i.faults.copy_to.as_deref()),
    );
    folders.sort_unstable();
    folders.dedup();
    for f in folders {
        let p = out.join(f);
        fs::create_dir_all(&p).at(&p)?;
    }
    plan.images
        .par_iter()
        .map(|img| {
            let study = &plan.studies[img.study];
            let patient = &plan.patients[study.patient];
            let device = &DEVICES[study.device].0;
            let mut rng = rng::Rng::derive(seed, 0x1_0000_0000 + img.stream);
            let (mut px, site) = phantom::render(
                &PhantomSpec {
                    rows: spec.rows,
                    cols: spec.cols,
                    density: patient.density,
                    view: img.view,
                    lesion: img.lesion,
                    conspicuity: spec.conspicuity,
                },
                &mut rng,
            );
            // Right breasts face the other way: chest wall on the right edge.
            let site = if img.side == plan::Side::R {
                for row in px.chunks_mut(spec.cols) {
                    row.reverse();
                }
                site.map(|s| LesionSite {
                    x: (spec.cols - 1) as f32 - s.x,
                    ..s
                })
            } else {
                site
            };
            if img.faults.missing {
                return Ok(site);
            }
            let stored = dicom::stored_values(&px, img, device);
            let display = dicom::display_8bit(&stored, img, device);
            let dcm = out.join(img.dicom_path());
            let ctx = dicom::HeaderContext {
                seed,
                img,
                study,
                study_index: img.study,
                patient,
                device,
                rows: spec.rows,
                cols: spec.cols,
            };
            dicom::write_dicom(&dcm, &ctx, stored)?;
            let jpg = out.join(img.jpg_path());
            dicom::write_jpg(&jpg, &display, spec.rows, spec.cols)?;
            if let Some(to) = &img.faults.copy_to {
                for (src, ext) in [(&dcm, "dcm"), (&jpg, "jpg")] {
                    let dst = out.join(to).join(format!("{}.{ext}", img.file));
                    fs::copy(src, &dst).at(&dst)?;
                }
            }
            if img.faults.corrupt_dicom {
                // Cut the file inside Pixel Data: the header still parses, the pixels do not.
                let len = fs::metadata(&dcm).at(&dcm)?.len();
                let f = fs::OpenOptions::new().write(true).open(&dcm).at(&dcm)?;
                f.set_len(len * 3 / 5).at(&dcm)?;
            }
            Ok(site)
        })
        .collect()
}

fn class_name(c: ImageClass) -> &'static str {
    match c {
        ImageClass::Cancer => "cancer",
        ImageClass::Normal => "normal",
        ImageClass::Unlisted => "unlisted",
    }
}

fn ground_truth(opts: &SynthOptions, plan: &Plan, sites: &[Option<LesionSite>]) -> GroundTruth {
    let spec = &opts.spec;
    let at = |workbook: &str, sheet: &str, k: usize, column: Option<&str>| CellRef {
        workbook: workbook.into(),
        sheet: sheet.into(),
        row: k + 2,
        column: column.map(str::to_string),
    };
    let listing_row_of = |image: usize| plan.listing.iter().position(|(r, _)| r.image == image);
    let mut faults = vec![];

    // Cancer sheet.
    let mut dup_rows = vec![];
    for (k, (row, role)) in plan.cancer.iter().enumerate() {
        let img = &plan.images[row.image];
        match role {
            CancerRole::Exact => {}
            CancerRole::Format(f) => {
                let canon = plan.canonical_row(row.image);
                let (written, expected) = match f.column() {
                    "StudyDate" => (row.date.display(), canon.date.display()),
                    "StudyTime" => (row.time.display(), format!("{:06}", plan.studies[img.study].time.as_int())),
                    "PatientID.x" => (row.patient.display(), canon.patient.display()),
                    _ => (row.file.display(), canon.file.display()),
                };
                let listed = listing_row_of(row.image).map(|i| i + 2).unwrap_or(0);
                faults.push(Fault {
                    kind: f.name().into(),
                    cells: vec![at(COMBINED, "Cancer", k, Some(f.column()))],
                    files: vec![],
                    written: Some(format!("{written:?}")),
                    expected: Some(expected),
                    detail: format!(
                        "{} differs from row {listed} of {LISTING} only in formatting; the exact key misses it",
                        f.column()
                    ),
                });
            }
            CancerRole::NoCounterpart => faults.push(Fault {
                kind: "no_counterpart".into(),
                cells: vec![at(COMBINED, "Cancer", k, None)],
                files: vec![img.jpg_path()],
                written: None,
                expected: None,
                detail: format!("study of {} is absent from {LISTING}; its image exists and is found by file name", img.file),
            }),
            CancerRole::Duplicate => dup_rows.push(k),
        }
    }
    if let [a, b] = dup_rows[..] {
        let img = &plan.images[plan.cancer[a].0.image];
        faults.push(Fault {
            kind: "duplicate_key".into(),
            cells: vec![
                at(COMBINED, "Cancer", a, None),
                at(COMBINED, "Cancer", b, None),
            ],
            files: vec![img.jpg_path()],
            written: None,
            expected: None,
            detail: format!(
                "{} was exported twice; its study is absent from {LISTING}",
                img.file
            ),
        });
    }

    // Non-Cancer sheet.
    let mut dup_rows = vec![];
    for (k, (row, role)) in plan.normal.iter().enumerate() {
        let img = &plan.images[row.image];
        match role {
            NormalRole::Plain => {}
            NormalRole::Duplicate => dup_rows.push(k),
            NormalRole::FileNameWhitespace => faults.push(Fault {
                kind: "file_name_whitespace".into(),
                cells: vec![at(COMBINED, "Non-Cancer", k, Some("InputFileName"))],
                files: vec![img.jpg_path()],
                written: Some(format!("{:?}", row.file.display())),
                expected: Some(img.file.clone()),
                detail:
                    "trailing space in the file name: an exact file-name lookup misses the image"
                        .into(),
            }),
        }
        let cells = vec![at(COMBINED, "Non-Cancer", k, None)];
        let f = &img.faults;
        if f.missing {
            faults.push(Fault {
                kind: "missing_image".into(),
                cells: cells.clone(),
                files: vec![img.dicom_path(), img.jpg_path()],
                written: None,
                expected: None,
                detail: format!(
                    "neither {}.dcm nor {}.jpg exists anywhere under the image root",
                    img.file, img.file
                ),
            });
        }
        if f.corrupt_dicom {
            faults.push(Fault {
                kind: "corrupt_dicom".into(),
                cells: cells.clone(),
                files: vec![img.dicom_path()],
                written: None,
                expected: None,
                detail: "truncated to 3/5 of its length inside Pixel Data (7FE0,0010); the JPG is intact".into(),
            });
        }
        if f.wrong_header_laterality {
            faults.push(Fault {
                kind: "header_mismatch".into(),
                cells: vec![at(COMBINED, "Non-Cancer", k, Some("Laterality"))],
                files: vec![img.dicom_path()],
                written: Some(img.side.other().code().into()),
                expected: Some(img.side.code().into()),
                detail: "ImageLaterality (0020,0062) in the DICOM header contradicts the sheet's Laterality".into(),
            });
        }
        if let Some(to) = &f.copy_to {
            faults.push(Fault {
                kind: "duplicate_file".into(),
                cells,
                files: vec![img.jpg_path(), format!("{to}/{}.jpg", img.file)],
                written: None,
                expected: None,
                detail: format!(
                    "{} (.dcm and .jpg) is present in two batch folders",
                    img.file
                ),
            });
        }
    }
    if let [a, b] = dup_rows[..] {
        faults.push(Fault {
            kind: "duplicate_key".into(),
            cells: vec![
                at(COMBINED, "Non-Cancer", a, None),
                at(COMBINED, "Non-Cancer", b, None),
            ],
            files: vec![],
            written: None,
            expected: None,
            detail: format!(
                "{} is listed twice",
                plan.images[plan.normal[a].0.image].file
            ),
        });
    }

    // Listing.
    let dups: Vec<usize> = plan
        .listing
        .iter()
        .enumerate()
        .filter(|(_, r)| r.1)
        .map(|(k, _)| k)
        .collect();
    faults.push(Fault {
        kind: "duplicate_key".into(),
        cells: dups
            .iter()
            .map(|&k| at(LISTING, workbook::LISTING_SHEET, k, None))
            .collect(),
        files: vec![],
        written: None,
        expected: None,
        detail: format!(
            "{} is listed twice in the image listing",
            plan.images[plan.listing[dups[0]].0.image].file
        ),
    });

    for &p in &plan.both_classes {
        let cells: Vec<CellRef> = plan
            .cancer
            .iter()
            .enumerate()
            .map(|(k, r)| ("Cancer", k, r.0.image))
            .chain(
                plan.normal
                    .iter()
                    .enumerate()
                    .map(|(k, r)| ("Non-Cancer", k, r.0.image)),
            )
            .filter(|(_, _, i)| plan.studies[plan.images[*i].study].patient == p)
            .map(|(sheet, k, _)| at(COMBINED, sheet, k, Some("PatientID.x")))
            .collect();
        faults.push(Fault {
            kind: "patient_in_both_classes".into(),
            cells,
            files: vec![],
            written: None,
            expected: None,
            detail: format!(
                "patient {} has an earlier normal study in Non-Cancer and a cancer in Cancer: an image-level split leaks",
                plan.patients[p].pseudonym
            ),
        });
    }
    faults.push(Fault {
        kind: "non_ascii_path".into(),
        cells: vec![],
        files: vec![format!("{ROOT}/Cancer/{}", plan::CANCER_PARTS[1])],
        written: None,
        expected: None,
        detail: "folder names with non-ASCII characters (ı, ı): paths must be handled as Unicode, not bytes or cp1252".into(),
    });

    let images: Vec<ImageTruth> = plan
        .images
        .iter()
        .zip(sites)
        .map(|(img, site)| {
            let st = &plan.studies[img.study];
            let pt = &plan.patients[st.patient];
            let dev = &DEVICES[st.device].0;
            ImageTruth {
                file: img.file.clone(),
                dicom: img.dicom_path(),
                jpg: img.jpg_path(),
                class: class_name(img.class).into(),
                patient_id: pt.id.clone(),
                pseudonym: pt.pseudonym.clone(),
                accession_number: st.accession.clone(),
                birth_date: pt.birth_date(),
                study_date: st.date.compact(),
                laterality: img.side.code().into(),
                view: img.view.code().into(),
                density: pt.density.letter().into(),
                birads: img.birads,
                lesion: img.lesion.map(|l| l.name().into()),
                lesion_xyr: site.map(|s| [round1(s.x), round1(s.y), round1(s.radius)]),
                photometric: if dev.monochrome1 {
                    "MONOCHROME1"
                } else {
                    "MONOCHROME2"
                }
                .into(),
                manufacturer: dev.manufacturer.into(),
            }
        })
        .collect();

    let written = plan.images.iter().filter(|i| !i.faults.missing).count();
    let copies = plan
        .images
        .iter()
        .filter(|i| i.faults.copy_to.is_some())
        .count();
    let format_faults = plan
        .cancer
        .iter()
        .filter(|r| matches!(r.1, CancerRole::Format(_)))
        .count();
    let exact = plan
        .cancer
        .iter()
        .filter(|r| r.1 == CancerRole::Exact)
        .count();
    let counts = Counts {
        cancer_rows: plan.cancer.len(),
        non_cancer_rows: plan.normal.len(),
        validation_rows: plan.listing.len(),
        main_columns: profile::MAIN_COLUMNS + spec.feature_columns,
        validation_columns: workbook::LISTING_HEADER.len(),
        exact_key_matches: exact,
        normalised_key_matches: exact + format_faults,
        cancer_rows_without_counterpart: plan.cancer.len() - exact - format_faults,
        images: plan.images.len(),
        dicom_files: written + copies,
        jpg_files: written + copies,
        patients: plan.patients.len(),
        studies: plan.studies.len(),
    };
    debug_assert_eq!(counts.exact_key_matches, spec.exact_matches());
    GroundTruth {
        generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
        profile: opts.profile.name().into(),
        seed: opts.seed,
        counts,
        faults,
        images,
    }
}

fn round1(v: f32) -> f32 {
    (v * 10.0).round() / 10.0
}

/// The data manifest of a generated cohort (checksums filled in from the files).
fn cohort_manifest(opts: &SynthOptions, out: &Path) -> Result<Manifest> {
    let table = |id: &str, name: &str| -> Result<Table> {
        Ok(Table {
            id: id.into(),
            path: name.into(),
            sha256: Some(crate::hash::sha256_file(&out.join(name))?),
        })
    };
    let sheet = |name: &str, class: &str, root: &str| Sheet {
        table: "combined".into(),
        name: name.into(),
        label: Some(LabelRule::Constant {
            class: class.into(),
        }),
        image_root: Some(root.into()),
    };
    let root = |id: &str, path: String| ImageRoot {
        id: id.into(),
        path: path.into(),
        formats: vec!["dcm".into(), "jpg".into()],
        file_column: Some("InputFileName".into()),
        match_by: Default::default(),
        roi_column: None,
        label: None,
        patient_folder: None,
        image_size: None,
    };
    Ok(Manifest {
        schema: manifest::SCHEMA,
        allow_outside: false,
        cohort: Cohort {
            name: format!("synthetic-{}", opts.profile.name()),
            description: "Synthetic hospital export shaped like seed 001: two workbooks, DICOM and JPG image folders, planted faults listed in ground_truth.json".into(),
            licence: "CC0-1.0 (generated; no real patient data)".into(),
            provenance: format!(
                "mammolab {} synth --profile {} --seed {}",
                env!("CARGO_PKG_VERSION"),
                opts.profile.name(),
                opts.seed
            ),
        },
        tables: vec![table("combined", COMBINED)?, table("validation", LISTING)?],
        sheets: vec![
            sheet("Cancer", "cancer", "cancer_images"),
            sheet("Non-Cancer", "normal", "non_cancer_images"),
        ],
        patient: None,
        key: Some(Key {
            columns: workbook::KEY_COLUMNS.iter().map(|s| s.to_string()).collect(),
            separator: "-".into(),
        }),
        merge: Some(Merge {
            sheet: "Cancer".into(),
            listing: "validation".into(),
            listing_sheet: workbook::LISTING_SHEET.into(),
            path_column: Some("AbsolutePath".into()),
        }),
        sources: vec![],
        image_roots: vec![
            root("cancer_images", format!("{ROOT}/Cancer")),
            root("non_cancer_images", format!("{ROOT}/Non-Cancer")),
        ],
        split: None,
        classes: Some(ClassList {
            names: Some(vec!["normal".into(), "cancer".into()]),
            positive: Some("cancer".into()),
        }),
        synth: Some(SynthInfo {
            profile: opts.profile.name().into(),
            seed: opts.seed,
            generator: format!("mammolab {}", env!("CARGO_PKG_VERSION")),
            truth: TRUTH.into(),
            truth_sha256: Some(crate::hash::sha256_file(&out.join(TRUTH))?),
        }),
        base_dir: out.to_path_buf(),
        source: out.join(MANIFEST),
    })
}

fn dir_size(dir: &Path) -> Result<(usize, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        if entry.file_name() == crate::outlock::LOCK_NAME {
            continue; // the writer's own lock, gone when generate returns
        }
        let meta = entry.metadata().at(entry.path())?;
        if meta.is_dir() {
            let (f, b) = dir_size(&entry.path())?;
            files += f;
            bytes += b;
        } else {
            files += 1;
            bytes += meta.len();
        }
    }
    Ok((files, bytes))
}
