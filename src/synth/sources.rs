//! Seed 002's cohort as it is assembled from three downloads: the CBIS-DDSM, INbreast and
//! mini-MIAS twins side by side (`cbis-ddsm/`, `inbreast/`, `mini-mias/`, each with its own
//! `manifest.toml`) and `manifest.toml` (the `data-manifests/three-sources.toml` template
//! with the three manifests' checksums) joining them in three classes. CBIS-DDSM holds no
//! normal films, as in the downloads: normal comes from INbreast and mini-MIAS only.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::cbis::{self, CbisOptions, CbisSummary};
use super::inbreast::{self, InbreastSummary};
use super::mias::{self, MiasSummary};
use super::TwinOptions;
use super::MANIFEST;
use crate::error::Result;

/// The `synth --profile` name.
pub const PROFILE: &str = "three-sources";
/// The manifest template the cohort's manifest is made from.
pub const TEMPLATE: &str = include_str!("../../data-manifests/three-sources.toml");
/// The sources' folders, in the template's order.
pub const FOLDERS: [&str; 3] = ["cbis-ddsm", "inbreast", "mini-mias"];

/// What [`generate`] wrote: each twin's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourcesSummary {
    /// The output folder.
    pub out: PathBuf,
    /// `three-sources-ci` or `three-sources-default`.
    pub profile: String,
    /// The seed (each twin's).
    pub seed: u64,
    /// The CBIS-DDSM twin.
    pub cbis_ddsm: CbisSummary,
    /// The INbreast twin.
    pub inbreast: InbreastSummary,
    /// The mini-MIAS twin.
    pub mini_mias: MiasSummary,
}

/// Write the three twins at `opts`' scale and seed into `out` and the manifest joining
/// them (`opts.overwrite` replaces a cohort already there: only the files `synth` writes).
pub fn generate(opts: &TwinOptions, out: &Path) -> Result<SourcesSummary> {
    let _lock = crate::outlock::OutLock::folder(out)?;
    super::prepare_out(out, opts.overwrite, &[MANIFEST], &FOLDERS)?;
    let (scale, seed) = (opts.scale, opts.seed);
    let cbis_ddsm = cbis::generate(
        &CbisOptions::of(TwinOptions::new(scale)?.with_seed(seed)),
        &out.join(FOLDERS[0]),
    )?;
    let twin = TwinOptions::new(scale)?.with_seed(seed);
    let inbreast = inbreast::generate(&twin, &out.join(FOLDERS[1]))?;
    let mini_mias = mias::generate(&twin, &out.join(FOLDERS[2]))?;
    let m = opts.manifest(TEMPLATE, PROFILE, out)?;
    crate::outlock::write_atomic(&out.join(MANIFEST), m.to_toml_string()?.as_bytes())?;
    Ok(SourcesSummary {
        out: out.to_path_buf(),
        profile: opts.name(PROFILE),
        seed,
        cbis_ddsm,
        inbreast,
        mini_mias,
    })
}
